"""A small asyncio RESP2/RESP3 client for the harness's workload clients.

Why not redis-py: Debian 12's python3-redis (4.3) speaks RESP2 only, so it cannot receive
the RESP3 pushes (lease `lost`, session `handoff-out`) the workloads must record, and its
retry and reconnect logic would hide exactly the outcomes a history needs: here every call
either answers, raises `ReplyError` (a definite error from the server), or raises
`Indefinite` (timeout or lost connection: the outcome is unknown).
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional


class ReplyError(Exception):
    """A RESP error reply: the server refused, so nothing happened (unless the code says)."""

    @property
    def code(self) -> str:
        return str(self).split(" ", 1)[0]


class Indefinite(Exception):
    """No answer: a timeout or a lost connection. The request may or may not have happened."""


class Push(list):
    """A RESP3 push frame (`>`), kept apart from replies."""


def _encode(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        else:
            b = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Parser:
    """Incremental RESP2/3 parser; `feed` bytes, `get` a value or None when incomplete."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data: bytes):
        if self.pos > 65536:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data

    _NEED = object()

    def get(self):
        start = self.pos
        value = self._parse()
        if value is self._NEED:
            self.pos = start
            return self._NEED
        return value

    def _line(self):
        end = self.buf.find(b"\r\n", self.pos)
        if end < 0:
            return None
        line = bytes(self.buf[self.pos : end])
        self.pos = end + 2
        return line

    def _parse(self):
        line = self._line()
        if line is None:
            return self._NEED
        kind, rest = line[:1], line[1:]
        if kind in (b"+",):
            return rest.decode(errors="replace")
        if kind == b"-" or kind == b"!":
            if kind == b"!":
                n = int(rest)
                if len(self.buf) < self.pos + n + 2:
                    return self._NEED
                rest = bytes(self.buf[self.pos : self.pos + n])
                self.pos += n + 2
            return ReplyError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return rest == b"t"
        if kind == b"_":
            return None
        if kind in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            if len(self.buf) < self.pos + n + 2:
                return self._NEED
            data = bytes(self.buf[self.pos : self.pos + n])
            self.pos += n + 2
            return data.decode(errors="replace")
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = Push() if kind == b">" else []
            for _ in range(n):
                v = self._parse()
                if v is self._NEED:
                    return self._NEED
                items.append(v)
            return items
        if kind == b"%":
            n = int(rest)
            out = {}
            for _ in range(n):
                k = self._parse()
                if k is self._NEED:
                    return self._NEED
                v = self._parse()
                if v is self._NEED:
                    return self._NEED
                out[k] = v
            return out
        raise ValueError(f"unexpected RESP type {line!r}")


def as_map(reply) -> dict:
    """A RESP3 map, or a RESP2 flat array of pairs, as a dict."""
    if isinstance(reply, dict):
        return reply
    if isinstance(reply, list):
        return {reply[i]: reply[i + 1] for i in range(0, len(reply) - 1, 2)}
    raise ValueError(f"not a map: {reply!r}")


class Connection:
    """One connection to a Unix socket (batond) or TCP (Redis). Calls are pipelined in order;
    pushes go to `on_push`. After a timeout the connection is closed: the reply that may still
    come would otherwise be taken for the next call's."""

    def __init__(self, path: Optional[str] = None, host: Optional[str] = None,
                 port: Optional[int] = None, on_push: Optional[Callable[[list], None]] = None):
        self.path, self.host, self.port = path, host, port
        self.on_push = on_push
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self.waiting: list[asyncio.Future] = []
        self.reader_task: Optional[asyncio.Task] = None
        self.closed = True
        self.close_reason = ""

    async def open(self, timeout: float = 2.0, resp3: bool = False):
        try:
            if self.path:
                coro = asyncio.open_unix_connection(self.path)
            else:
                coro = asyncio.open_connection(self.host, self.port)
            self.reader, self.writer = await asyncio.wait_for(coro, timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise Indefinite(f"connect: {e!r}") from None
        self.closed = False
        self.reader_task = asyncio.get_running_loop().create_task(self._read_loop())
        if resp3:
            try:
                await self.call("HELLO", "3", timeout=timeout)
            except BaseException:
                await self.aclose()  # no half-open connection left behind
                raise
        return self

    async def _read_loop(self):
        parser = _Parser()
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while True:
                    value = parser.get()
                    if value is _Parser._NEED:
                        break
                    if isinstance(value, Push):
                        # The harness watches on RESP3 connections only: a push is a push.
                        if self.on_push:
                            self.on_push(list(value))
                        continue
                    if self.waiting:
                        fut = self.waiting.pop(0)
                        if not fut.done():
                            fut.set_result(value)
        except (OSError, asyncio.CancelledError, ValueError) as e:
            self.close_reason = repr(e)
        finally:
            self._fail_all("connection closed" + (f": {self.close_reason}" if self.close_reason else ""))

    def _fail_all(self, why: str):
        self.closed = True
        waiting, self.waiting = self.waiting, []
        for fut in waiting:
            if not fut.done():
                fut.set_exception(Indefinite(why))
        if self.writer:
            try:
                self.writer.close()
            except Exception:
                pass

    async def call(self, *args, timeout: float = 2.0) -> Any:
        """Sends one command and returns its reply; raises ReplyError or Indefinite."""
        if self.closed:
            raise Indefinite("connection closed")
        fut = asyncio.get_running_loop().create_future()
        self.waiting.append(fut)
        try:
            self.writer.write(_encode(args))
        except Exception as e:  # a broken pipe shows up on the next read too
            self.close()
            raise Indefinite(f"write: {e!r}") from None
        try:
            value = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            fut.cancel()  # nobody will read the "closed" error close() would put in it
            self.close()
            raise Indefinite(f"timeout after {timeout:.1f}s") from None
        if isinstance(value, ReplyError):
            raise value
        return value

    def close(self):
        if self.reader_task and not self.reader_task.done():
            self.reader_task.cancel()
        self._fail_all("closed by the client")

    async def aclose(self):
        self.close()
        if self.reader_task:
            try:
                await self.reader_task
            except BaseException:
                pass
