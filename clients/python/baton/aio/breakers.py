"""Circuit breakers for asyncio (protocol/API.md, "Circuit breakers"): BREAKER CHECK and
REPORT, and `await baton.breaker(name).run(call)`, which checks, raises Open when refused,
awaits `call()` and reports ok or fail with its duration (from which batond also judges
slowness), as the sync Breaker.run. Built and read by the sync module's functions."""
from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable, TypeVar

import redis

from .._replies import expect_ok
from ..breakers import BreakerDecision, Open, Outcome, breaker_decision_from, report_args
from ..errors import BatonError
from ._link import AsyncLink

log = logging.getLogger("baton.breakers")

R = TypeVar("R")


class AsyncBreaker:
    """One breaker of one batond. `fails_on`: the exceptions of the guarded call that count
    as the dependency failing (others, like a 404 the dependency answered correctly, are
    reported ok before they propagate). A BaseException that is not an Exception (a
    CancelledError: the call was cancelled) reports nothing: a probe left unreported is given
    back after its `probe_timeout_ms`."""

    def __init__(self, link: AsyncLink, name: str,
                 fails_on: tuple[type[BaseException], ...] = (Exception,)) -> None:
        self._link = link
        self.name = name
        self.fails_on = fails_on

    async def check(self) -> BreakerDecision:
        """BREAKER CHECK. Raises OtherError (ERR) for a breaker no policy names, without a
        `breakers.default`."""
        return breaker_decision_from(await self._link.call("BREAKER", "CHECK", self.name))

    async def report(self, outcome: Outcome, latency_ms: int | None = None) -> None:
        """BREAKER REPORT: never waits for Redis. An `ok` of `slow_call_ms` or more is slow."""
        expect_ok(await self._link.call(*report_args(self.name, outcome, latency_ms)))

    async def run(self, call: Callable[[], Awaitable[R]]) -> R:
        """Checks, raises Open if refused (without calling), else awaits `call()` and
        reports how it went (its exception, one of `fails_on`, as fail) with its duration;
        answers its result or raises its exception. A report that cannot be sent (batond
        gone) is logged, never put in place of the call's own result or exception."""
        decision = await self.check()
        if not decision.allowed:
            raise Open(self.name, decision)
        began = time.monotonic()
        try:
            result = await call()
        except self.fails_on:
            await self._report_quietly("fail", began)
            raise
        except Exception:
            await self._report_quietly("ok", began)
            raise
        await self._report_quietly("ok", began)
        return result

    async def _report_quietly(self, outcome: Outcome, began: float) -> None:
        latency_ms = round((time.monotonic() - began) * 1000)
        try:
            await self.report(outcome, latency_ms)
        except (BatonError, redis.RedisError) as error:
            log.warning("baton: BREAKER REPORT %s %s %d ms was not sent: %r", self.name,
                        outcome, latency_ms, error)

    def __repr__(self) -> str:
        return f"AsyncBreaker({self.name!r})"


class AsyncBreakerCalls:
    _link: AsyncLink

    def breaker(self, name: str,
                fails_on: tuple[type[BaseException], ...] = (Exception,)) -> AsyncBreaker:
        """The breaker `name`, for `check()`, `report()` and `run(coroutine_function)`:

            payments = baton.breaker("payments")
            receipt = await payments.run(lambda: charge(card))  # raises baton.Open if refused
        """
        return AsyncBreaker(self._link, name, fails_on)

    async def breaker_check(self, name: str) -> BreakerDecision:
        return await AsyncBreaker(self._link, name).check()

    async def breaker_report(self, name: str, outcome: Outcome,
                             latency_ms: int | None = None) -> None:
        await AsyncBreaker(self._link, name).report(outcome, latency_ms)
