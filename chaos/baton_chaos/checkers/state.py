"""Checks the state workload (HISTORY.md, "state"): counters incremented by compare-and-set.
An increment is acknowledged only if its IFVERSION matched, so no two acknowledged increments
of a key start from one version, and no value is reached twice; the final read holds every
acknowledged increment, and counts no more increments than were acknowledged or left unknown;
a read never falls behind an increment acknowledged before it began. STATE's writes are WAITed
for (redis/durable_scripts.hpp), so failovers exempt nothing; what spans a data-loss window is
exempt, and counted."""

from collections import defaultdict

from .common import LossWindows, Verdict, collect, earlier_best, integer

TWICE_FROM = "two increments from one version"
VALUE_TWICE = "one value reached twice"
LOST = "acknowledged increment lost"
COUNTED = "more increments than were made"
STALE = "read behind an acknowledged increment"
ONE_VALUE = "one version with two values"


def check(history, faults, config):
    load = collect(history, "state")
    verdict = Verdict("state", ("reads", "increments", "conflicts", "unknown_increments",
                                "finals", "unknown", "malformed", "incomplete"))
    if not load:
        verdict.skip("no state operations")
        return verdict.result()
    incrs = load.of("incr")
    verdict.count("reads", sum(1 for op in load.of("read") if op.ok))
    verdict.count("increments", sum(1 for op in incrs if op.ok))
    verdict.count("conflicts", sum(1 for op in incrs if op.type == "fail"))
    verdict.count("unknown_increments", sum(1 for op in incrs if op.type == "info"))
    verdict.count("finals", sum(1 for op in load.of("final") if op.ok))
    verdict.count("unknown", load.unknown(("read", "incr", "final")))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    losses = LossWindows(faults)
    verdict.measured["exempt_data_loss"] = 0
    by_key = defaultdict(list)
    for op in load.ops:
        if op.ident("key") is not None:
            by_key[str(op.ident("key"))].append(op)
    for key, ops in sorted(by_key.items()):
        check_key(verdict, key, ops, losses)
    verdict.skip_counted("exempt_data_loss", None,
                         "comparison(s) exempt, a data-loss window lies between or within them")
    return verdict.result()


def to_of(op):
    return integer(op.result.get("to"))


def value_read(op):
    return integer(op.result.get("value"))


def check_key(verdict, key, ops, losses):
    acked = [op for op in ops if op.f == "incr" and op.ok and to_of(op) is not None]

    def exempt(first, second):
        if losses.touching(min(first.t0, second.t0), max(first.t1, second.t1)):
            verdict.measured["exempt_data_loss"] += 1
            return True
        return False

    # A version names one write: whoever reads it, and the increment that wrote it, see one
    # value (a version that came back after a delete, or a resent write, would break this).
    seen = {}
    for op in ops:
        if not op.ok:
            continue
        if op.f in ("read", "final"):
            version, value = integer(op.result.get("version")), value_read(op)
        elif op.f == "incr":
            version, value = integer(op.result.get("new_version")), to_of(op)
        else:
            continue
        if version is None or value is None or version == 0:
            continue
        first = seen.setdefault(version, (value, op))
        if first[0] != value and not exempt(first[1], op):
            verdict.violate(ONE_VALUE, f"key '{key}': version {version} was {first[0]} for "
                            f"{first[1].describe()} and {value} for {op.describe()}",
                            [first[1], op])
    unknown = [op for op in ops if op.f == "incr" and op.type == "info"]
    reads = [op for op in ops if op.f in ("read", "final") and op.ok
             and value_read(op) is not None]

    for rule, ident in ((TWICE_FROM, lambda op: integer(op.args.get("version"))),
                        (VALUE_TWICE, to_of)):
        groups = defaultdict(list)
        for op in acked:
            groups[ident(op)].append(op)
        for same, group in sorted(groups.items(), key=lambda item: str(item[0])):
            for first, second in zip(group, group[1:]):
                if exempt(first, second):
                    continue
                what = (f"from version {same}" if rule == TWICE_FROM else f"to value {same}")
                verdict.violate(rule, f"key '{key}': {first.describe()} and "
                                f"{second.describe()} were both acknowledged {what}",
                                [first, second])

    for read, best in earlier_best(acked, reads, to_of, losses):
        if best is not None and value_read(read) < to_of(best):
            verdict.violate(STALE, f"key '{key}': {read.describe()} read {value_read(read)} "
                            f"after {best.describe()} had set {to_of(best)}", [best, read])

    finals = [op for op in reads if op.f == "final"]
    if not finals:
        return
    final = max(finals, key=lambda op: op.t0)
    value = value_read(final)
    for incr in acked:
        if incr.t1 < final.t0 and to_of(incr) > value and not exempt(incr, final):
            verdict.violate(LOST, f"key '{key}': {incr.describe()} set {to_of(incr)}, yet "
                            f"{final.describe()} read {value}", [incr, final])
    if value > len(acked) + len(unknown):
        if losses:
            verdict.measured["exempt_data_loss"] += 1
            return
        verdict.violate(COUNTED, f"key '{key}': {final.describe()} read {value}, but only "
                        f"{len(acked)} increments were acknowledged and {len(unknown)} left "
                        "unknown", [final])
