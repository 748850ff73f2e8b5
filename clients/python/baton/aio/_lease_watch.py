"""What tells an `async with baton.lock(...)` block that its lease is gone: a subscriber to
`lease:<name>` on a connection of its own (protocol/API.md, "SUBSCRIBE"), subscribed before the
acquire so that no event about the grant can slip past it. It cancels the block's task when it
hears that the lease is lost: `lost`, `expired` or `released` of our token, `acquired` under a
later token, or the watch connection closing or going silent (no answer to a PING within half
the TTL, at least 1 s, as the sync lock()'s: baton._schedule)."""
from __future__ import annotations

import asyncio
from typing import Any

from .._replies import as_list, as_text
from .._schedule import ping_every_s, silence_limit_s
from ..errors import UnexpectedReply
from ..leases import LeaseEvent, lease_event_from, lease_loss
from ._link import AsyncLink, Subscriber, stop_reader


class LeaseWatch:
    """Hears `lease:<name>`. Until `arm(token, task)` it only keeps what it heard; armed, a
    loss cancels `task` once and is kept in `loss` (why, in words); `disarm()` stops that."""

    def __init__(self, name: str, ttl_ms: int, subscriber: Subscriber) -> None:
        self.name = name
        self.loss: str | None = None
        self.cancelled_task = False
        self._subscriber = subscriber
        self._silence_limit_s = silence_limit_s(ttl_ms)
        self._ping_every_s = ping_every_s(self._silence_limit_s)
        self._token: int | None = None
        self._heard: list[LeaseEvent] = []
        self._task: asyncio.Task[Any] | None = None
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, link: AsyncLink, name: str, ttl_ms: int) -> LeaseWatch:
        channel = f"lease:{name}"
        subscriber = await link.subscriber("SUBSCRIBE", channel)
        confirmed = as_list(subscriber.first)
        if len(confirmed) != 3 or as_text(confirmed[0]) != "subscribe":
            await subscriber.close()
            raise UnexpectedReply(f"SUBSCRIBE {channel} answered {subscriber.first!r:.200}")
        watch = cls(name, ttl_ms, subscriber)
        watch._reader = asyncio.create_task(watch._listen(), name=f"baton lease watch {name}")
        return watch

    def arm(self, token: int, task: asyncio.Task[Any]) -> None:
        """From now on a loss of `token` cancels `task`. What was heard before is judged
        first: if the lease is lost already, `loss` says so and nothing is cancelled."""
        self._token = token
        for event in self._heard:
            self._judge(event)
        self._heard.clear()
        if self.loss is None:
            self._task = task

    def disarm(self) -> None:
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
                self._hear(message)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the connection closed or broke: we cannot know any more
            self._lose(f"the watch connection to batond failed ({error!r:.200})")
        finally:
            if pending is not None:
                pending.cancel()

    def _hear(self, message: object) -> None:
        event = lease_event_from(message)  # None for a pong or a confirmation
        if event is None:
            return
        if self._token is None:
            self._heard.append(event)
        else:
            self._judge(event)

    def _judge(self, event: LeaseEvent) -> None:
        assert self._token is not None
        reason = lease_loss(event, self._token)
        if reason is not None:
            self._lose(reason)

    def _lose(self, reason: str) -> None:
        if self.loss is None:
            self.loss = reason
        if self._token is not None:
            self._cancel()

    def _cancel(self) -> None:
        if self._task is not None and not self.cancelled_task and not self._task.done():
            self.cancelled_task = True
            self._task.cancel(f"baton: the lease {self.name!r} was lost: {self.loss}")
