"""A TCP fault proxy between one daemon and Redis on loopback: the harness's stand-in for tc
netem (absent here), so it can partition, slow down or make lossy one daemon's Redis link
while the others stay healthy. It runs in the harness's event loop and never blocks it; in
"pass" mode a chunk is written as soon as it is read (no queue, no added sleep).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import ipaddress
import logging
import math
import random
import socket
import struct
import time
from typing import Optional

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
# Held bytes per direction before the pump stops reading: bounds memory when a slow link is
# fed faster than it delivers; the sender then feels a full window, as on a real link.
MAX_HELD_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT_S = 5.0
# After the last held chunk is due, how long set_mode("pass") waits for it to be written
# before reporting the heal anyway (a destination that does not read can hold it forever).
FLUSH_GRACE_S = 1.0
CLOSE_WAIT_S = 1.0
EOF = b""  # queued behind held data, so a close arrives after what was sent before it

# name -> {param: default}; None marks a required param. 200 ms: Linux's minimum RTO, the
# least a lost TCP segment costs before its retransmission.
MODE_PARAMS = {
    "pass": {},
    "partition": {},
    "slow": {"delay_ms": None},
    "lossy": {"stall_prob": 0.0, "stall_ms": 200.0, "reset_prob": 0.0},
}


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str = "pass"
    delay_ms: float = 0.0
    stall_prob: float = 0.0
    stall_ms: float = 0.0
    reset_prob: float = 0.0

    def hold_s(self, rng: random.Random) -> Optional[float]:
        """Seconds to hold the next chunk, or None to reset the connection. Lossy draws twice
        per chunk whatever the outcome, so one seed gives one sequence of decisions."""
        if self.name == "slow":
            return self.delay_ms / 1000.0
        if self.name == "lossy":
            reset_draw, stall_draw = rng.random(), rng.random()
            if reset_draw < self.reset_prob:
                return None
            return self.stall_ms / 1000.0 if stall_draw < self.stall_prob else 0.0
        return 0.0

    def params(self) -> dict:
        return {k: getattr(self, k) for k in MODE_PARAMS[self.name]}


def parse_mode(name: str, params: dict) -> Mode:
    """Checks a mode and its params, reporting every problem at once (ValueError)."""
    if name not in MODE_PARAMS:
        raise ValueError(f"unknown mode {name!r}: one of {', '.join(MODE_PARAMS)}")
    allowed, problems, values = MODE_PARAMS[name], [], {}
    problems += [f"{name}: unknown param {k!r}" for k in params if k not in allowed]
    for key, default in allowed.items():
        value = params.get(key, default)
        if value is None:
            problems.append(f"{name}: {key} is required")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            problems.append(f"{name}: {key}={value!r} is not a finite number")
        elif key.endswith("_prob") and not 0.0 <= value <= 1.0:
            problems.append(f"{name}: {key}={value} is not within [0, 1]")
        elif key.endswith("_ms") and value < 0:
            problems.append(f"{name}: {key}={value} is negative")
        else:
            values[key] = float(value)
    if problems:
        raise ValueError("; ".join(problems))
    return Mode(name, **values)


def loopback_host(host: str, role: str) -> str:
    """The IPv4 address to use for host; ValueError unless it is in 127.0.0.0/8. "localhost"
    becomes 127.0.0.1 so a listener on port 0 binds one family, hence one port."""
    if host == "localhost":
        return "127.0.0.1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8"):
            return host
    raise ValueError(f"{role} host {host!r} is not loopback (127.0.0.0/8 or localhost): "
                     "the proxy only joins a daemon and Redis on this machine")


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


class FaultProxy:
    """Listens on loopback and forwards each connection to upstream under the current mode.
    Modes: pass, partition, slow(delay_ms), lossy(stall_prob, stall_ms, reset_prob); see
    set_mode. Decisions come from random.Random(seed), one generator per connection and
    direction drawn in accept order, so a run with the same traffic makes the same ones."""

    def __init__(self, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1",
                 listen_port: int = 0, name: str = "", seed: int = 0):
        self.upstream_host = loopback_host(upstream_host, "upstream")
        self.listen_host = loopback_host(listen_host, "listen")
        for role, port, low in (("upstream", upstream_port, 1), ("listen", listen_port, 0)):
            if isinstance(port, bool) or not isinstance(port, int) or not low <= port <= 65535:
                raise ValueError(f"{role} port {port!r} is not within [{low}, 65535]")
        self.upstream_port, self.listen_port = upstream_port, listen_port
        self.name = name or f"proxy:{upstream_port}"
        self.rng = random.Random(seed)
        self.mode = Mode()
        self.links: set[Link] = set()
        self.counters = collections.Counter({k: 0 for k in (
            "accepted", "upstream_connect_failures", "bytes_to_upstream", "bytes_to_client",
            "chunks_dropped", "chunks_delayed", "chunks_reset", "closed_by_heal")})
        self.server: Optional[asyncio.AbstractServer] = None
        self.stopping = False
        self.mode_lock = asyncio.Lock()

    async def start(self) -> int:
        """Binds and returns the port it listens on."""
        if self.server is not None:
            raise RuntimeError(f"{self.name}: already started")
        self.server = await asyncio.start_server(self.accept, self.listen_host, self.listen_port)
        self.listen_port = self.server.sockets[0].getsockname()[1]
        log.info("%s: listening on %s:%d -> %s:%d", self.name, self.listen_host,
                 self.listen_port, self.upstream_host, self.upstream_port)
        return self.listen_port

    async def stop(self) -> None:
        """Closes the listener and every connection (both sides)."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
        links = list(self.links)
        for link in links:
            link.close("abort")
        await self.wait_links_closed(links)
        if self.server is not None:
            await self.server.wait_closed()

    async def set_mode(self, mode: str, **params) -> float:
        """Switches every existing and new connection to mode; returns time.monotonic() once
        it is in effect. Entering partition drops held chunks. Leaving it closes (RST) every
        connection that lived through it: its streams lost bytes, so it cannot go on, as a
        real connection would time out. Healing slow/lossy to pass first delivers held chunks
        at their due time (new ones queue behind them), then returns."""
        new = parse_mode(mode, params)  # raises before anything changes
        async with self.mode_lock:
            old, self.mode = self.mode, new
            if new.name == "partition":
                for link in self.links:
                    link.cut()
            elif old.name == "partition":
                survivors = [link for link in self.links if link.partitioned]
                for link in survivors:
                    link.close("reset")
                self.counters["closed_by_heal"] += len(survivors)
                await self.wait_links_closed(survivors)
            if new.name == "pass" and old.name in ("slow", "lossy"):
                await self.flush_held()
            log.info("%s: mode %s %s", self.name, new.name, new.params())
            return time.monotonic()

    def next_rng(self) -> random.Random:
        """A generator for one direction of one connection, drawn in accept order."""
        return random.Random(self.rng.getrandbits(64))

    def stats(self) -> dict:
        return {"name": self.name, "mode": self.mode.name, "params": self.mode.params(),
                "open": len(self.links), **self.counters}

    # -- internals -------------------------------------------------------------------------

    async def accept(self, client_reader, client_writer) -> None:
        self.counters["accepted"] += 1
        if self.stopping:
            shut(client_writer, "abort")
            return
        link = Link(self, self.counters["accepted"], client_reader, client_writer)
        link.tasks.append(asyncio.current_task())  # so close() cancels a pending connect
        self.links.add(link)
        if self.mode.name == "partition":
            # The upstream never hears of it (no SYN crosses); the client's bytes are dropped.
            link.partitioned = True
            link.start_pump(link.to_upstream)
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as e:
            self.counters["upstream_connect_failures"] += 1
            log.warning("%s: connection %d: upstream %s:%d unreachable (%r); closing the client",
                        self.name, link.number, self.upstream_host, self.upstream_port, e)
            link.close("reset")
            return
        if link.closed:
            shut(up_writer, "abort")
            return
        link.to_client.reader, link.to_upstream.writer = up_reader, up_writer
        link.start_pump(link.to_upstream)
        link.start_pump(link.to_client)

    async def flush_held(self) -> None:
        waiting = [d for link in self.links for d in (link.to_upstream, link.to_client) if d.held]
        if not waiting:
            return
        loop = asyncio.get_running_loop()
        last_due = max(due for d in waiting for due, _ in d.held)
        waits = [asyncio.create_task(d.idle.wait()) for d in waiting]
        timeout = max(0.0, last_due - loop.time()) + FLUSH_GRACE_S
        _, late = await asyncio.wait(waits, timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        if late:
            log.warning("%s: heal: %d directions still hold chunks (destination not reading)",
                        self.name, len(late))

    async def wait_links_closed(self, links: list[Link]) -> None:
        if not links:
            return
        waits = [asyncio.create_task(link.wait_closed()) for link in links]
        _, late = await asyncio.wait(waits, timeout=CLOSE_WAIT_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
