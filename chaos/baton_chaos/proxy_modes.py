"""The fault modes a proxy (proxy.py) can be in, and their checks: a mode's name and params
are validated in one place that reports every problem at once, and both ends of a proxy must
be on loopback, since it only ever joins a daemon and Redis on this machine.
"""
from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import math
import random
from typing import Optional

# name -> {param: default}; None marks a required param. 200 ms: Linux's minimum RTO, the
# least a lost TCP segment costs before its retransmission.
MODE_PARAMS = {
    "pass": {},
    "partition": {},
    "slow": {"delay_ms": None},
    "lossy": {"stall_prob": 0.0, "stall_ms": 200.0, "reset_prob": 0.0},
}


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str = "pass"
    delay_ms: float = 0.0
    stall_prob: float = 0.0
    stall_ms: float = 0.0
    reset_prob: float = 0.0

    def hold_s(self, rng: random.Random) -> Optional[float]:
        """Seconds to hold the next chunk, or None to reset the connection. Lossy draws twice
        per chunk whatever the outcome, so one seed gives one sequence of decisions."""
        if self.name == "slow":
            return self.delay_ms / 1000.0
        if self.name == "lossy":
            reset_draw, stall_draw = rng.random(), rng.random()
            if reset_draw < self.reset_prob:
                return None
            return self.stall_ms / 1000.0 if stall_draw < self.stall_prob else 0.0
        return 0.0

    def params(self) -> dict:
        return {k: getattr(self, k) for k in MODE_PARAMS[self.name]}


def parse_mode(name: str, params: dict) -> Mode:
    """Checks a mode and its params, reporting every problem at once (ValueError)."""
    if name not in MODE_PARAMS:
        raise ValueError(f"unknown mode {name!r}: one of {', '.join(MODE_PARAMS)}")
    allowed, problems, values = MODE_PARAMS[name], [], {}
    problems += [f"{name}: unknown param {k!r}" for k in params if k not in allowed]
    for key, default in allowed.items():
        value = params.get(key, default)
        if value is None:
            problems.append(f"{name}: {key} is required")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            problems.append(f"{name}: {key}={value!r} is not a finite number")
        elif key.endswith("_prob") and not 0.0 <= value <= 1.0:
            problems.append(f"{name}: {key}={value} is not within [0, 1]")
        elif key.endswith("_ms") and value < 0:
            problems.append(f"{name}: {key}={value} is negative")
        else:
            values[key] = float(value)
    if problems:
        raise ValueError("; ".join(problems))
    return Mode(name, **values)


def loopback_host(host: str, role: str) -> str:
    """The IPv4 address to use for host; ValueError unless it is in 127.0.0.0/8. "localhost"
    becomes 127.0.0.1 so a listener on port 0 binds one family, hence one port."""
    if host == "localhost":
        return "127.0.0.1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8"):
            return host
    raise ValueError(f"{role} host {host!r} is not loopback (127.0.0.0/8 or localhost): "
                     "the proxy only joins a daemon and Redis on this machine")

