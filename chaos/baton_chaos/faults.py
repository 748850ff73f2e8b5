"""Faults: the catalogue (kinds and mixes, per Redis topology), a fault's record, and the
schedule, seeded or written by hand. The same seed, mix and topology give the same schedule;
injector.py applies it.
"""
from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Optional

TOPOLOGIES = ("single", "sentinel", "cluster")

MIXES = {
    "none": [],
    "process": ["kill", "pause"],
    "redis": ["redis-kill", "redis-pause"],
    "data-loss": ["redis-kill"],
    "network": ["partition", "slow", "lossy"],
    "clock": ["clock-step", "clock-skew"],
    "cpu": ["cpu-starve"],
    "deploy": ["rolling-restart", "drain", "drain-redis-paused", "kill-mid-drain"],
}
MIXES["all"] = sorted({k for m in ("process", "redis", "network", "clock", "cpu", "deploy")
                       for k in MIXES[m]})
DAEMON_FAULTS = {"kill", "pause", "partition", "slow", "lossy", "clock-step", "clock-skew",
                 "cpu-starve", "drain", "kill-mid-drain", "drain-redis-paused"}

# --redis sentinel: a primary, two replicas and three sentinels. The Redis faults are the
# group's: SENTINEL FAILOVER, kill -9 of the master (restarted once the sentinels promoted a
# replica), SIGSTOP of the master past down-after (the sentinels fail over; SIGCONT brings it
# back as a stale master until they demote it).
SENTINEL_FAULTS = ["failover", "kill-master", "pause-master"]
SENTINEL_MIXES = {
    "none": [],
    "process": MIXES["process"],
    "sentinel": SENTINEL_FAULTS,
    "redis": SENTINEL_FAULTS,       # the Redis faults of this topology
    "cpu": MIXES["cpu"],
    "deploy": ["rolling-restart", "drain", "kill-mid-drain"],
}
SENTINEL_MIXES["all"] = sorted({k for m in ("process", "sentinel", "cpu", "deploy")
                                for k in SENTINEL_MIXES[m]})
# Why a kind cannot run with --redis sentinel (the README says more).
NOT_WITH_SENTINEL = {
    "partition": "the network faults need the daemons' fault proxies, and the sentinels hand "
                 "the daemons the servers' own addresses",
    "slow": "", "lossy": "",
    "redis-kill": "its Redis faults are failover, kill-master and pause-master",
    "redis-pause": "", "data-loss": "",
    "drain-redis-paused": "it pauses or slows the one Redis; drain during a failover instead",
    # libfaketime 0.9.10 shifts (step) or scales (skew) absolute timerfd deadlines, and asio
    # arms a timer already due as one: such a timer never fires, or fires the step late. The
    # Sentinel locator asks the sentinels from such a timer: a skewed daemon never learned the
    # master (and ignored SIGTERM), a stepped one stalls. Not batond: the preload. Its CAF
    # timer thread (pthread_cond_clockwait, not intercepted) also sleeps past its deadlines.
    "clock-step": "libfaketime (0.9.10) breaks the timers batond's Sentinel locator relies on "
                  "(absolute timerfd deadlines are shifted by the step or scaled by the skew), "
                  "so the fault would test the preload, not batond",
}
NOT_WITH_SENTINEL["clock-skew"] = NOT_WITH_SENTINEL["clock-step"]
for _k in ("slow", "lossy"):
    NOT_WITH_SENTINEL[_k] = NOT_WITH_SENTINEL["partition"]
for _k in ("redis-pause", "data-loss"):
    NOT_WITH_SENTINEL[_k] = NOT_WITH_SENTINEL["redis-kill"]

# --redis cluster: three primaries with two replicas each. The Redis faults are the cluster's:
# CLUSTER FAILOVER on a replica, kill -9 of a primary (restarted once a replica took over: it
# rejoins as a replica), SIGSTOP of a primary past the node timeout (SIGCONT: it comes back as
# a replica), and slots of the workloads' keys moved to another primary under load.
CLUSTER_FAULTS = ["cluster-failover", "kill-primary", "pause-primary", "migrate-slot"]
CLUSTER_MIXES = {
    "none": [],
    "process": MIXES["process"],
    "cluster": CLUSTER_FAULTS,
    "redis": CLUSTER_FAULTS,        # the Redis faults of this topology
    "cpu": MIXES["cpu"],
    "deploy": SENTINEL_MIXES["deploy"],
}
CLUSTER_MIXES["all"] = sorted({k for m in ("process", "cluster", "cpu", "deploy")
                               for k in CLUSTER_MIXES[m]})
