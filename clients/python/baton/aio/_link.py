"""The one place baton.aio talks to redis.asyncio (python3-redis 4.3, RESP2): pooled
connections to batond's Unix socket, calls that keep baton's error codes whole, calls that may
wait (LEASE ACQUIRE ... WAIT, EVENTS READ ... BLOCK) past the timeout, and connections of their
own for what batond ties to a connection (a KEEP lease, a claim) or turns into a subscriber.

Timeouts are asyncio's, around each exchange, not the socket's: a call cancelled or timed out
between its request and its reply drops its connection, so a late reply is never read as the
next call's, nor a late grant held by a pooled connection nobody knows holds it."""
from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.connection import PythonParser

from .._replies import Arg
from ..errors import error_from_reply


# As baton._link's parser: no exception classes, so every error arrives whole. (A class made
# with type(): the asyncio parser has __slots__, so an instance cannot be changed, and mypy
# sees redis-py as untyped, so a class statement could not subclass it.)
_ParserKeepingCodes: Any = type("_ParserKeepingCodes", (PythonParser,),
                                {"EXCEPTION_CLASSES": {}, "__slots__": ()})


class AsyncLink:
    """Calls to one batond from one event loop. Shared, it takes a pooled connection per call
    in flight; made by `dedicated()`, it keeps one connection and runs its calls one at a
    time."""

    def __init__(self, socket_path: str, timeout_s: float | None,
                 single_connection: bool = False) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self.pool: Any = redis.asyncio.ConnectionPool(
            connection_class=redis.asyncio.UnixDomainSocketConnection, path=socket_path,
            parser_class=_ParserKeepingCodes, socket_timeout=None)
        self._single = single_connection
        self._own: Any = None
        self._own_lock: asyncio.Lock | None = None

    async def call(self, *args: Arg) -> object:
        """One command; its reply as python3-redis parses it (bytes, int, list, None), or its
        error as a BatonError. No reply within `timeout_s`: redis.TimeoutError."""
        return await self._exchange(self.timeout_s, args)

    async def call_waiting(self, wait_ms: int, *args: Arg) -> object:
        """A command that batond may answer only after `wait_ms`: the timeout counts from
        then on."""
        patience = None if self.timeout_s is None else self.timeout_s + wait_ms / 1000
        return await self._exchange(patience, args)

    async def _exchange(self, patience: float | None, args: tuple[Arg, ...]) -> object:
        if self._single:
            if self._own_lock is None:
                self._own_lock = asyncio.Lock()
            async with self._own_lock:
                if self._own is None:
                    self._own = self.pool.make_connection()
                return await self._on(self._own, patience, args)
        conn = await self.pool.get_connection(str(args[0]))
        try:
            return await self._on(conn, patience, args)
        finally:
            await self.pool.release(conn)

    @staticmethod
    async def _on(conn: Any, patience: float | None, args: tuple[Arg, ...]) -> object:
        async def send_and_read() -> object:
            await conn.send_command(*args, check_health=False)
            return await conn.read_response()
        try:
            reply: object = await asyncio.wait_for(send_and_read(), patience)
        except redis.ResponseError as error:
            raise error_from_reply(str(error)) from None
        except asyncio.TimeoutError:
            await conn.disconnect()
            raise redis.TimeoutError(f"batond did not answer within {patience} s") from None
        except BaseException:
            await conn.disconnect()  # cancelled, or the connection broke: see the docstring
            raise
        return reply

    def dedicated(self) -> AsyncLink:
        """A link with one connection of its own to the same socket: what batond ties to a
        connection ends when `close()` closes it."""
        return AsyncLink(self.socket_path, self.timeout_s, single_connection=True)

    async def first_reply_then_close(self, *args: Arg) -> object:
        """One command on a fresh connection, its first reply, then the connection closes (for
        EVENTS WATCH when only its first answer is wanted)."""
        link = self.dedicated()
        try:
            return await link.call(*args)
        finally:
            await link.close()

    async def subscriber(self, *args: Arg) -> Subscriber:
        """A connection of its own that sends `args` (SUBSCRIBE ...) and reads the first reply
        within `timeout_s`; it then only reads messages (Subscriber)."""
        conn = self.pool.make_connection()
        try:
            first = await self._on(conn, self.timeout_s, args)
        except BaseException:
            await conn.disconnect()
            raise
        return Subscriber(conn, first)

    async def close(self) -> None:
        """Closes every connection (their KEEP leases and claims end with them)."""
        if self._own is not None:
            await self._own.disconnect()
            self._own = None
        await self.pool.disconnect()


async def stop_reader(reader: asyncio.Task[None] | None) -> None:
    """Cancels a task that reads a Subscriber and waits until it has ended. Waiting with
    asyncio.wait, not by awaiting the task, keeps the two cancellations apart: the reader's
    ends it quietly, and the caller's own (its task cancelled while it waits here) raises
    CancelledError here, as it should. What the reader ended with is taken (not left to be
    logged as never retrieved)."""
    if reader is None:
        return
    reader.cancel()
    await asyncio.wait({reader})
    if not reader.cancelled():
        reader.exception()


class Subscriber:
    """A connection in batond's watch mode: `first` is the answer to what put it there; then
    `read()` gives each message as python3-redis parses it (a list) and `ping()` asks for a
    ["pong", ...] to tell a silent daemon from a quiet channel. Errors of the connection
    (batond gone) are python3-redis' ConnectionError."""

    def __init__(self, conn: Any, first: object) -> None:
        self.first = first
        self._conn = conn

    async def read(self) -> object:
        try:
            reply: object = await self._conn.read_response()
        except redis.ResponseError as error:
            raise error_from_reply(str(error)) from None
        return reply

    async def ping(self) -> None:
        await self._conn.send_command("PING", check_health=False)

    async def close(self) -> None:
        await self._conn.disconnect()
