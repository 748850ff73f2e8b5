"""Checks the rate workload (HISTORY.md, "rate"): no span shorter than a window admits more
than the algorithm allows, degraded answers stay within their failure mode's bound, and a
run without faults never degrades. An admission happened somewhere inside its operation, so
only sets whose operations all fit inside one window's span are counted.

On a Sentinel group rate counters are not WAITed for (redis/durable_scripts.hpp): a failover
may forget the hits the promoted replica had not received, so Redis may admit up to a bound
again. Sets touching a failover window are judged against twice the bound instead (the
bound before the forgetting, and again after; failovers are more than a window apart)."""

from bisect import bisect_left
from collections import defaultdict

from .common import LossWindows, Verdict, collect, failover_windows, fmt_t, integer, number, section

OVER = "over-admitted"
OVER_MODE = "over-admitted beyond failure mode bound"
DEGRADED = "degraded without faults"
OVER_FAILOVER = "over-admitted across a failover"
# Admissions within any span shorter than the window, per limit L (API.md, "Rate limits").
BOUND_FACTOR = {"sliding_log": 1, "gcra": 2, "sliding_window": 2, "fixed_window": 2}
DEGRADED_SOURCES = ("open", "closed", "local")


def check(history, faults, config):
    load = collect(history, "rate")
    verdict = Verdict("rate", ("checks", "admissions", "degraded", "unknown_policy",
                               "unknown", "malformed", "incomplete"))
    if not load:
        verdict.skip("no rate operations")
        return verdict.result()
    checks = [op for op in load.of("check") if op.ok]
    verdict.count("checks", len(checks))
    verdict.count("admissions", sum(1 for op in checks if admitted(op)))
    verdict.count("degraded", sum(1 for op in checks if degraded(op)))
    verdict.count("unknown", load.unknown(("check",)))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    if not faults:
        for op in checks:
            if degraded(op):
                verdict.violate(DEGRADED, f"{op.describe()} was answered by the failure mode "
                                f"'{op.result.get('source')}' in a run without faults", [op])
    listed = section(config, "rate").get("policies")
    policies = {str(p.get("name")): p for p in listed if isinstance(p, dict)
                and p.get("name") is not None} if isinstance(listed, list) else {}
    if not policies:
        verdict.skip(f"{OVER}: no rate policies in the config, so no bounds to check")
    daemons = len(config.get("daemons") or ()) if isinstance(config, dict) and isinstance(
        config.get("daemons"), list) else 1
    losses = LossWindows(faults)
    if losses:
        verdict.skip(f"{OVER}: sets of admissions touching a data-loss window are not counted")
    failovers = failover_windows(faults)
    if failovers:
        verdict.skip(f"{OVER}: sets of admissions touching a failover window are judged by "
                     f"'{OVER_FAILOVER}' against twice the bound: a failover may forget hits "
                     "not yet on the promoted replica")
    by_key = defaultdict(list)
    for op in checks:
        if admitted(op) and op.ident("policy") is not None:
            by_key[str(op.ident("policy")), str(op.ident("key"))].append(op)
    verdict.measured["windows"] = {}
    for (policy, key), ops in sorted(by_key.items()):
        if policy not in policies:
            verdict.count("unknown_policy", len(ops))
            continue
        check_key(verdict, policies[policy], key, ops, losses, daemons, failovers)
    if verdict.checked["unknown_policy"]:
        verdict.skip(f"{OVER}: {verdict.checked['unknown_policy']} admission(s) of policies "
                     "missing from the config")
    return verdict.result()


def admitted(op):
    return integer(op.result.get("allowed")) == 1


def degraded(op):
    return integer(op.result.get("degraded")) == 1 or op.result.get("source") in DEGRADED_SOURCES


def cost_of(op):
    cost = integer(op.args.get("cost"))
    return cost if cost and cost > 0 else 1


