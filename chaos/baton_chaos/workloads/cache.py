"""Cache workload: one writer per key sets an increasing number through a random daemon, while
readers on every daemon GET the keys, mostly from their near caches. The checker: a read that
began a bound after a write completed returns that write's number or a later one (the near
caches heard the invalidation), unless it says it is degraded.
"""
from __future__ import annotations

import asyncio

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, run_clients, sleep_or_stop

WORKLOAD = "cache"
NAMESPACE = "chaos"


def cache_keys(settings: dict) -> list[str]:
    return [f"chaos-cache-{i}" for i in range(settings["cache"]["keys"])]


async def run(ctx: Context):
    settings = ctx.settings["cache"]
    writers = [asyncio.create_task(_writer(ctx, key)) for key in cache_keys(ctx.settings)]
    await asyncio.gather(run_clients(ctx, "cache", settings["clients"], _reader, settings),
                         *writers)


async def _writer(ctx: Context, key: str):
    h = ctx.history
    process = f"cache-writer-{key.rsplit('-', 1)[1]}"
    rng = ctx.rng(process)
    clients = {n: NodeClient(ctx, n) for n in ctx.nodes()}
    number = 0
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        node = rng.choice(ctx.nodes())
        number += 1
        try:
            conn = await asyncio.wait_for(clients[node].get(), 2.0)
            async with op(h, process, WORKLOAD, "set", node, {"key": key, "value": number}):
                await conn.call("CACHE", "SET", NAMESPACE, key, str(number), timeout=2.0)
        except (ReplyError, asyncio.TimeoutError):
            pass
        except Indefinite:
            clients[node].drop()
        await sleep_or_stop(ctx, rng.uniform(0.5, 1.5) * ctx.settings["cache"]["write_every_s"])
    for c in clients.values():
        c.drop()


async def _reader(ctx: Context, process: str, node: str, settings: dict):
    h = ctx.history
    rng = ctx.rng(process)
    client = NodeClient(ctx, node)
    keys = cache_keys(ctx.settings)
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        key = rng.choice(keys)
        try:
            conn = await client.get()
            async with op(h, process, WORKLOAD, "get", node, {"key": key},
                          definite_unavailable=True) as out:
                reply = await conn.call("CACHE", "GET", NAMESPACE, key, timeout=2.0)
                if reply is None:
                    out.value = {"value": None}
                else:
                    m = as_map(reply)
                    out.value = {"value": int(m["value"]), "source": m["source"],
                                 "degraded": int(m["degraded"])}
        except ReplyError:
            pass
        except Indefinite:
            client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.5, 1.5) * settings["interval_s"])
    client.drop()