# Why a kind cannot run with --redis cluster: as on a Sentinel group, but the addresses the
# daemons are handed come in MOVED and ASK replies and CLUSTER SLOTS.
NOT_WITH_CLUSTER = dict(NOT_WITH_SENTINEL)
NOT_WITH_CLUSTER.update({
    k: "the network faults need the daemons' fault proxies, and a cluster names its nodes' own "
       "addresses (CLUSTER SLOTS, MOVED, ASK) to every daemon"
    for k in ("partition", "slow", "lossy")})
NOT_WITH_CLUSTER.update({
    k: "its Redis faults are cluster-failover, kill-primary, pause-primary and migrate-slot"
    for k in ("redis-kill", "redis-pause", "data-loss")})
NOT_WITH_CLUSTER["drain-redis-paused"] = ("it pauses or slows the one Redis; drain during a "
                                          "failover instead")
NOT_WITH_CLUSTER.update({
    k: "libfaketime (0.9.10) breaks absolute timerfd deadlines, which batond's Redis link arms "
       "(the Sentinel locator's stalled under it; the cluster's slot-map refresh timers were not "
       "tried), so the fault would test the preload, not batond"
    for k in ("clock-step", "clock-skew")})
ALL_KINDS = set(MIXES["all"]) | set(SENTINEL_FAULTS) | set(CLUSTER_FAULTS)
GROUP_FAULTS = set(SENTINEL_FAULTS) | set(CLUSTER_FAULTS)
# Between the starts of two sentinel faults: a sentinel starts no automatic failover within
# twice the failover timeout (10 s) of the last one, and the group needs ~20 s to settle after
# a failover (the injector waits for it too, so this only keeps the schedule honest).
SENTINEL_GAP_S = 22.0
# Between the starts of two cluster faults: a primary votes for no second replica of one
# primary within twice the node timeout (2 s), and the cluster settles in a few seconds after
# a failover or a restart (the injector waits for that too).
CLUSTER_GAP_S = 10.0
# The workloads whose keys' slots migrate-slot may move (cluster_slots.workload_tags).
SLOT_WORKLOADS = ("lease", "election", "secret", "breaker", "membership", "rate", "dedup",
                  "session", "state", "cache", "events")


def mixes(redis: str = "single") -> dict:
    """The mixes of a topology: name -> kinds."""
    return {"sentinel": SENTINEL_MIXES, "cluster": CLUSTER_MIXES}.get(redis, MIXES)


def check_kind(kind: str, redis: str):
    """Raises ValueError if `kind` cannot run on this topology, saying why."""
    if redis == "sentinel" and kind in NOT_WITH_SENTINEL:
        raise ValueError(f"{kind} cannot run with --redis sentinel: {NOT_WITH_SENTINEL[kind]}")
    if redis == "cluster" and kind in NOT_WITH_CLUSTER:
        raise ValueError(f"{kind} cannot run with --redis cluster: {NOT_WITH_CLUSTER[kind]}")
    if redis != "sentinel" and kind in SENTINEL_FAULTS:
        raise ValueError(f"{kind} needs --redis sentinel (a Redis replication group)")
    if redis != "cluster" and kind in CLUSTER_FAULTS:
        raise ValueError(f"{kind} needs --redis cluster (a Redis Cluster)")


FAILOVER_FIELDS = ("failover", "t_failover", "failover_s", "t_demoted", "old_master",
                   "new_master", "t_refailover", "refailover_master")


@dataclass
class Fault:
    id: int
    kind: str
    target: str
    params: dict
    at: float            # scheduled start, seconds into the run
    hold: float          # how long it stays applied
    t_start: Optional[float] = None
    t_applied: Optional[float] = None
    t_heal: Optional[float] = None
    t_healed: Optional[float] = None
    data_loss: bool = False
    clock: bool = False
    # Sentinel faults: a failover may lose writes not yet on the promoted replica, and those
    # not WAITed for are lost by design (redis/durable_scripts.hpp).
    failover: bool = False
    t_failover: Optional[float] = None  # every sentinel names the new master, which says so
    failover_s: Optional[float] = None  # t_failover - t_applied
    t_demoted: Optional[float] = None   # the old master says it is a replica again
    old_master: Optional[int] = None    # ports
    new_master: Optional[int] = None
    t_refailover: Optional[float] = None  # the sentinels failed over again by themselves
    refailover_master: Optional[int] = None
    slots: Optional[list] = None        # a cluster's: [first, last] ranges of the old primary
    detail: str = ""
    error: str = ""

    def record(self) -> dict:
        d = asdict(self)
        for k in ("at", "hold"):
            d.pop(k)
        if not self.failover:  # a single Redis's faults keep the record they always had
            for k in FAILOVER_FIELDS:
                d.pop(k)
        if self.slots is None:
            d.pop("slots")
        return d


