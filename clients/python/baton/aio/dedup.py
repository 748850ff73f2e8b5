"""Idempotency keys for asyncio: DEDUP CLAIM, DONE and GET (protocol/API.md, "Idempotency
keys"), and `await baton.once(key, work)`, which runs the coroutine function `work` once across
the fleet and gives its stored result to every repeat. Replies are read, and DONE built, by the
sync module's functions; the waiting is the event loop's."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Union

from .._replies import expect_ok
from .._schedule import DoneAttempts
from ..dedup import Claim, InProgress, TooLarge, _claim_from, done_args
from ..errors import BatonError
from ._link import AsyncLink

AsyncWork = Callable[[], Awaitable[Union[bytes, str]]]


async def complete_for_sure(link: AsyncLink, key: str, result: bytes, ttl_ms: int | None,
                            too_large: TooLarge | None = None) -> None:
    """DONE, sent again while batond answers Unknown or Unavailable, and `too_large(result)`
    stored instead of a result DONE refuses for its size: the schedule and the choices of the
    sync once() (_schedule.DoneAttempts), the pauses the event loop's."""
    attempts = DoneAttempts(result, too_large)
    while True:
        try:
            expect_ok(await link.call(*done_args(key, attempts.result, ttl_ms)))
            return
        except BatonError as error:
            pause = attempts.pause_after(error)
            if pause is None:
                raise
            await asyncio.sleep(pause)


class AsyncDedupCalls:
    _link: AsyncLink

    async def claim(self, key: str, ttl_ms: int) -> Claim:
        """DEDUP CLAIM (on a pooled connection: it lasts until DONE or `ttl_ms`)."""
        return _claim_from(await self._link.call("DEDUP", "CLAIM", key, ttl_ms))

    async def complete(self, key: str, result: bytes | str, ttl_ms: int | None = None) -> None:
        """DEDUP DONE: stores `result` for later claims. NotHeld, Unknown as Baton.complete."""
        expect_ok(await self._link.call(*done_args(key, result, ttl_ms)))

    async def dedup_get(self, key: str) -> Claim | None:
        """DEDUP GET: None when nobody claimed the key."""
        reply = await self._link.call("DEDUP", "GET", key)
        return None if reply is None else _claim_from(reply)

    async def once(self, key: str, work: AsyncWork, ttl_ms: int = 60_000,
                   result_ttl_ms: int | None = None, wait_ms: int = 0,
                   poll_ms: int = 50, too_large: TooLarge | None = None) -> bytes:
        """Runs `await work()` once across the fleet for `key` and answers its result (bytes;
        str is stored as UTF-8); a repeat gets the stored result without running anything.
        The claim is made on a connection of its own: if `work` raises or is cancelled, the
        connection closes, the claim is released at once, and a retry runs the work again.
        A repeat while the first run works raises InProgress, or with `wait_ms` polls every
        `poll_ms` until the result is stored (as Baton.once). A result over batond's
        `dedup.max_result_bytes`: as Baton.once, `too_large(result)` is stored instead when
        given; otherwise DONE's OtherError propagates and the key is freed."""
        deadline = time.monotonic() + wait_ms / 1000
        claimer = self._link.dedicated()
        try:
            while True:
                claim = _claim_from(await claimer.call("DEDUP", "CLAIM", key, ttl_ms))
                if claim.status == "done":
                    return claim.result if claim.result is not None else b""
                if claim.status == "new":
                    produced = await work()
                    result = produced.encode() if isinstance(produced, str) else produced
                    await complete_for_sure(claimer, key, result, result_ttl_ms, too_large)
                    return result
                if time.monotonic() >= deadline:
                    raise InProgress(key, claim.ttl_ms)
                await asyncio.sleep(min(poll_ms / 1000, max(0.0, deadline - time.monotonic())))
        finally:
            await claimer.close()
