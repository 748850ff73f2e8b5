"""Checks that the fleet recovers after each fault heals: every daemon serves again (the
harness's prober says so) and every lease name can be taken again within what TTLs and
lock-delay allow. Safety checkers cannot see a fleet that stopped answering; this one can.
Recovery is measured from the last heal of the faults in effect when a fault healed.

For each Sentinel or cluster failover it also measures how long service stopped on each daemon
against how long the failover took (the issue's target: serving again within the failover
time + 1 s). On a cluster only the requests whose keys lie in the failed primary's slots count:
the other primaries serve on.
That is a measurement, printed with whether the target was met, not a rule: a loaded machine
can miss a second without anything being wrong."""

from collections import defaultdict

from .common import INF, Verdict, collect, fmt_t, number, section, value_of
from .slots import in_ranges, op_slot

NOT_SERVING = "daemon not serving after heal"
LEASE = "lease not takeable after heal"


def check(history, faults, config):
    probes = collect(history, "liveness", ("serving", "not-serving"))
    verdict = Verdict("liveness", ("faults", "probes", "lease_recoveries", "unknown",
                                   "malformed"))
    healed = [f for f in faults or ()
              if isinstance(f, dict) and number(f.get("t_healed")) is not None]
    if not healed:
        verdict.skip("no healed faults to recover from")
        return verdict.result()
    verdict.count("faults", len(healed))
    verdict.count("probes", len(probes.events_of("serving", "not-serving")))
    verdict.count("unknown", probes.unknown((), ("serving", "not-serving")))
    verdict.count("malformed", probes.malformed)

    limits = section(config, "liveness")
    serve_within = number(limits.get("serve_within_s")) or 10.0
    lease_within = number(limits.get("lease_within_s")) or lease_bound(config, history, verdict)
    ends = [number(e.get("t")) for e in history or () if isinstance(e, dict)]
    run_end = max((t for t in ends if t is not None), default=0.0)
    listed = config.get("daemons") if isinstance(config, dict) else None
    daemons = [str(d) for d in listed] if isinstance(listed, list) else []
    if not daemons:
        daemons = sorted({str(value_of(e).get("node")) for e in probes.events})
        verdict.skip(f"{NOT_SERVING}: no daemons in the config; judged the {len(daemons)} "
                     "daemon(s) the prober named")
    acquires = defaultdict(list)
    for op in collect(history, "lease", ("abandon",)).of("acquire"):
        if op.ident("name") is not None:
            acquires[str(op.ident("name"))].append(op)

    verdict.measured.update(serve_within_s=serve_within, lease_within_s=lease_within,
                            faults={}, not_enough_time=0, nobody_tried=0)
    for fault in sorted(healed, key=lambda f: number(f["t_healed"])):
        heal, group = effective_heal(fault, healed)
        next_start = min((start_of(g) for g in faults or () if isinstance(g, dict)
                          and start_of(g) > heal), default=INF)
        deadline_cut = min(run_end, next_start)  # after this, no more evidence can come
        record = verdict.measured["faults"].setdefault(str(fault.get("id")), {
            "kind": fault.get("kind"), "target": fault.get("target"),
            "t_healed": number(fault["t_healed"]), "effective_heal": heal,
            "serving": {}, "lease": {}})
        mine = [e for e in probes.events if str(value_of(e).get("fault")) in group]
        for node in daemons:
            judge_serving(verdict, fault, node, heal, serve_within, deadline_cut, record,
                          [e for e in mine if str(value_of(e).get("node")) == str(node)])
        for name, ops in sorted(acquires.items()):
            judge_lease(verdict, fault, name, ops, heal, lease_within, deadline_cut, record)
    failovers = [f for f in faults or () if isinstance(f, dict) and f.get("failover") is True]
    if failovers:
        verdict.measured["failovers"] = measure_failovers(history, failovers, faults, daemons,
                                                          run_end)
    verdict.skip_counted("not_enough_time", None,
                         "recovery(ies) not judged: the run ended, or the next fault began, before"
                         " the limit")
    verdict.skip_counted("nobody_tried", LEASE,
                         "lease name(s) nobody tried to take after a heal")
    return verdict.result()


