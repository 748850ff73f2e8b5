"""What every workload shares: the run context (history, fleet, seeded randomness, stop
signal) and a client connection to one daemon that reconnects when its daemon comes back.
Connecting is not an operation: only requests are recorded.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from ..fenced_store import FencedStore
from ..history import History
from ..resp import Connection, Indefinite

if TYPE_CHECKING:  # the fleet imports nothing of the workloads; only a type is named here
    from ..fleet import Fleet


@dataclass
class Context:
    history: History
    fleet: "Fleet"
    settings: dict
    seed: int
    stop: asyncio.Event
    final_phase: asyncio.Event
    store: FencedStore = field(default_factory=FencedStore)

    def rng(self, process: str) -> random.Random:
        # One stream per process: a process's choices do not depend on the others' timing.
        return random.Random(f"{self.seed}/{process}")

    def nodes(self) -> list[str]:
        return list(self.fleet.daemons)

    def socket(self, node: str) -> str:
        return self.fleet.daemons[node].socket


class NodeClient:
    """A connection to one daemon, opened on demand (RESP3 when pushes matter)."""

    def __init__(self, ctx: Context, node: str, resp3: bool = False,
                 on_push: Optional[Callable[[list], None]] = None,
                 after_open: Optional[Callable] = None):
        self.ctx, self.node, self.resp3 = ctx, node, resp3
        self.on_push, self.after_open = on_push, after_open
        self.conn: Optional[Connection] = None

    async def get(self) -> Connection:
        """A live connection; retries until the daemon answers or the run stops."""
        while True:
            if self.conn is not None and not self.conn.closed:
                return self.conn
            if self.ctx.stop.is_set():
                raise Indefinite("the run is stopping")
            conn = Connection(path=self.ctx.socket(self.node), on_push=self.on_push)
            try:
                await conn.open(timeout=1.0, resp3=self.resp3)
                if self.after_open:
                    await self.after_open(conn)
                self.conn = conn
                return conn
            except Exception:
                conn.close()
                await asyncio.sleep(0.1)

    def drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @property
    def open(self) -> bool:
        return self.conn is not None and not self.conn.closed


async def run_clients(ctx: Context, prefix: str, count: int, client, *args):
    """Runs `count` clients named <prefix>-<i>, spread over the daemons in turn, until all
    end: `client(ctx, process, node, *args)`."""
    nodes = ctx.nodes()
    await asyncio.gather(*(client(ctx, f"{prefix}-{i}", nodes[i % len(nodes)], *args)
                           for i in range(count)))


async def sleep_or_stop(ctx: Context, seconds: float):
    try:
        await asyncio.wait_for(ctx.stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
