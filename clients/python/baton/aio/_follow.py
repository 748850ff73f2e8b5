"""Following what batond pushes, for asyncio: a task that reads a Subscriber (a connection in
watch mode, where pushes arrive as plain arrays), parses each push with the sync module's
parser, and hands what it means to a callback or a queue; when the connection breaks (batond
restarted) it subscribes again, pausing up to 2 s between attempts, and tells `on_reconnect`
(to read again what may have changed meanwhile). The asyncio half of baton._follow.Follower."""
from __future__ import annotations

import asyncio
import inspect
import logging
from types import TracebackType
from typing import Any, Awaitable, Callable, Generic, TypeVar

from .._replies import as_list, as_text
from ..errors import UnexpectedReply
from ._link import AsyncLink, Subscriber, stop_reader

log = logging.getLogger("baton")

T = TypeVar("T")
F = TypeVar("F", bound="AsyncFollower[Any]")  # a subclass, as itself in `async with`
FIRST_PAUSE_S = 0.1
LONGEST_PAUSE_S = 2.0


async def subscribed(link: AsyncLink, channel: str) -> Subscriber:
    """A Subscriber of `channel` (SUBSCRIBE on a connection of its own), its confirmation
    read and checked."""
    subscriber = await link.subscriber("SUBSCRIBE", channel)
    confirmed = as_list(subscriber.first)
    if len(confirmed) != 3 or as_text(confirmed[0]) != "subscribe":
        await subscriber.close()
        raise UnexpectedReply(f"SUBSCRIBE {channel} answered {subscriber.first!r:.200}")
    return subscriber


async def call_back(callback: Callable[..., object], *args: object) -> None:
    """Calls a plain function or a coroutine function (its coroutine awaited) and logs what
    it raises: an app's callback must not end the task that calls it."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:  # noqa: BLE001
        log.exception("baton: a follower's callback raised")


class AsyncFollower(Generic[T]):
    """A task reading `subscriber`, made by `subscribe` (awaited again after a failure). Each
    push goes through `parse`; what it answers (None: nothing to tell) is awaited by
    `on_item` when given, else queued for `next_item()` and `async for`. Runs until
    `close()`; `error` is the last failure of the connection while it subscribes again."""

    def __init__(self, subscriber: Subscriber, subscribe: Callable[[], Awaitable[Subscriber]],
                 parse: Callable[[object], T | None], name: str,
                 on_item: Callable[[T], Awaitable[None]] | None = None,
                 on_reconnect: Callable[[], Awaitable[None]] | None = None) -> None:
        self.error: BaseException | None = None
        self._subscriber = subscriber
        self._subscribe = subscribe
        self._parse = parse
        self._on_item = on_item
        self._on_reconnect = on_reconnect
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()
        self._ended = False
        self._reader = asyncio.create_task(self._run(), name=name)

    @property
    def alive(self) -> bool:
        """False once closed."""
        return not self._reader.done()

    async def next_item(self, timeout_s: float | None = None) -> T | None:
        """The next item, or None if none came within `timeout_s` or the follower ended."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout_s)
        except (StopAsyncIteration, asyncio.TimeoutError):
            return None

    def __aiter__(self: F) -> F:
        return self

    async def __anext__(self) -> T:
        item = None if self._ended else await self._queue.get()
        if item is None:
            self._ended = True
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        """Stops the task and closes the connection it holds; a cancel of the caller's own
        while it waits is raised (after the connection is closed)."""
        try:
            await stop_reader(self._reader)
        finally:
            await self._subscriber.close()

    async def __aenter__(self: F) -> F:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    # -- the task -------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                try:
                    await self._read_until_broken()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 (any failure ends this connection)
                    self.error = error
                    await self._subscriber.close()
                    await self._subscribe_again()
        finally:
            self._queue.put_nowait(None)

    async def _read_until_broken(self) -> None:
        while True:
            message = await self._subscriber.read()
            try:
                item = self._parse(message)
            except Exception:  # noqa: BLE001 (a newer daemon's push: say so, go on)
                log.warning("baton: a push this library does not understand: %.200r",
                            message, exc_info=True)
                continue
            if item is None:
                continue
            if self._on_item is None:
                self._queue.put_nowait(item)
            else:
                await call_back(self._on_item, item)

    async def _subscribe_again(self) -> None:
        pause = FIRST_PAUSE_S
        while True:
            await asyncio.sleep(pause)
            try:
                self._subscriber = await self._subscribe()
            except Exception as error:  # noqa: BLE001 (batond still away: try again)
                self.error = error
                pause = min(pause * 2, LONGEST_PAUSE_S)
                continue
            self.error = None
            if self._on_reconnect is not None:
                await call_back(self._on_reconnect)
            return
