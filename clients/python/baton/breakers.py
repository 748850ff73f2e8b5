"""Circuit breakers (protocol/API.md, "Circuit breakers"): ask before calling a dependency
(BREAKER CHECK, answered from batond's memory) and tell how the call went (BREAKER REPORT,
counted in memory). `breaker(name).run(fn)` does both around one call: it checks, raises Open
when the breaker refuses, runs `fn`, and reports ok or fail with the call's duration, from
which batond also judges slowness (`slow_call_ms`).

The dataclass and pure builders and parsers come first: baton.aio sends and reads the same."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Literal, TypeVar

import redis

from ._link import Link
from ._replies import Arg, as_fields, expect_ok, flag_field, int_field, text_field
from .errors import BatonError

log = logging.getLogger("baton.breakers")

R = TypeVar("R")
Outcome = Literal["ok", "fail", "slow"]


@dataclass(frozen=True)
class BreakerDecision:
    """BREAKER CHECK: `allowed` is what to do; `state` "closed", "open", "half-open",
    "forced-open" or "forced-closed"; `probe`: this call is the half-open probe (report how
    it went); `next_probe_ms`: when it may next admit a probe (-1: nothing scheduled);
    `degraded`: Redis is out of reach and this host's data decided; `fleet`: open or
    half-open fleet-wide."""

    allowed: bool
    state: str
    probe: bool
    next_probe_ms: int
    generation: int
    degraded: bool
    fleet: bool


class Open(Exception):
    """The breaker refused the call (open, forced open, or half-open with its probe out
    elsewhere); nothing ran. Not a BatonError: batond answered, and said no. `decision` is
    its answer (`next_probe_ms`: when to try again)."""

    def __init__(self, name: str, decision: BreakerDecision) -> None:
        when = (f"; it may admit a probe in {decision.next_probe_ms} ms"
                if decision.next_probe_ms >= 0 else "")
        super().__init__(f"breaker {name!r} is {decision.state}{when}")
        self.name = name
        self.decision = decision


BreakerOpen = Open  # the same class, for code that imports it beside other names


# -- pure builders and parsers ---------------------------------------------------------------


def breaker_decision_from(reply: object) -> BreakerDecision:
    fields = as_fields(reply)
    return BreakerDecision(allowed=flag_field(fields, "allowed"),
                           state=text_field(fields, "state"),
                           probe=flag_field(fields, "probe"),
                           next_probe_ms=int_field(fields, "next_probe_ms"),
                           generation=int_field(fields, "generation"),
                           degraded=flag_field(fields, "degraded"),
                           fleet=flag_field(fields, "fleet"))


def report_args(name: str, outcome: Outcome, latency_ms: int | None = None) -> list[Arg]:
    """BREAKER REPORT's arguments; a latency is whole ms, 0 to 86400000."""
    args: list[Arg] = ["BREAKER", "REPORT", name, outcome]
    if latency_ms is not None:
        args.append(max(0, min(int(latency_ms), 86_400_000)))
    return args


# -- the calls -------------------------------------------------------------------------------


class Breaker:
    """One breaker of one batond. `fails_on`: the exceptions of the guarded call that count
    as the dependency failing (others, like a 404 the dependency answered correctly, are
    reported ok before they propagate). A BaseException that is not an Exception
    (KeyboardInterrupt) reports nothing: a probe left unreported is given back after its
    `probe_timeout_ms`."""

    def __init__(self, link: Link, name: str,
                 fails_on: tuple[type[BaseException], ...] = (Exception,)) -> None:
        self._link = link
        self.name = name
        self.fails_on = fails_on

    def check(self) -> BreakerDecision:
        """BREAKER CHECK. Raises OtherError (ERR) for a breaker no policy names, without a
        `breakers.default`."""
        return breaker_decision_from(self._link.call("BREAKER", "CHECK", self.name))

    def report(self, outcome: Outcome, latency_ms: int | None = None) -> None:
        """BREAKER REPORT: never waits for Redis. An `ok` of `slow_call_ms` or more is slow."""
        expect_ok(self._link.call(*report_args(self.name, outcome, latency_ms)))

    def run(self, call: Callable[[], R]) -> R:
        """Checks, raises Open if refused, else runs `call` and reports how it went (its
        exception, one of `fails_on`, as fail) with its duration; answers its result or
        raises its exception. A report that cannot be sent (batond gone) is logged, never
        put in place of the call's own result or exception."""
        decision = self.check()
        if not decision.allowed:
            raise Open(self.name, decision)
        began = time.monotonic()
        try:
            result = call()
        except self.fails_on:
            self._report_quietly("fail", began)
            raise
        except Exception:
            self._report_quietly("ok", began)
            raise
        self._report_quietly("ok", began)
        return result

    def _report_quietly(self, outcome: Outcome, began: float) -> None:
        latency_ms = round((time.monotonic() - began) * 1000)
        try:
            self.report(outcome, latency_ms)
        except (BatonError, redis.RedisError) as error:
            log.warning("baton: BREAKER REPORT %s %s %d ms was not sent: %r", self.name,
                        outcome, latency_ms, error)

    def __repr__(self) -> str:
        return f"Breaker({self.name!r})"


class BreakerCalls:
    _link: Link

    def breaker(self, name: str,
                fails_on: tuple[type[BaseException], ...] = (Exception,)) -> Breaker:
        """The breaker `name`, for `check()`, `report()` and `run(fn)`:

            payments = baton.breaker("payments")
            receipt = payments.run(lambda: charge(card))  # raises baton.Open when refused
        """
        return Breaker(self._link, name, fails_on)

    def breaker_check(self, name: str) -> BreakerDecision:
        return Breaker(self._link, name).check()

    def breaker_report(self, name: str, outcome: Outcome, latency_ms: int | None = None) -> None:
        Breaker(self._link, name).report(outcome, latency_ms)