def check_key(verdict, policy, key, ops, losses, daemons=1, failovers=None):
    name, algorithm = str(policy.get("name")), policy.get("algorithm", "gcra")
    mode = policy.get("failure_mode", "open")
    windows = policy.get("windows")
    for window in windows if isinstance(windows, list) else ():
        if not isinstance(window, dict):
            continue
        width, limit = number(window.get("window_ms")), integer(window.get("limit"))
        if not width or limit is None:
            continue
        bound = BOUND_FACTOR.get(algorithm, 2) * limit
        # Closed answers never admit. Local ones: each daemon runs GCRA (bound factor 2) on
        # its share, max(1, limit // daemons) or local_share (actors/rate/local_limiter.cpp).
        share = integer(policy.get("local_share")) or 0
        share = min(share, limit) if share > 0 else max(1, limit // max(daemons, 1))
        faulted = {"closed": bound, "local": bound + 2 * share * max(daemons, 1)}.get(mode)
        by_redis = [op for op in ops if op.result.get("source") == "redis"]
        strict = losses.merged(failovers) if failovers else losses
        from_redis = largest_definite(by_redis, width / 1000, strict)
        including = largest_definite(ops, width / 1000, strict)
        label = f"{name}/{width:g}ms"
        seen = verdict.measured["windows"].setdefault(label, {
            "policy": name, "window_ms": window.get("window_ms"), "limit": limit,
            "algorithm": algorithm, "bound": bound, "failure_mode": mode,
            "bound_under_faults": "unbounded" if faulted is None else faulted,
            "max_redis": 0, "max_including_degraded": 0, "overshoot": 0})
        seen["max_redis"] = max(seen["max_redis"], from_redis[0])
        seen["max_including_degraded"] = max(seen["max_including_degraded"], including[0])
        seen["overshoot"] = max(0, seen["max_including_degraded"] - bound)
        where = f"policy '{name}' key '{key}', window {width:g} ms ({algorithm}, limit {limit})"
        if from_redis[0] > bound:
            report(verdict, OVER, f"{where}: Redis admitted", from_redis, bound)
        if faulted is not None and including[0] > faulted:
            report(verdict, OVER_MODE, f"{where}, failure mode {mode}: Redis and the failure "
                   "mode together admitted", including, faulted)
        if failovers:
            across = largest_definite(by_redis, width / 1000, losses)
            across_all = largest_definite(ops, width / 1000, losses)
            seen["max_across_failover"] = max(seen.get("max_across_failover", 0), across[0])
            seen["bound_across_failover"] = 2 * bound
            if across[0] > 2 * bound:
                report(verdict, OVER_FAILOVER, f"{where}: across a failover Redis admitted",
                       across, 2 * bound)
            if faulted is not None and across_all[0] > faulted + bound:
                report(verdict, OVER_FAILOVER, f"{where}, failure mode {mode}: across a "
                       "failover Redis and the failure mode together admitted", across_all,
                       faulted + bound)


def report(verdict, rule, what, found, bound):
    total, members = found
    first = min(members, key=lambda op: op.t0)
    last = max(members, key=lambda op: op.t1)
    verdict.violate(rule, f"{what} {total} within {last.t1 - first.t0:.3f}s (from "
                    f"{fmt_t(first.t0)} to {fmt_t(last.t1)}), bound {bound}; first "
                    f"{first.describe()}, last {last.describe()}", [first, last])


def largest_definite(ops, width, losses):
    """(cost, members) of the largest set of admissions that certainly happened within a
    span shorter than width: all invoked at or after the first one's invoke and completed
    before it + width. The span is also cut at the next data-loss window, and no set starts
    inside one, so no set touches a loss."""
    ops = sorted(ops, key=lambda op: op.t0)
    starts = [op.t0 for op in ops]
    ends = sorted({op.t1 for op in ops})
    tree = Fenwick(len(ends))
    best, best_at, index = 0, None, len(ops)
    while index > 0:  # anchors from the latest, inserting all of one invoke time first
        low = bisect_left(starts, starts[index - 1])
        for j in range(low, index):
            tree.add(bisect_left(ends, ops[j].t1), cost_of(ops[j]))
        for i in range(low, index):
            cutoff = span_end(starts[i], width, losses)
            total = tree.prefix(bisect_left(ends, cutoff)) if cutoff > starts[i] else 0
            if total > best:
                best, best_at = total, (i, cutoff)
        index = low
    if best_at is None:
        return 0, []
    i, cutoff = best_at
    low, high = bisect_left(starts, starts[i]), bisect_left(starts, cutoff)
    return best, [op for op in ops[low:high] if op.t1 < cutoff]


def span_end(start, width, losses):
    """Where a set anchored at start must end: width later, or where a loss begins."""
    end = start + width
    for window in losses.windows:
        if window.start <= start <= window.end:
            return start  # anchored inside a loss: no set
        if start < window.start < end:
            end = window.start
    return end


class Fenwick:
    """Prefix sums over positions 0..n-1 in O(log n): admissions completed before a time."""

    def __init__(self, n):
        self.tree = [0] * (n + 1)

    def add(self, position, amount):
        position += 1
        while position < len(self.tree):
            self.tree[position] += amount
            position += position & -position

    def prefix(self, count):
        """The sum over positions below count."""
        total = 0
        while count > 0:
            total += self.tree[count]
            count -= count & -count
        return total
