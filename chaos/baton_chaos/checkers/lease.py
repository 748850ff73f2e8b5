"""Checks the lease workload (HISTORY.md, "lease: fenced counter"): the harness's fenced
store never accepts a token lower than one it accepted, tokens are unique and grow in real
time, no increment of the counter is lost, and no two clients believe they hold one name
at once. The last is what a lease promises; the others are how its breaking shows.

On a Sentinel group a renewal is not WAITed for (a grant is, redis/durable_scripts.hpp): a
failover may lose a renewal acknowledged in its window, and Redis then keeps the earlier
expiry. So a renewal's promise made in a failover window does not count against a later
holder; the acquire's promise, and renewals outside failover windows, count as ever."""

from collections import defaultdict

from .common import (INF, LossWindows, Verdict, collect, completion_order,
                     earlier_best, failover_windows, fmt_t, integer, label, number, value_of)

OP_FS = ("acquire", "renew", "release", "read", "write")
EVENT_FS = ("abandon",)
FENCE = "fenced store monotonic"
UNIQUE = "unique tokens"
GROWTH = "tokens grow in real time"
INCREMENT = "no lost increment"
OVERLAP = "overlapping holders"


def check(history, faults, config):
    load = collect(history, "lease", EVENT_FS)
    verdict = Verdict("lease", ("grants", "renewals", "releases", "reads", "writes",
                                "store_refused", "abandons", "unknown", "malformed",
                                "incomplete"))
    if not load:
        verdict.skip("no lease operations")
        return verdict.result()
    for key, fs in (("grants", ("acquire",)), ("renewals", ("renew",)),
                    ("releases", ("release",)), ("reads", ("read",)), ("writes", ("write",))):
        verdict.count(key, sum(1 for op in load.of(*fs) if op.ok))
    verdict.count("store_refused", sum(1 for op in load.of("read", "write") if op.type == "fail"))
    verdict.count("abandons", len(load.events_of("abandon")))
    verdict.count("unknown", load.unknown(OP_FS, EVENT_FS))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    verdict.measured["same_token_regrants"] = 0
    verdict.measured["refused_while_believed"] = sum(
        1 for op in load.of("read", "write") if refused_while_believed(op))
    # Clock faults do not exempt overlaps: a belief is measured on the harness's clock from
    # the client's invoke, and validity_ms is at most ttl - drift minus the elapsed time the
    # daemon measured, so a daemon whose clock is stepped or skewed can only shorten it.
    ops_of, abandons_of = defaultdict(list), defaultdict(list)
    for op in load.ops:
        if op.ident("name") is not None:
            ops_of[str(op.ident("name"))].append(op)
    for event in load.events_of("abandon"):
        abandons_of[str(value_of(event).get("name"))].append(event)
    losses, exempt = LossWindows(faults), 0
    failovers = failover_windows(faults)
    if failovers:
        verdict.measured["renewals_in_failover"] = 0
    for name, ops in sorted(ops_of.items()):
        grants = [op for op in ops if op.f == "acquire" and op.ok and token_of(op) is not None]
        check_store(verdict, name, ops)
        check_unique(verdict, name, grants)
        check_growth(verdict, name, grants)
        check_increments(verdict, name, ops)
        exempt += check_overlaps(verdict, name, ops, grants, abandons_of[name], losses,
                                 failovers)
    if exempt:
        verdict.skip(f"{OVERLAP}: {exempt} overlapping pair(s) exempt, granted on either "
                     "side of a data-loss window")
    verdict.skip_counted("renewals_in_failover", OVERLAP,
                         "overlapping pair(s) exempt, the earlier belief resting on a renewal "
                         "acknowledged in a failover window (not WAITed for)")
    return verdict.result()


def token_of(op):
    return integer(op.result.get("token", op.args.get("token")))


def refused_while_believed(op):
    """A store refusal of a client that still believed it held the lease."""
    safe = number(op.args.get("safe_until"))
    return op.f in ("read", "write") and op.type == "fail" and safe is not None and op.t0 < safe


def regrant(a, b):
    """The same client taking the name again on its connection keeps the token (API.md,
    LEASE ACQUIRE): one grant continued, not two."""
    return a.process == b.process and a.node == b.node and token_of(a) == token_of(b)


def check_store(verdict, name, ops):
    highest = None
    for op in completion_order(o for o in ops if o.f in ("read", "write") and o.ok):
        token = token_of(op)
        if token is None:
            continue
        if highest is not None and token < token_of(highest):
            verdict.violate(FENCE, f"the store of '{name}' accepted {op.describe()} with token "
                            f"{token} after accepting {highest.describe()} with token "
                            f"{token_of(highest)}", [highest, op])
        elif highest is None or token > token_of(highest):
            highest = op


def check_unique(verdict, name, grants):
    first = {}
    for op in grants:
        earlier = first.setdefault(token_of(op), op)
        if earlier is op:
            continue
        if regrant(earlier, op):
            verdict.measured["same_token_regrants"] += 1
        else:
            verdict.violate(UNIQUE, f"'{name}' was granted token {token_of(op)} twice: "
                            f"{earlier.describe()} and {op.describe()}", [earlier, op])


