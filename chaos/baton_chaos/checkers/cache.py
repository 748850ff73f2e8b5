"""Checks the cache workload (HISTORY.md, "cache"): once a write of a key has completed, a read
of that key begun later answers that write's number or a later one. A read answered by Redis
must do so at once; one answered from a near cache within `near_bound_s` (the time a daemon
may take to read the invalidation: normally well under a millisecond, up to the subscription's
dead-connection limit when it went silent). Exempt, and counted: reads that say they are
degraded (Redis could not be asked), reads on a daemon a fault stopped or starved between the
write and the read (it reads the invalidation only when it runs), and what spans a data-loss
window."""

from collections import defaultdict

from .common import LossWindows, Verdict, collect, earlier_best, integer, number, section

STALE = "read older than a completed write"
# Faults on a daemon (its process, its CPU, its link to Redis) that can hold back its reading
# of the invalidation channel; the others' reads are judged as ever.
DAEMON_FAULTS = ("pause", "cpu-starve", "kill", "rolling-restart", "kill-mid-drain", "partition",
                 "slow", "lossy")


def check(history, faults, config):
    load = collect(history, "cache")
    verdict = Verdict("cache", ("sets", "gets", "near", "degraded", "unknown", "malformed",
                                "incomplete"))
    if not load:
        verdict.skip("no cache operations")
        return verdict.result()
    sets = [op for op in load.of("set") if op.ok]
    gets = [op for op in load.of("get") if op.ok]
    verdict.count("sets", len(sets))
    verdict.count("gets", len(gets))
    verdict.count("near", sum(1 for op in gets if op.result.get("source") == "near"))
    verdict.count("degraded", sum(1 for op in gets if integer(op.result.get("degraded")) == 1))
    verdict.count("unknown", load.unknown(("set", "get")))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)
    bound = number(section(config, "cache").get("near_bound_s"))
    bound = 2.5 if bound is None else bound
    verdict.measured.update(near_bound_s=bound, exempt_degraded=0, exempt_daemon_fault=0,
                            exempt_data_loss=0, near_behind=0, near_behind_max_s=0.0)

    losses = LossWindows(faults)
    busy = [(number(f.get("t_start")), number(f.get("t_healed")), f.get("target"))
            for f in faults or () if isinstance(f, dict) and f.get("kind") in DAEMON_FAULTS]
    by_key = defaultdict(lambda: ([], []))
    for op in sets:
        by_key[str(op.ident("key"))][0].append(op)
    for op in gets:
        by_key[str(op.ident("key"))][1].append(op)
    # A set answered UNKNOWN (or never) may land late, after a later set: its value is then a
    # legal answer to reads that completed after it was sent.
    maybe = defaultdict(list)
    for op in load.of("set"):
        if op.type == "info":
            maybe[str(op.ident("key"))].append(op)
    for key, (key_sets, key_gets) in sorted(by_key.items()):
        near = [g for g in key_gets if g.result.get("source") == "near"]
        other = [g for g in key_gets if g.result.get("source") != "near"]
        # Measured, not judged: near reads begun after a write completed that still answered
        # an older number (within the bound), and by how long at most.
        for read, best in earlier_best(key_sets, near, lambda s: integer(s.args["value"])):
            got = integer(read.result.get("value"))
            if best is not None and got is not None and got < integer(best.args.get("value")):
                verdict.measured["near_behind"] += 1
                verdict.measured["near_behind_max_s"] = round(
                    max(verdict.measured["near_behind_max_s"], read.t0 - best.t1), 4)
        for group, slack in ((other, 0.0), (near, bound)):
            shifted = [_Shifted(s, slack) for s in key_sets]
            for read, best in earlier_best(shifted, group,
                                           lambda s: integer(s.op.args["value"])):
                if best is None:
                    continue
                wrote = integer(best.op.args.get("value"))
                got = integer(read.result.get("value"))
                if got is not None and wrote is not None and got >= wrote:
                    continue
                if any(integer(m.args.get("value")) == got and m.t0 <= read.t1
                       for m in maybe[key]):
                    continue
                if integer(read.result.get("degraded")) == 1:
                    verdict.measured["exempt_degraded"] += 1
                    continue
                # Only a near read waits on its daemon's reading of the channel: one Redis
                # answered must be current whatever the daemon went through.
                if slack > 0 and any(
                        lo is not None and hi is not None and lo <= read.t1 and hi >= best.op.t1
                        and target in (read.node, "all", None) for lo, hi, target in busy):
                    verdict.measured["exempt_daemon_fault"] += 1
                    continue
                if losses.touching(best.op.t0, read.t1):
                    verdict.measured["exempt_data_loss"] += 1
                    continue
                verdict.violate(STALE, f"key '{key}': {read.describe()} answered {got} "
                                f"({read.result.get('source')}), but {best.op.describe()} had "
                                f"written {wrote} at least {slack:g} s before it began",
                                [best.op, read])
    verdict.skip_counted("exempt_degraded", STALE, "read(s) exempt, answered degraded")
    verdict.skip_counted("exempt_daemon_fault", STALE,
                         "read(s) exempt, a fault stopped or starved the reading daemon")
    verdict.skip_counted("exempt_data_loss", STALE,
                         "read(s) exempt, a data-loss window lies between write and read")
    return verdict.result()


class _Shifted:
    """A write as earlier_best sees it: completed `slack` later than it did (a near-cache read
    must reflect it only from then on)."""

    def __init__(self, op, slack):
        self.op, self.t0, self.t1 = op, op.t0, op.t1 + slack

    def events(self):
        return self.op.events()
