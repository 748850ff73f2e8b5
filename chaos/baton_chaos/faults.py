"""Faults: the catalogue (kinds and mixes), a fault's record, and the schedule, seeded or
written by hand. The same seed and mix give the same schedule; injector.py applies it.
"""
from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Optional

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
    detail: str = ""
    error: str = ""

    def record(self) -> dict:
        d = asdict(self)
        for k in ("at", "hold"):
            d.pop(k)
        return d


def parse_mix(text: str) -> list[str]:
    kinds: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part in MIXES:
            kinds += MIXES[part]
        elif part in DAEMON_FAULTS or part in {"redis-kill", "redis-pause", "rolling-restart"}:
            kinds.append(part)
        else:
            raise ValueError(f"unknown fault or mix {part!r}; mixes: {', '.join(MIXES)}")
    return sorted(set(kinds), key=kinds.index)


def parse_schedule(text: str, daemons: list[str], start: float = 3.0) -> list[Fault]:
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
        if kind not in set(MIXES["all"]) | {"redis-kill"}:
            raise ValueError(f"unknown fault {kind!r} in --schedule")
        if kind.startswith("redis"):
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
                  "drain-redis-paused": {"how": "paused"}}.get(kind, {})
        params = dict(params)
        for item in overrides:
            key, _, text = item.partition("=")
            if key not in params:
                raise ValueError(f"--schedule {part!r}: {kind} has no parameter {key!r}")
            params[key] = type(params[key])(text)
        faults.append(Fault(n, kind, target, params, start, float(hold or 2.0)))
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
    (longer than the liveness bound, so every recovery is judged before the final phase)."""
    rng = random.Random(f"faults/{seed}")
    faults: list[Fault] = []
    if not kinds:
        return faults
    ttl = settings["lease"]["ttl_ms"] / 1000
    t = start
    targets = clock_targets(kinds, daemons)
    order: list[str] = []
    while True:
        if not order:
            order = list(kinds)
            rng.shuffle(order)
        kind = order.pop()
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
        t += budget + rng.uniform(2.0, 4.0)
    return faults


def _expected_length(kind: str, hold: float, daemons: int) -> float:
    if kind == "rolling-restart":
        return 3.0 * daemons
    if kind in ("drain", "drain-redis-paused", "kill-mid-drain", "clock-skew"):
        return hold + 4.0
    return hold + 1.5