def check_growth(verdict, name, grants):
    """Every grant completed before another was asked for must carry a lower token."""
    for op, best in earlier_best(grants, grants, token_of):
        if best is None or token_of(op) > token_of(best):
            continue
        if token_of(op) == token_of(best) and regrant(best, op):
            continue
        verdict.violate(GROWTH, f"'{name}': {op.describe()} got token {token_of(op)}, not "
                        f"above token {token_of(best)} of {best.describe()}, granted before "
                        "it was asked for", [best, op])


def check_increments(verdict, name, ops):
    previous, expected = None, 1
    for op in completion_order(o for o in ops if o.f == "write" and o.ok):
        value = integer(op.result.get("value", op.args.get("value")))
        if value is None:
            continue
        if value != expected:
            if previous is None:
                message = (f"the first accepted write of '{name}' stored {value}, not 1: "
                           f"{op.describe()}")
            else:
                what = "an increment was lost" if value < expected else "a write was skipped"
                message = (f"'{name}': {op.describe()} stored {value} (token {token_of(op)}) "
                           f"right after {previous.describe()} stored {expected - 1} (token "
                           f"{token_of(previous)}): {what}")
            verdict.violate(INCREMENT, message, [o for o in (previous, op) if o])
        previous, expected = op, value + 1


def check_overlaps(verdict, name, ops, grants, abandons, losses, failovers=None):
    """Beliefs of different tokens must not overlap; returns the pairs exempt by data loss.

    A belief is a chain of promises: the acquire's, then each renewal's, each from its ok
    until its safe end (the invoke time plus validity_ms), all cut at the holder's release or
    abandon. Two promises overlap legitimately only if Redis lost its data between the moments
    they were granted; a promise granted after the loss (a renewal included) is a new one."""
    renews, ends = defaultdict(list), defaultdict(list)
    for op in ops:
        if op.f == "renew" and op.ok:
            renews[op.process, token_of(op)].append(op)
        elif op.f == "release":
            ends[op.process, token_of(op)].append((op.t0, op.invoke))
    for event in abandons:
        ends[label(event.get("process")), integer(value_of(event).get("token"))].append(
            (number(event.get("t")), event))
    promises = sorted((p for op in grants for p in belief(op, renews, ends)),
                      key=lambda p: p[0])
    refused = [op for op in ops if refused_while_believed(op)]
    active, exempt = [], 0
    for promise in promises:
        start, end, grant, by, ender = promise
        active = [a for a in active if a[1] > start]
        for a_start, a_end, a_grant, a_by, a_ender in active:
            if token_of(a_grant) == token_of(grant):
                continue
            if losses.touching(min(a_by.t0, by.t0), max(a_by.t1, by.t1)):
                exempt += 1
                continue
            if failovers and a_by.f == "renew" and failovers.touching(a_by.t0, a_by.t1):
                verdict.measured["renewals_in_failover"] += 1
                continue
            both = (start, min(a_end, end))  # active ones started no later than this one
            seen = [op for op in refused if both[0] <= op.t0 <= both[1]
                    and token_of(op) in (token_of(a_grant), token_of(grant))]
            verdict.violate(OVERLAP, (
                f"'{name}': {a_grant.process} on {a_grant.node} believed it held token "
                f"{token_of(a_grant)} from {fmt_t(a_start)} to {fmt_t(a_end)} (by its "
                f"{a_by.f}) while {grant.process} on {grant.node} believed it held token "
                f"{token_of(grant)} from {fmt_t(start)} to {fmt_t(end)} (by its {by.f}; "
                f"{both[1] - both[0]:.3f}s together); the store refused {len(seen)} "
                f"operation(s) of a believer meanwhile"),
                [a_grant, grant] + [o for o in (a_by, by) if o not in (a_grant, grant)]
                + [e for e in (a_ender, ender) if e] + seen)
        active.append(promise)
    return exempt


def belief(grant, renews, ends):
    """The promises of one acquire ok: (start, end, grant, the op that promised, the event
    that ended the belief), from the acquire and from each renewal of its token by its
    holder before the belief was cut at a release or abandon."""
    key = (grant.process, token_of(grant))
    cut, cut_event = min((end for end in ends[key] if end[0] >= grant.t0),
                         key=lambda end: end[0], default=(INF, None))
    out = []
    for op in [grant] + [r for r in renews[key] if grant.t0 <= r.t0 < cut]:
        safe = safe_until(op)
        if safe is None:
            continue
        end, ender = (cut, cut_event) if cut < safe else (safe, None)
        if end > op.t1:
            out.append((op.t1, end, grant, op, ender))
    return out


def safe_until(op):
    validity = number(op.result.get("validity_ms"))
    if validity is None:
        validity = number(op.args.get("ttl_ms"))  # safe validity never exceeds the TTL
    return None if validity is None else op.t0 + validity / 1000