def start_of(fault):
    """When the fault began (-inf if the record does not say: in effect all along)."""
    for key in ("t_start", "t_applied"):
        if number(fault.get(key)) is not None:
            return number(fault.get(key))
    return -INF


def effective_heal(fault, faults):
    """The last heal among the faults in effect when this one healed (itself included), and
    the ids of those faults, whose probes also tell of this one's recovery."""
    healed_at = number(fault["t_healed"])
    group = [g for g in faults
             if start_of(g) <= healed_at <= number(g["t_healed"])]
    group = group or [fault]
    return max(number(g["t_healed"]) for g in group), {str(g.get("id")) for g in group}


def describe(fault):
    return (f"fault {fault.get('id')} ({fault.get('kind')} {fault.get('target') or ''}".rstrip()
            + f", healed {fmt_t(fault.get('t_healed'))})")


def judge_serving(verdict, fault, node, heal, limit, deadline_cut, record, probes):
    gave_up = [e for e in probes if e.get("f") == "not-serving"
               and str(value_of(e).get("fault")) == str(fault.get("id"))]
    served = [e for e in probes if e.get("f") == "serving"]
    alone = heal <= number(fault["t_healed"])  # no other fault outlasted this one
    first = min(served, key=lambda e: e["t"], default=None)
    delay = None
    if first is not None:
        after = number(value_of(first).get("after_s"))
        delay = after if alone and after is not None else max(0.0, first["t"] - heal)
    record["serving"][str(node)] = None if delay is None else round(delay, 3)
    if gave_up and alone:
        after = number(value_of(gave_up[0]).get("after_s"))
        message = (f"{node} did not serve after {describe(fault)}: the prober gave up"
                   + (f" after {after:.3f}s" if after is not None else ""))
    elif delay is not None and delay > limit:
        message = (f"{node} served again only {delay:.3f}s after {describe(fault)} "
                   f"(effective heal {fmt_t(heal)}), limit {limit:.3f}s")
    elif first is None and deadline_cut < heal + limit:
        verdict.measured["not_enough_time"] += 1
        return
    elif first is None:
        message = f"{node} has no serving event after {describe(fault)}"
    else:
        return
    verdict.violate(NOT_SERVING, message, gave_up + ([first] if first else []))


def judge_lease(verdict, fault, name, acquires, heal, limit, deadline_cut, record):
    """acquires: every acquire of the name, whatever its outcome."""
    taken = min((op for op in acquires if op.ok and op.t1 > heal), key=lambda op: op.t1,
                default=None)
    delay = None if taken is None else taken.t1 - heal
    record["lease"][name] = None if delay is None else round(delay, 3)
    if taken is not None and delay <= limit:
        verdict.count("lease_recoveries")
        return
    if deadline_cut < heal + limit and (taken is None or taken.t1 > deadline_cut):
        verdict.measured["not_enough_time"] += 1  # or the next fault is why it was late
        return
    tries = sorted((op for op in acquires if op.t1 > heal), key=lambda op: op.t0)
    if not tries:
        verdict.measured["nobody_tried"] += 1
        return
    how = (f"first taken only {delay:.3f}s later by {taken.describe()}" if taken
           else f"never taken again, though clients asked {len(tries)} time(s)")
    verdict.violate(LEASE, f"lease '{name}' after {describe(fault)} (effective heal "
                    f"{fmt_t(heal)}): {how}; limit {limit:.3f}s",
                    [taken] if taken else [tries[0], tries[-1]])


def lease_bound(config, history, verdict):
    """The longest a lease name may stay untakeable after a heal: a holder's grant renewed
    just before the fault (ttl), its expiry noticed (2/3 ttl more at worst), the
    lock-delay, and slack for the workload to ask again."""
    ttl = number(section(config, "lease").get("ttl_ms"))
    if ttl is None:
        asked = [number(op.args.get("ttl_ms")) for op in
                 collect(history, "lease", ("abandon",)).of("acquire")]
        ttl = max((t for t in asked if t is not None), default=None)
        verdict.skip(f"{LEASE}: no lease.ttl_ms in the config; used the longest TTL asked "
                     f"for ({ttl if ttl is not None else 'none, so 10000'} ms)")
        ttl = 10000.0 if ttl is None else ttl
    lock_delay = number(section(config, "leases").get("lock_delay_ms")) or 0.0
    slack = number(section(config, "liveness").get("lease_slack_s"))
    return (ttl * (1 + 2 / 3) + lock_delay) / 1000 + (2.0 if slack is None else slack)