def parse_mix(text: str, redis: str = "single") -> list[str]:
    """The kinds that `--faults text` names on a topology; ValueError for an unknown name or
    a kind the topology cannot run."""
    known = mixes(redis)
    kinds: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        others = [m[part] for m in (MIXES, SENTINEL_MIXES, CLUSTER_MIXES) if part in m]
        if part in known:
            kinds += known[part]
        elif others:  # a mix of another topology
            for kind in others[0]:
                try:
                    check_kind(kind, redis)
                except ValueError as e:
                    raise ValueError(f"mix {part}: {e}") from None
            kinds += others[0]
        elif part in ALL_KINDS:
            check_kind(part, redis)
            kinds.append(part)
        else:
            raise ValueError(f"unknown fault or mix {part!r}; mixes: {', '.join(known)}")
    for kind in kinds:
        check_kind(kind, redis)
    return sorted(set(kinds), key=kinds.index)


def parse_schedule(text: str, daemons: list[str], start: float = 3.0,
                   redis: str = "single") -> list[Fault]:
    """`kind[@target][:hold][/param=value...]; ...` (or commas): faults one after another from `start`, each begun once
    the one before has healed (Injector.run waits for each), for scenarios written by hand.
    `redis-kill-nosave` is a redis-kill in a run whose Redis keeps no data."""
    faults = []
    for n, part in enumerate(filter(None, (p.strip() for p in re.split(r"[;,]", text))), 1):
        part, *overrides = part.split("/")
        spec, _, hold = part.partition(":")
        kind, _, target = spec.partition("@")
        if kind == "redis-kill-nosave":
            kind = "redis-kill"
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown fault {kind!r} in --schedule")
        check_kind(kind, redis)
        if kind.startswith("redis") or kind in GROUP_FAULTS:
            target = "redis"
        elif kind == "rolling-restart":
            target = "all"
        elif target not in daemons:
            raise ValueError(f"--schedule {part!r}: target must be one of {', '.join(daemons)}")
        params = {"slow": {"delay_ms": 300},
                  "lossy": {"stall_prob": 0.05, "stall_ms": 300, "reset_prob": 0.002},
                  "redis-pause": {"mode": "ALL"},
                  "clock-step": {"offset_s": 60},
                  "clock-skew": {"rate": 0.9},
                  "kill-mid-drain": {"after_ms": 20},
                  "drain-redis-paused": {"how": "paused"},
                  # which shard's primary (0-2), which of its replicas in sync
                  "cluster-failover": {"shard": 0, "replica": 0},
                  "kill-primary": {"shard": 0},
                  "pause-primary": {"shard": 0},
                  # workloads whose keys' slots move, joined by '+'; to the primary `to`
                  # shards further
                  "migrate-slot": {"keys": "lease", "to": 1}}.get(kind, {})
        params = dict(params)
        for item in overrides:
            key, _, text = item.partition("=")
            if key not in params:
                raise ValueError(f"--schedule {part!r}: {kind} has no parameter {key!r}")
            params[key] = type(params[key])(text)
        if kind == "migrate-slot" and not set(params["keys"].split("+")) <= set(SLOT_WORKLOADS):
            raise ValueError(f"--schedule {part!r}: keys are workloads joined by '+', of: "
                             + ", ".join(SLOT_WORKLOADS))
        default_hold = 0.0 if kind in ("failover", "cluster-failover") else 2.0
        faults.append(Fault(n, kind, target, params, start, float(hold or default_hold)))
    return faults


def clock_targets(kinds: list[str], daemons: list[str]) -> dict[str, str]:
    """Which daemon runs under libfaketime, and how: the step on the first, the skew on the
    last (the others keep the real clock)."""
    out = {}
    if "clock-step" in kinds:
        out[daemons[0]] = "step"
    if "clock-skew" in kinds:
        out[daemons[-1]] = "skew"
    return out


