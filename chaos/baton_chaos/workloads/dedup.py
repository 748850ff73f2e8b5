"""Idempotency workload: clients on every daemon claim the same keys at the same time (the key
changes every couple of seconds); whoever gets `new` works a moment and completes it, or now
and then drops its connection first (a crash), which releases the claim for a retry. The
checker reads the `new` grants and the results.
"""
from __future__ import annotations

import asyncio

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, run_clients, sleep_or_stop

WORKLOAD = "dedup"


async def run(ctx: Context):
    settings = ctx.settings["dedup"]
    await run_clients(ctx, "dedup", settings["clients"], _client, settings)


async def _client(ctx: Context, process: str, node: str, settings: dict):
    h = ctx.history
    rng = ctx.rng(process)
    client = NodeClient(ctx, node)
    ttl = settings["ttl_ms"]

    def disconnect(reason):
        h.event(process, WORKLOAD, "disconnect", node, {"reason": reason})
        client.drop()

    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        key = f"chaos-dedup-{int(h.now() / settings['key_every_s'])}"
        status = None
        try:
            async with op(h, process, WORKLOAD, "claim", node, {"key": key, "ttl_ms": ttl}) as out:
                m = as_map(await conn.call("DEDUP", "CLAIM", key, ttl, timeout=2.0))
                status = m["status"]
                out.value = {"status": status, "result": m.get("result")}
        except ReplyError as e:
            if e.code == "UNAVAILABLE":  # the claim may have been made: give it back
                disconnect("claim unknown")
        except Indefinite:
            disconnect("claim unknown")
        if status == "new":
            await asyncio.sleep(rng.uniform(0.02, 0.15))
            if rng.random() < settings["crash_probability"]:
                disconnect("crashed before done")
            else:
                result = f"{process}@{h.now():.3f}"
                try:
                    async with op(h, process, WORKLOAD, "done", node,
                                  {"key": key, "result": result}):
                        await conn.call("DEDUP", "DONE", key, result, timeout=2.0)
                except ReplyError:
                    pass
                except Indefinite:
                    disconnect("done unknown")
        await sleep_or_stop(ctx, rng.uniform(0.02, 0.1))
    if client.open:
        disconnect("the run ended")
