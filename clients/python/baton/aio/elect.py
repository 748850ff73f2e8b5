"""Leader election for asyncio (protocol/API.md, "Leader election"): `async with
baton.campaign(group, candidate) as leading:` waits to lead, cancels the block when the
leadership is lost and resigns when it ends; `leader()` reads who leads; `observe_leaders()`
follows the changes as an async iterator. Arguments are built and replies, messages and losses
read by the sync module's functions (baton/elect.py)."""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from .._replies import expect_ok
from ..elect import (Joined, Leader, LeaderEvent, join_args, joined_from, leader_event_from,
                     leader_from, leadership_loss)
from ..errors import Lost
from ._follow import AsyncFollower, subscribed
from ._link import AsyncLink
from ._loss_watch import LossWatch
from .leases import _undo_our_cancel

LONGEST_JOIN_MS = 3_600_000  # ELECT JOIN's default and largest TIMEOUT


class AsyncLeadership:
    """What `campaign()` gives its block: the group, the candidate, the `term` (the fencing
    token of the leadership, growing with every leader) and `lost`, an asyncio.Event set once
    the leadership is lost (`lost_reason` says why; `check()` raises Lost then)."""

    def __init__(self, group: str, candidate: str, joined: Joined,
                 watch: LossWatch[LeaderEvent]) -> None:
        self.group = group
        self.candidate = candidate
        self.term = joined.term
        self.validity_ms = joined.validity_ms
        self._watch = watch

    @property
    def lost(self) -> asyncio.Event:
        return self._watch.lost

    @property
    def lost_reason(self) -> str | None:
        return self._watch.loss

    def check(self) -> None:
        """Raises Lost once the leadership is lost."""
        if self._watch.loss is not None:
            raise _lost(self, "", self._watch.loss)

    def __repr__(self) -> str:
        return (f"AsyncLeadership(group={self.group!r}, candidate={self.candidate!r}, "
                f"term={self.term}, lost={self.lost.is_set()})")


class AsyncLeaderObserver(AsyncFollower[LeaderEvent]):
    """`elect:<group>`'s changes, each a LeaderEvent: first the leader as it is now (or
    "vacant", term 0), then every change:

        async with await baton.observe_leaders("scheduler") as observer:
            async for event in observer:
                ...

    Subscribed when `observe_leaders()` returns; a task of its own reads the connection and
    queues what it hears, so a wait that times out (`next_event(timeout_s)`) loses nothing.
    After a broken connection it subscribes again and hears the leader as it is then."""

    async def next_event(self, timeout_s: float | None = None) -> LeaderEvent | None:
        return await self.next_item(timeout_s)


def _lost(leadership: AsyncLeadership, when: str, reason: str) -> Lost:
    return Lost("LOST", f"the leadership of '{leadership.group}' (term {leadership.term}) "
                        f"was lost{when}: {reason}")


class AsyncElectionCalls:
    _link: AsyncLink

    @contextlib.asynccontextmanager
    async def campaign(self, group: str, candidate: str, ttl_ms: int = 10_000,
                       timeout_ms: int | None = None) -> AsyncIterator[AsyncLeadership]:
        """Waits until `candidate` leads `group` (ELECT JOIN on a connection of its own),
        runs the block as its leader and resigns when the block ends:

            async with baton.campaign("scheduler", socket.gethostname()) as leading:
                await run_rounds(fenced_by=leading.term)

        Raises Denied after `timeout_ms` (default and most: an hour) without leading. A
        second connection follows `elect:<group>` from before the join; when the leadership
        is lost while the block runs (batond could not renew it, the term ended, a later
        term began, or that connection closed or went silent for half the TTL, at least
        1 s), `lost` is set, the task running the block is cancelled, and the `async with`
        raises Lost instead of CancelledError (as lock(): a block that swallows the cancel
        gets Lost when it ends; a cancel from elsewhere at the same moment wins, on Python
        3.11 and later)."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("campaign() needs to run in an asyncio task")
        watch = await LossWatch.start(self._link, f"elect:{group}",
                                      f"the leadership of {group!r}", leader_event_from,
                                      leadership_loss, ttl_ms)  # before the join
        holder = self._link.dedicated()  # connects at its first call; closing it ends the term
        try:
            wait_ms = LONGEST_JOIN_MS if timeout_ms is None else timeout_ms
            reply = await holder.call_waiting(wait_ms, *join_args(group, candidate, ttl_ms,
                                                                  timeout_ms))
            leading = AsyncLeadership(group, candidate, joined_from(reply), watch)
            watch.arm(leading.term, task)
            if watch.loss is not None:
                raise _lost(leading, " before the block began", watch.loss)
            try:
                yield leading
            except BaseException as error:
                watch.disarm()
                if watch.loss is None:
                    with contextlib.suppress(Exception):  # closing the holder ends it too
                        await _resign(holder, group)
                    raise
                elsewhere = watch.cancelled_task and _undo_our_cancel(task)
                if isinstance(error, asyncio.CancelledError) and not elsewhere:
                    raise _lost(leading, " while the block ran", watch.loss) from None
                raise
            watch.disarm()
            if watch.loss is not None:  # the block swallowed our cancel, or ended as it came
                if watch.cancelled_task:
                    _undo_our_cancel(task)
                raise _lost(leading, " while the block ran", watch.loss)
            await _resign(holder, group)
        finally:
            try:  # a cancel while the holder closes must not skip the watch's close
                await holder.close()
            finally:
                await watch.close()

    async def leader(self, group: str) -> Leader | None:
        """ELECT LEADER: None when nobody leads."""
        return leader_from(await self._link.call("ELECT", "LEADER", group))

    async def observe_leaders(self, group: str) -> AsyncLeaderObserver:
        """An AsyncLeaderObserver of `group` (`SUBSCRIBE elect:<group>` on a connection of
        its own), subscribed on return. Close it (or use it in `async with`) when done."""
        channel = f"elect:{group}"
        first = await subscribed(self._link, channel)
        return AsyncLeaderObserver(first, lambda: subscribed(self._link, channel),
                                   leader_event_from, name=f"baton leaders {group}")


async def _resign(holder: AsyncLink, group: str) -> None:
    expect_ok(await holder.call("ELECT", "RESIGN", group))