# -- failovers -------------------------------------------------------------------------------

# Answers that needed the Redis master: a daemon answering one of these was serving.
SERVED_BY_REDIS = {("lease", "acquire"), ("lease", "renew"), ("lease", "release"),
                   ("election", "join"), ("election", "resign"), ("session", "open"),
                   ("session", "write"), ("session", "read"), ("session", "resume"),
                   ("session", "close"), ("dedup", "claim"), ("dedup", "done"),
                   ("secret", "rotate"), ("rate", "check"),
                   # a cluster failover's prober: DEDUP GET of a key in the failed slots
                   ("probe", "slot")}
TARGET_SLACK_S = 1.0       # serving again within the failover time + 1 s
LOOK_AFTER_S = 10.0        # after the promotion, how long a stop is looked for


def served_by_redis(event):
    if event.get("type") != "ok" or (event.get("workload"), event.get("f")) not in SERVED_BY_REDIS:
        return False
    if event.get("workload") == "rate":  # not a failure mode's answer
        value = value_of(event)
        return value.get("source") == "redis" and value.get("degraded") in (0, None)
    return True


def measure_failovers(history, failovers, faults, daemons, run_end):
    """Per failover fault: its failover time (from applied until every sentinel named the
    new master, which said so), and per daemon the longest time without an answer that
    needed Redis from the fault on (a stop begun before it counts from it), and when that
    stop ended. Looked for until the next fault, the run's end, or 10 s after the promotion.
    A cluster's failover names the old primary's slots: only answers in those count, and only
    stops begun by the promotion (a daemon answers in a few slots only now and then, so a
    later gap says more about the workload than about the failover)."""
    served = defaultdict(list)   # node -> [(t, slot)]
    invoked = {}                 # op -> the invoke's arguments
    for e in history or ():
        if not isinstance(e, dict):
            continue
        if e.get("type") == "invoke":
            invoked[e.get("op")] = e.get("value")
        elif served_by_redis(e) and number(e.get("t")) is not None:
            slot = op_slot(e.get("workload"), invoked.get(e.get("op")), value_of(e))
            served[str(e.get("node"))].append((number(e["t"]), slot))
    for times in served.values():
        times.sort(key=lambda x: x[0])
    out = {}
    for fault in sorted(failovers, key=start_of):
        t0 = number(fault.get("t_applied"))
        if t0 is None:
            continue
        took = number(fault.get("failover_s"))
        promoted = number(fault.get("t_failover"))
        next_start = min((start_of(g) for g in faults or () if isinstance(g, dict)
                          and start_of(g) > start_of(fault)), default=INF)
        end = min(next_start, run_end, (promoted if promoted is not None else t0) + LOOK_AFTER_S)
        record = {"kind": fault.get("kind"), "failover_s": took}
        ranges = fault.get("slots") if isinstance(fault.get("slots"), list) else None
        stops, again = {}, {}
        for node in daemons or sorted(served):
            longest, resumed, last = 0.0, None, t0
            for t, slot in served.get(str(node), ()):
                if ranges is not None and not in_ranges(slot, ranges):
                    continue
                if t <= t0:
                    continue
                if t > end:
                    break
                if ranges is not None and promoted is not None and last > promoted:
                    break  # a stop begun after the promotion
                if t - last > longest:
                    longest, resumed = t - last, t
                last = t
            if end - last > longest and not (ranges is not None and promoted is not None
                                              and last > promoted):
                longest, resumed = end - last, None  # still stopped when the look ended
            stops[str(node)] = round(longest, 3)
            again[str(node)] = None if resumed is None else round(resumed - t0, 3)
        record["stopped_s"] = max(stops.values(), default=None)
        late = [a for a in again.values() if a is None]
        record["served_again_s"] = None if late or not again else max(again.values())
        record["target_s"] = None if took is None else round(took + TARGET_SLACK_S, 3)
        record["met"] = ("?" if took is None else "no" if record["served_again_s"] is None
                         else "yes" if record["served_again_s"] <= took + TARGET_SLACK_S
                         else "no")
        record["stopped"] = stops
        out[str(fault.get("id"))] = record
    return out
