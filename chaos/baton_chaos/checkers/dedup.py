"""Checks the dedup workload (HISTORY.md, "dedup"): once a key is done, every later claim
gets that result, and no two callers are told "new" while the first one's claim still lasts.
Either would run the guarded work twice. Claims live in Redis, so pairs spanning a data-loss
window are exempt.

On a Sentinel group a claim is not WAITed for (only the result is, redis/durable_scripts.hpp):
a claim acknowledged in a failover window may be lost, so a second `new` after it is not held
against it. Claims acknowledged outside one, and every result, are judged as ever."""

from collections import defaultdict

from .common import INF, LossWindows, Verdict, collect, failover_windows, fmt_t, label, number

CHANGED = "result changed after done"
TWICE = "two new claims at once"


def check(history, faults, config):
    load = collect(history, "dedup", ("disconnect",))
    verdict = Verdict("dedup", ("claims", "new_claims", "dones", "disconnects", "unknown",
                                "malformed", "incomplete"))
    if not load:
        verdict.skip("no dedup operations")
        return verdict.result()
    claims = [op for op in load.of("claim") if op.ok]
    verdict.count("claims", len(claims))
    verdict.count("new_claims", sum(1 for op in claims if op.result.get("status") == "new"))
    verdict.count("dones", sum(1 for op in load.of("done") if op.ok))
    verdict.count("disconnects", len(load.events_of("disconnect")))
    verdict.count("unknown", load.unknown(("claim", "done"), ("disconnect",)))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    losses = LossWindows(faults)
    failovers = failover_windows(faults)
    verdict.measured.update(exempt_after_done=0, exempt_claim_pairs=0)
    if failovers:
        verdict.measured["exempt_failover_claims"] = 0
    by_key = defaultdict(list)
    for op in load.ops:
        if op.ident("key") is not None:
            by_key[str(op.ident("key"))].append(op)
    disconnects = defaultdict(list)
    for event in load.events_of("disconnect"):
        disconnects[label(event.get("process"))].append(event)
    for key, ops in sorted(by_key.items()):
        check_done(verdict, key, ops, losses)
        check_claims(verdict, key, ops, disconnects, losses, failovers)
    verdict.skip_counted("exempt_after_done", CHANGED,
                         "claim(s) exempt, a data-loss window lies between the done and the claim")
    verdict.skip_counted("exempt_claim_pairs", TWICE,
                         "pair(s) of new claims exempt, a data-loss window lies between or within "
                         "them")
    verdict.skip_counted("exempt_failover_claims", TWICE,
                         "pair(s) of new claims exempt, the first acknowledged in a failover "
                         "window (a claim is not WAITed for)")
    return verdict.result()


def result_of(op):
    return op.result.get("result", op.args.get("result"))


def check_done(verdict, key, ops, losses):
    dones = [op for op in ops if op.f == "done" and op.ok]
    for claim in (op for op in ops if op.f == "claim" and op.ok):
        for done in dones:
            if done.t1 >= claim.t0:
                continue
            if losses.touching(done.t0, claim.t1):
                verdict.measured["exempt_after_done"] += 1
                continue
            status, result = claim.result.get("status"), claim.result.get("result")
            if status != "done" or result != result_of(done):
                verdict.violate(CHANGED, f"key '{key}': {claim.describe()} answered {status} "
                                f"with result {result!r} after {done.describe()} had stored "
                                f"{result_of(done)!r}", [done, claim])


def check_claims(verdict, key, ops, disconnects, losses, failovers=None):
    grants = [op for op in ops if op.f == "claim" and op.ok and op.result.get("status") == "new"]
    for first in grants:
        end, ender = claim_end(first, ops, disconnects)
        for second in grants:
            if second is first or not (second.t0 > first.t1 and second.t1 < end):
                continue
            if losses.touching(first.t0, second.t1):
                verdict.measured["exempt_claim_pairs"] += 1
                continue
            if failovers and failovers.touching(first.t0, first.t1):
                verdict.measured["exempt_failover_claims"] += 1
                continue
            verdict.violate(TWICE, f"key '{key}': {first.describe()} was told new, and its "
                            f"claim lasted until {fmt_t(end)}, yet {second.describe()} was "
                            "told new too", [first, second] + ([ender] if ender else []))


def claim_end(grant, ops, disconnects):
    """When a new claim certainly still held: until its TTL ran out, or earlier when its
    process sent DONE or closed its connection. Returns (time, the event that ended it)."""
    ttl = number(grant.args.get("ttl_ms"))
    if ttl is None:
        ttl = number(grant.result.get("ttl_ms"))
    ends = [(grant.t0 + ttl / 1000 if ttl is not None else INF, None)]
    ends += [(op.t0, op.invoke) for op in ops
             if op.f == "done" and op.process == grant.process and op.t0 >= grant.t0]
    ends += [(event["t"], event) for event in disconnects.get(grant.process, ())
             if event["t"] >= grant.t0]
    return min(ends, key=lambda end: end[0])
