"""Events for asyncio (protocol/API.md, "Events"): publish, read, and `async for event in
baton.follow(topic, after=last_id)`, which reads with BLOCK from the last id it gave, so a
reader that keeps its last id resumes on any host without a gap or a repeat."""
from __future__ import annotations

from typing import AsyncIterator

from .._replies import as_text
from ..events import Event, _events_from, position_from, publish_args, read_args
from ._link import AsyncLink


class AsyncEventCalls:
    _link: AsyncLink

    async def publish(self, topic: str, payload: bytes | str, dedup: str | None = None) -> str:
        """EVENTS PUBLISH; answers the event's id. With `dedup`, sending it again within the
        topic's dedup window appends nothing and answers the first id (Baton.publish)."""
        return as_text(await self._link.call(*publish_args(topic, payload, dedup)))

    async def read(self, topic: str, from_id: str, count: int | None = None,
                   block_ms: int | None = None) -> list[Event]:
        """EVENTS READ: the events after `from_id` ("0": the oldest kept), at most `count`;
        with `block_ms`, waits up to that long for the first and answers [] if none came."""
        args = read_args(topic, from_id, count, block_ms)
        if block_ms is not None:
            return _events_from(await self._link.call_waiting(block_ms, *args))
        return _events_from(await self._link.call(*args))

    async def topic_end(self, topic: str) -> str:
        """The id of the topic's newest event now (what `after="$"` starts after), asked with
        EVENTS WATCH on a connection closed right after."""
        return position_from(await self._link.first_reply_then_close("EVENTS", "WATCH", topic,
                                                                      "FROM", "$"))

    async def follow(self, topic: str, after: str = "0", block_ms: int = 10_000,
                     count: int = 100) -> AsyncIterator[Event]:
        """Every event after the id `after`, in order, forever:

            async for event in baton.follow("orders", after=last_id):
                await handle(event)
                last_id = event.id

        "0" starts from the oldest kept; "$" at the topic's end when the iteration begins
        (take `await baton.topic_end(topic)` first to fix that moment yourself). Each wait
        holds a pooled connection for up to `block_ms`; leaving the loop leaves nothing
        behind."""
        position = await self.topic_end(topic) if after == "$" else after
        while True:
            for event in await self.read(topic, position, count=count, block_ms=block_ms):
                position = event.id
                yield event
