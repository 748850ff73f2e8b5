"""Checks the breaker workload (HISTORY.md, "breaker"): no daemon admits a call while the
breaker it answers about is open (outside its probe); a daemon's generations never go back
(within one life of its process: a restarted daemon starts from what Redis says); and while
the fleet can coordinate, one half-open period admits one probe at a time across the fleet
(a second only after the first one's probe timeout gave it back; a host open on its own data,
`fleet` 0, probes on its own)."""

from collections import defaultdict

from .common import Verdict, collect
from .fields import number


def num(x, default):
    value = number(x)
    return default if value is None else value

ADMITTED_OPEN = "admitted while open"
BACKWARDS = "generation went back"
TWO_PROBES = "two probes at once"

#: Faults after which a daemon's process may be a new one (its generations start afresh).
#: clock-skew restarts its daemon twice (injector.py: a clock's rate cannot change under a
#: running process); mix.clock's seed 1 met a breaker answering generation 0 after it.
RESTARTS = {"kill", "rolling-restart", "kill-mid-drain", "drain", "drain-redis-paused",
            "clock-skew"}


def check(history, faults, config):
    load = collect(history, "breaker", ("disconnect",))
    verdict = Verdict("breaker", ("checks", "admitted", "probes", "degraded", "reports",
                                  "malformed", "incomplete"))
    if not load:
        verdict.skip("no breaker operations")
        return verdict.result()
    checks = [op for op in load.of("check") if op.ok]
    verdict.count("checks", len(checks))
    verdict.count("admitted", sum(1 for op in checks if op.result.get("allowed") == 1))
    verdict.count("probes", sum(1 for op in checks if op.result.get("probe") == 1))
    verdict.count("degraded", sum(1 for op in checks if op.result.get("degraded") == 1))
    verdict.count("reports", sum(1 for op in load.of("report") if op.ok))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)
    for op in checks:
        check_answer(verdict, op)
    restarts = restart_windows(faults)
    by_node = defaultdict(list)
    for op in checks:
        by_node[op.node].append(op)
    verdict.measured.update(exempt_restarts=0, exempt_probe_pairs=0)
    for node, ops in sorted(by_node.items()):
        check_generations(verdict, node, ops, restarts.get(node, []) + restarts.get("*", []))
    probe_timeout = num((config or {}).get("breaker", {}).get("probe_timeout_ms"), 1000) / 1000
    check_probes(verdict, checks, probe_timeout, faults)
    verdict.skip_counted("exempt_restarts", BACKWARDS,
                         "pair(s) of answers exempt, the daemon may have restarted between them")
    verdict.skip_counted("exempt_probe_pairs", TWO_PROBES,
                         "pair(s) of probes exempt, a fault lay between or within them")
    return verdict.result()


def check_answer(verdict, op):
    """An answer admits a call only in a state that admits it."""
    r = op.result
    state, allowed, probe = r.get("state"), r.get("allowed"), r.get("probe")
    admits = state in ("closed", "forced-closed") or (state == "half-open" and probe == 1)
    if allowed == 1 and not admits:
        verdict.violate(ADMITTED_OPEN, f"{op.describe()} admitted a call in state {state} "
                        f"(probe {probe})", [op])
    if allowed == 0 and state in ("closed", "forced-closed"):
        verdict.violate(ADMITTED_OPEN, f"{op.describe()} refused a call in state {state}", [op])


def restart_windows(faults):
    windows = defaultdict(list)
    for fault in faults or ():
        if not isinstance(fault, dict) or fault.get("kind") not in RESTARTS:
            continue
        target = "*" if fault.get("kind") == "rolling-restart" else fault.get("target")
        windows[target].append((num(fault.get("t_start"), float("-inf")),
                                num(fault.get("t_healed"), float("inf"))))
    return windows


def check_generations(verdict, node, ops, restarts):
    """In real-time order (one answered before the next was asked), never backwards."""
    def restart_between(a, b):
        return any(lo <= b.t1 and hi >= a.t0 for lo, hi in restarts)

    def gen(op):
        return op.result.get("generation")

    by_end = sorted(ops, key=lambda o: o.t1)
    done = 0
    best = None  # of the answers given before this one was asked: the highest of this life
    for op in sorted(ops, key=lambda o: o.t0):
        while done < len(by_end) and by_end[done].t1 < op.t0:
            candidate = by_end[done]
            done += 1
            if best is None or gen(candidate) >= gen(best) or restart_between(best, candidate):
                best = candidate
        if best is None or gen(op) >= gen(best):
            continue
        if restart_between(best, op):
            verdict.measured["exempt_restarts"] += 1
            continue
        verdict.violate(BACKWARDS, f"{node}: {op.describe()} answered generation {gen(op)} "
                        f"after {best.describe()} answered {gen(best)}", [best, op])


def check_probes(verdict, checks, probe_timeout, faults):
    """Probes of one half-open period (its generation) on different daemons, answered without
    `degraded`, must lie a probe timeout apart: the first one's lease ran out first."""
    # The faults that can cut a daemon off the fleet's probe lease: on Redis, on every daemon,
    # or on one of the two daemons involved.
    busy = [(num(f.get("t_start"), float("-inf")), num(f.get("t_healed"), float("inf")),
             f.get("target")) for f in faults or () if isinstance(f, dict)]
    # Probes of a period the fleet decided (fleet 1); a host open on its own data (it tripped
    # while Redis was out of reach) probes on its own by design.
    probes = [op for op in checks if op.result.get("probe") == 1 and op.result.get("degraded") == 0
              and op.result.get("fleet", 1) == 1]
    by_generation = defaultdict(list)
    for op in probes:
        by_generation[op.result.get("generation")].append(op)
    for gen, ops in by_generation.items():
        ops.sort(key=lambda o: o.t0)
        for first, second in zip(ops, ops[1:]):
            if first.node == second.node or second.t0 - first.t1 >= probe_timeout:
                continue
            involved = {first.node, second.node, "redis", "all", None}
            if any(lo <= second.t1 and hi >= first.t0 and target in involved
                   for lo, hi, target in busy):
                verdict.measured["exempt_probe_pairs"] += 1
                continue
            verdict.violate(TWO_PROBES, f"generation {gen}: {first.describe()} and "
                            f"{second.describe()} were both admitted as the probe", [first, second])