def schedule(kinds: list[str], daemons: list[str], duration: float, seed: int,
             settings: dict, start: float = 3.0, settle: float = 6.0) -> list[Fault]:
    """One fault at a time: quiet, fault, heal, quiet... until `settle` seconds before the end
    (longer than the liveness bound, so every recovery is judged before the final phase).
    Sentinel or cluster faults come first and then as soon as the group can fail over again (at
    least SENTINEL_GAP_S or CLUSTER_GAP_S apart), with the daemon faults of the mix in between."""
    rng = random.Random(f"faults/{seed}")
    faults: list[Fault] = []
    if not kinds:
        return faults
    ttl = settings["lease"]["ttl_ms"] / 1000
    t = start
    targets = clock_targets(kinds, daemons)
    order: list[str] = []
    group_kinds = [k for k in kinds if k in GROUP_FAULTS]
    other_kinds = [k for k in kinds if k not in GROUP_FAULTS]
    gap = CLUSTER_GAP_S if set(group_kinds) <= set(CLUSTER_FAULTS) else SENTINEL_GAP_S
    group_ready = start  # when the next sentinel or cluster fault may begin
    while True:
        if not order:
            order = list(kinds)
            rng.shuffle(order)
        kind = order.pop()
        if group_kinds:
            waiting = [k for k in order if k in GROUP_FAULTS]
            if t >= group_ready and kind not in GROUP_FAULTS and waiting:
                order.append(kind)          # a failover as soon as the group can take one
                kind = waiting[-1]
                order.remove(kind)
            elif t < group_ready and kind in GROUP_FAULTS:
                order.append(kind)          # its turn comes once the group can take it
                others = [k for k in order if k not in GROUP_FAULTS]
                if others:
                    kind = others[-1]
                    order.remove(kind)
                elif other_kinds:
                    kind = rng.choice(other_kinds)
                else:
                    order.pop()
                    order.append(kind)
                    t = group_ready
                    continue
        hold, params, target = rng.uniform(1.0, 3.0), {}, rng.choice(daemons)
        if kind == "pause":
            hold = rng.uniform(1.2, 2.0) * ttl          # past the lease TTL: the GC-pause case
        elif kind == "kill":
            hold = rng.uniform(0.2, 2.0)
        elif kind == "redis-kill":
            target, hold = "redis", rng.uniform(0.2, 1.5)
        elif kind == "redis-pause":
            target = "redis"
            params = {"mode": rng.choice(["WRITE", "ALL"])}
            hold = rng.uniform(0.6, 2.0)                 # past the call budget
        elif kind == "slow":
            params = {"delay_ms": rng.choice([50, 150, 400])}
        elif kind == "lossy":
            params = {"stall_prob": 0.05, "stall_ms": 300, "reset_prob": 0.002}
        elif kind == "clock-step":
            target = [d for d, m in targets.items() if m == "step"][0]
            params = {"offset_s": rng.choice([-90, -30, 30, 90])}
        elif kind == "clock-skew":
            target = [d for d, m in targets.items() if m == "skew"][0]
            params = {"rate": rng.choice([0.9, 1.1])}
            hold = rng.uniform(3.0, 6.0)
        elif kind == "cpu-starve":
            hold = rng.uniform(1.5, 3.0)
        elif kind == "rolling-restart":
            target, hold = "all", 0.0
        elif kind == "failover":
            target, hold = "redis", 0.0
        elif kind == "kill-master":
            target, hold = "redis", rng.uniform(0.5, 3.0)    # from the promotion to the restart
        elif kind == "pause-master":
            target, hold = "redis", rng.uniform(0.0, 2.0)    # stale master after the promotion
        elif kind in ("cluster-failover", "kill-primary", "pause-primary"):
            target, hold = "redis", {"cluster-failover": 0.0,
                                     "kill-primary": rng.uniform(0.5, 3.0),  # until the restart
                                     "pause-primary": rng.uniform(0.0, 2.0)}[kind]
            params = {"shard": rng.randrange(3)}
            if kind == "cluster-failover":
                params["replica"] = rng.randrange(2)
        elif kind == "migrate-slot":
            # always the lease's slot, and up to two other workloads'; the pause between the
            # halves of the keys
            target, hold = "redis", rng.uniform(0.5, 2.0)
            others = rng.sample([w for w in SLOT_WORKLOADS if w != "lease"], rng.randrange(3))
            params = {"keys": "+".join(["lease"] + others), "to": rng.choice([1, 2])}
        elif kind in ("drain", "drain-redis-paused", "kill-mid-drain"):
            hold = 0.0
            if kind == "kill-mid-drain":
                params = {"after_ms": rng.randint(5, 80)}
            elif kind == "drain-redis-paused":
                params = {"how": rng.choice(["paused", "slow"])}
        budget = _expected_length(kind, hold, len(daemons))
        if t + budget > duration - settle:
            break
        faults.append(Fault(len(faults) + 1, kind, target, params, round(t, 3), round(hold, 3)))
        if kind in GROUP_FAULTS:
            group_ready = t + gap
        t += budget + rng.uniform(2.0, 4.0)
    return faults


def _expected_length(kind: str, hold: float, daemons: int) -> float:
    if kind == "failover":
        return 4.0       # the promotion takes 1-2 s
    if kind in ("kill-master", "pause-master"):
        return hold + 5.5  # down-after 1 s, then the vote and the promotion
    if kind == "cluster-failover":
        return 3.0
    if kind in ("kill-primary", "pause-primary"):
        return hold + 5.0  # node timeout 1 s, the vote and the promotion, the rejoin
    if kind == "migrate-slot":
        return hold + 2.0
    if kind == "rolling-restart":
        return 3.0 * daemons
    if kind in ("drain", "drain-redis-paused", "kill-mid-drain", "clock-skew"):
        return hold + 4.0
    return hold + 1.5
