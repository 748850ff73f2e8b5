"""A TCP fault proxy between one daemon and Redis on loopback: the harness's stand-in for tc
netem (absent here), so it can partition, slow down or make lossy one daemon's Redis link
while the others stay healthy. It runs in the harness's event loop and never blocks it; in
"pass" mode a chunk is written as soon as it is read (no queue, no added sleep). Its parts:
proxy_modes (what a mode is, checked), proxy_link (one connection's two pumps).
"""
from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from typing import Optional

from .proxy_link import Link, shut
from .proxy_link import EOF, MAX_HELD_BYTES, READ_SIZE, Direction  # noqa: F401 (re-exported)
from .proxy_modes import Mode, loopback_host, parse_mode
from .proxy_modes import MODE_PARAMS  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
# After the last held chunk is due, how long set_mode("pass") waits for it to be written
# before reporting the heal anyway (a destination that does not read can hold it forever).
FLUSH_GRACE_S = 1.0
CLOSE_WAIT_S = 1.0


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
