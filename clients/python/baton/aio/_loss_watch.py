"""What tells an `async with` block that holds something (a lease in `lock()`, a leadership in
`campaign()`) that it lost it: a subscriber to the thing's pub/sub channel (`lease:<name>`,
`elect:<group>`, protocol/API.md "SUBSCRIBE") on a connection of its own, subscribed before the
thing is taken so that nothing about the grant slips past it. When what it hears means a loss
(judged by the sync module's pure function: lease_loss, leadership_loss), or its connection
closes or stays silent (no answer to a PING within half the TTL, at least 1 s:
baton._schedule), it sets `lost` and cancels the block's task once. The asyncio half of
baton._loss.LossWatch."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Generic, TypeVar

from .._schedule import ping_every_s, silence_limit_s
from ._follow import subscribed
from ._link import AsyncLink, Subscriber, stop_reader

E = TypeVar("E")


class LossWatch(Generic[E]):
    """Hears `channel`. Until `arm(number, task)` it only keeps what it heard (the grant's
    number, a term, is not known yet); armed, each event goes to `judge(event, number)`,
    which answers why it means a loss, or None. A loss is kept in `loss` (why, in words), sets
    `lost`, and, armed, cancels `task` once; `disarm()` stops all of it (before a release of
    our own, which it would hear). close() it on every path once started."""

    def __init__(self, channel: str, what: str, subscriber: Subscriber,
                 parse: Callable[[object], E | None], judge: Callable[[E, int], str | None],
                 ttl_ms: int) -> None:
        self.channel = channel
        self.what = what
        self.loss: str | None = None
        self.lost = asyncio.Event()
        self.cancelled_task = False
        self._subscriber = subscriber
        self._parse = parse
        self._judge = judge
        self._silence_limit_s = silence_limit_s(ttl_ms)
        self._ping_every_s = ping_every_s(self._silence_limit_s)
        self._number: int | None = None
        self._heard: list[E] = []
        self._task: asyncio.Task[Any] | None = None
        self._disarmed = False
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, link: AsyncLink, channel: str, what: str,
                    parse: Callable[[object], E | None], judge: Callable[[E, int], str | None],
                    ttl_ms: int) -> LossWatch[E]:
        """Subscribed to `channel` when it returns (its errors raise here)."""
        subscriber = await subscribed(link, channel)
        watch = cls(channel, what, subscriber, parse, judge, ttl_ms)
        watch._reader = asyncio.create_task(watch._listen(), name=f"baton watch {channel}")
        return watch

    def arm(self, number: int, task: asyncio.Task[Any]) -> None:
        """From now on a loss of `number` cancels `task`. What was heard before is judged
        first: if it is lost already, `loss` says so and nothing is cancelled."""
        self._number = number
        for event in self._heard:
            self._judge_one(event)
        self._heard.clear()
        if self.loss is None:
            self._task = task

    def disarm(self) -> None:
        """From now on nothing heard counts: `loss` and `lost` stay as they are."""
        self._disarmed = True
        self._task = None

    async def close(self) -> None:
        """Stops the reader and closes the connection, whatever happens meanwhile: a cancel
        of the caller's own while it waits is raised (after the connection is closed)."""
        self.disarm()
        try:
            await stop_reader(self._reader)
        finally:
            await self._subscriber.close()

    # -- listening ------------------------------------------------------------------------

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        pending: asyncio.Task[object] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.create_task(self._subscriber.read())
                done, _ = await asyncio.wait({pending}, timeout=self._ping_every_s)
                if not done:
                    if loop.time() - last_heard > self._silence_limit_s:
                        self._lose(f"batond answered nothing on the watch connection for "
                                   f"{self._silence_limit_s:.1f} s")
                        return
                    await self._subscriber.ping()
                    continue
                message, pending = pending.result(), None
                last_heard = loop.time()
                event = self._parse(message)  # None for a pong or a confirmation
                if event is None:
                    continue
                if self._number is None:
                    self._heard.append(event)
                else:
                    self._judge_one(event)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the connection closed or broke: we cannot know any more
            self._lose(f"the watch connection to batond failed ({error!r:.200})")
        finally:
            if pending is not None:
                pending.cancel()

    def _judge_one(self, event: E) -> None:
        assert self._number is not None
        reason = self._judge(event, self._number)
        if reason is not None:
            self._lose(reason)

    def _lose(self, reason: str) -> None:
        if self._disarmed:
            return
        if self.loss is None:
            self.loss = reason
            self.lost.set()
        task = self._task
        if (self._number is not None and task is not None and not self.cancelled_task
                and not task.done()):
            self.cancelled_task = True
            task.cancel(f"baton: {self.what} was lost: {self.loss}")
