"""One proxied connection (proxy.py): a Link is an accepted client and its upstream
connection; each of its two Directions pumps bytes one way, writing each chunk at once or
holding it until its due time as the proxy's current mode decides, without reordering.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import socket
import struct
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .proxy import FaultProxy

READ_SIZE = 64 * 1024
# Held bytes per direction before the pump stops reading: bounds memory when a slow link is
# fed faster than it delivers; the sender then feels a full window, as on a real link.
MAX_HELD_BYTES = 4 * 1024 * 1024
EOF = b""  # queued behind held data, so a close arrives after what was sent before it


def shut(writer: asyncio.StreamWriter, how: str) -> None:
    """how: "flush" (FIN after buffered data), "abort" (drop the buffer), "reset" (RST, which a
    peer reads as ECONNRESET: SO_LINGER 0 makes close() send it)."""
    transport = writer.transport
    if how == "reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if how == "flush":
        transport.close()
    else:
        transport.abort()


class Direction:
    """One way of one connection: a pump that reads, decides each chunk's fate from the
    proxy's mode, and writes it at once or queues it (due time, bytes) for a deliverer task,
    which keeps the order: a chunk never overtakes one held before it."""

    def __init__(self, link: "Link", bytes_key: str, rng: random.Random):
        self.link, self.bytes_key, self.rng = link, bytes_key, rng
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self.held: collections.deque[tuple[float, bytes]] = collections.deque()
        self.held_bytes = 0
        self.idle = asyncio.Event()  # nothing held
        self.idle.set()
        self.room = asyncio.Event()  # held_bytes under MAX_HELD_BYTES
        self.room.set()
        self.deliverer: Optional[asyncio.Task] = None

    async def pump(self) -> None:
        stats = self.link.proxy.counters
        while not self.link.closed:
            try:
                data: Optional[bytes] = await self.reader.read(READ_SIZE)
            except OSError:
                data = None
            if self.link.partitioned:
                # A pulled cable: neither bytes nor a close cross. Read on, so the sender is
                # not blocked by us, and drop what comes.
                if not data:
                    return
                stats["chunks_dropped"] += 1
                continue
            if data is None:
                self.link.close("reset")
                return
            hold_s = 0.0 if data == EOF else self.link.proxy.mode.hold_s(self.rng)
            if hold_s is None:
                stats["chunks_reset"] += 1
                self.link.close("reset")
                return
            if hold_s > 0:
                stats["chunks_delayed"] += 1
            await self.send(data, hold_s)
            if data == EOF:
                return

    async def send(self, data: bytes, hold_s: float) -> None:
        if hold_s <= 0 and not self.held:
            if self.put(data):
                await self.drain()
            return
        self.held.append((asyncio.get_running_loop().time() + hold_s, data))
        self.held_bytes += len(data)
        self.idle.clear()
        if self.deliverer is None or self.deliverer.done():
            self.deliverer = asyncio.create_task(self.deliver())
        while self.held_bytes > MAX_HELD_BYTES and not self.link.closed:
            self.room.clear()
            await self.room.wait()

    async def deliver(self) -> None:
        loop = asyncio.get_running_loop()
        while self.held:
            due, data = self.held[0]
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
                continue  # the queue may have been dropped or changed meanwhile
            self.held.popleft()
            self.held_bytes -= len(data)
            if self.held_bytes <= MAX_HELD_BYTES:
                self.room.set()
            if not self.held:
                self.idle.set()  # set before the write's drain: put() hands it over now
            if not self.put(data):
                return
            await self.drain()
        self.idle.set()

    def put(self, data: bytes) -> bool:
        """Hands a chunk (or EOF) to the destination; False when the link is gone."""
        if data == EOF:
            self.link.close("flush")
            return False
        if self.link.closed or self.writer.transport.is_closing():
            self.link.close("reset")
            return False
        self.writer.write(data)
        self.link.proxy.counters[self.bytes_key] += len(data)
        return True

    async def drain(self) -> None:
        try:
            await self.writer.drain()
        except OSError:
            self.link.close("reset")

    def drop_held(self) -> None:
        self.link.proxy.counters["chunks_dropped"] += sum(1 for _, d in self.held if d != EOF)
        self.held.clear()
        self.held_bytes = 0
        self.idle.set()
        self.room.set()


class Link:
    """One accepted client and its upstream connection. Closing either side closes both."""

    def __init__(self, proxy: "FaultProxy", number: int, client_reader, client_writer):
        self.proxy, self.number = proxy, number
        self.closed = False
        self.partitioned = False  # lived through a partition: its streams lost bytes
        self.tasks: list[asyncio.Task] = []
        self.to_upstream = Direction(self, "bytes_to_upstream", proxy.next_rng())
        self.to_client = Direction(self, "bytes_to_client", proxy.next_rng())
        self.to_upstream.reader, self.to_client.writer = client_reader, client_writer

    def start_pump(self, direction: Direction) -> None:
        self.tasks.append(asyncio.create_task(direction.pump()))

    def cut(self) -> None:
        self.partitioned = True
        self.to_upstream.drop_held()
        self.to_client.drop_held()

    def close(self, how: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.links.discard(self)
        current = asyncio.current_task()
        for d in (self.to_upstream, self.to_client):
            d.drop_held()
            if d.deliverer is not None:
                self.tasks.append(d.deliverer)
            if d.writer is not None:
                shut(d.writer, how)
        for task in self.tasks:
            if task is not current:
                task.cancel()

    async def wait_closed(self) -> None:
        current = asyncio.current_task()
        await asyncio.gather(*(t for t in self.tasks if t is not current), return_exceptions=True)
        for writer in (self.to_upstream.writer, self.to_client.writer):
            if writer is not None:
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

