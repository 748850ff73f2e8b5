"""Leases for asyncio (protocol/API.md, "Leases"), the sync module's arguments and replies, and
`async with baton.lock(name) as token:`, which cancels the block when the lease is lost."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import AsyncIterator

from .._replies import expect_ok
from ..errors import Lost
from ..leases import (Lease, LeaseInfo, _lease_from, acquire_args, lease_event_from,
                      lease_info_from, lease_loss, renew_args)
from ._link import AsyncLink
from ._loss_watch import LossWatch


async def acquire_on(link: AsyncLink, name: str, ttl_ms: int, keep: bool = False,
                     wait_ms: int | None = None, meta: str | None = None) -> Lease:
    args = acquire_args(name, ttl_ms, keep=keep, wait_ms=wait_ms, meta=meta)
    sent_at = time.monotonic()
    reply = await (link.call_waiting(wait_ms, *args) if wait_ms else link.call(*args))
    return _lease_from(name, reply, sent_at)


async def release_on(link: AsyncLink, name: str, token: int) -> None:
    expect_ok(await link.call("LEASE", "RELEASE", name, token))


def _undo_our_cancel(task: asyncio.Task[object]) -> bool:
    """Takes back the cancel the watch sent; True if the task is still being cancelled by
    someone else (Python 3.11's count; 3.10 cannot tell, and answers False)."""
    uncancel = getattr(task, "uncancel", None)
    if uncancel is None:
        return False
    remaining: int = uncancel()
    return remaining > 0


class AsyncLeaseCalls:
    _link: AsyncLink

    async def acquire(self, name: str, ttl_ms: int, keep: bool = False,
                      wait_ms: int | None = None, meta: str | None = None) -> Lease:
        """LEASE ACQUIRE, as Baton.acquire. For mutual exclusion between tasks, use lock()."""
        return await acquire_on(self._link, name, ttl_ms, keep=keep, wait_ms=wait_ms,
                                meta=meta)

    async def renew(self, name: str, token: int, ttl_ms: int | None = None) -> Lease:
        """LEASE RENEW: extends, never shortens. Raises Lost once it lapsed or is another's."""
        sent_at = time.monotonic()
        reply = await self._link.call(*renew_args(name, token, ttl_ms))
        return _lease_from(name, reply, sent_at)

    async def release(self, name: str, token: int) -> None:
        """LEASE RELEASE. Raises NotHeld (not held under that token) or Lost (it had lapsed)."""
        await release_on(self._link, name, token)

    async def lease_info(self, name: str) -> LeaseInfo | None:
        """LEASE INFO: None when the lease is free."""
        return lease_info_from(await self._link.call("LEASE", "INFO", name))

    @contextlib.asynccontextmanager
    async def lock(self, name: str, ttl_ms: int = 10_000, wait_ms: int | None = None,
                   meta: str | None = None) -> AsyncIterator[int]:
        """Holds the lease `name` while the block runs and gives it the fencing token:

            async with baton.lock("nightly-report") as token:
                await write_report(fenced_by=token)

        The lease is taken with KEEP on a connection of its own (batond renews it while the
        block runs) and released when the block ends. Raises Denied if another holds it
        (after `wait_ms` of queueing, if given).

        If the lease is lost while the block runs (batond could not renew it in time, an
        admin released it, another holder took it, or the connection that watches it closed
        or went silent for half the TTL, at least 1 s), the task running the block is
        cancelled, and the `async with` raises Lost instead of CancelledError. The block
        should not swallow CancelledError; if it does, Lost is raised when it ends. A
        cancellation from elsewhere at the same moment wins (CancelledError), on Python 3.11
        and later."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("lock() needs to run in an asyncio task")
        watch = await LossWatch.start(self._link, f"lease:{name}", f"the lease {name!r}",
                                      lease_event_from, lease_loss, ttl_ms)  # before the grant
        holder = self._link.dedicated()  # connects at its first call
        try:
            lease = await acquire_on(holder, name, ttl_ms, keep=True, wait_ms=wait_ms,
                                     meta=meta)
            watch.arm(lease.token, task)
            if watch.loss is not None:
                raise _lost(lease, "before the block began", watch.loss)
            try:
                yield lease.token
            except BaseException as error:
                watch.disarm()
                if watch.loss is None:
                    with contextlib.suppress(Exception):  # closing the holder releases it
                        await release_on(holder, name, lease.token)
                    raise
                elsewhere = watch.cancelled_task and _undo_our_cancel(task)
                if isinstance(error, asyncio.CancelledError) and not elsewhere:
                    raise _lost(lease, "while the block ran", watch.loss) from None
                raise
            watch.disarm()
            if watch.loss is not None:  # the block swallowed our cancel
                if watch.cancelled_task:
                    _undo_our_cancel(task)
                raise _lost(lease, "while the block ran", watch.loss)
            await release_on(holder, name, lease.token)
        finally:
            try:  # a cancel while the holder closes must not skip the watch's close
                await holder.close()
            finally:
                await watch.close()


def _lost(lease: Lease, when: str, reason: str) -> Lost:
    return Lost("LOST", f"lease '{lease.name}' under token {lease.token} was lost {when}: "
                        f"{reason}")
