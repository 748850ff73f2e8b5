"""Election workload: candidates join a group, lead for a while appending their term to a
fenced log kept by the harness, then resign or drop their connection; one observer per
daemon watches the group's leaders (`ELECT WATCH`). The checker reads terms per observer,
leaders per term and the log.
"""
from __future__ import annotations

import asyncio

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, sleep_or_stop

WORKLOAD = "election"
GROUP = "chaos-group"


class FencedLog:
    """Appends terms; refuses a term lower than the highest appended (fencing by term)."""

    def __init__(self):
        self.max_term = 0
        self.entries: list[int] = []

    def append(self, term: int) -> bool:
        if term < self.max_term:
            return False
        self.max_term = term
        self.entries.append(term)
        return True


async def run(ctx: Context):
    settings = ctx.settings["election"]
    nodes = ctx.nodes()
    log = FencedLog()
    tasks = [asyncio.create_task(_candidate(ctx, f"elect-{i}", nodes[i % len(nodes)], log,
                                            settings))
             for i in range(settings["candidates"])]
    tasks += [asyncio.create_task(_observer(ctx, node)) for node in nodes]
    await asyncio.gather(*tasks)


async def _candidate(ctx: Context, process: str, node: str, log: FencedLog, settings: dict):
    h = ctx.history
    rng = ctx.rng(process)
    ttl = settings["ttl_ms"]
    lost = asyncio.Event()

    def on_push(push):
        # ["elect", "lost", group, term, candidate, node]: this daemon could not renew.
        if len(push) >= 4 and push[0] == "elect" and push[1] == "lost":
            h.event(process, WORKLOAD, "lost", node, {"group": push[2], "term": int(push[3])})
            lost.set()

    client = NodeClient(ctx, node, resp3=True, on_push=on_push)
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        lost.clear()
        try:
            async with op(h, process, WORKLOAD, "join", node,
                          {"group": GROUP, "candidate": process, "ttl_ms": ttl},
                          definite_unavailable=True) as out:
                reply = as_map(await conn.call("ELECT", "JOIN", GROUP, process, "TTL", ttl,
                                               "TIMEOUT", 4000, timeout=6.0))
                term = int(reply["term"])
                out.value = {"term": term, "validity_ms": int(reply["validity_ms"])}
        except ReplyError:
            await sleep_or_stop(ctx, rng.uniform(0.01, 0.1))
            continue
        except Indefinite:
            client.drop()
            continue
        lead_until = h.now() + rng.uniform(0.2, 1.2)
        while h.now() < lead_until and not lost.is_set() and client.open and not ctx.stop.is_set():
            inv = h.invoke(process, WORKLOAD, "log", node, {"group": GROUP, "term": term})
            if log.append(term):
                h.complete(inv, "ok", {"group": GROUP, "term": term})
            else:
                h.complete(inv, "fail", {"group": GROUP, "term": term, "error": "fenced",
                                         "max_term": log.max_term})
                break
            await asyncio.sleep(rng.uniform(0.05, 0.15))
        if rng.random() < 0.3 or not client.open:
            client.drop()  # leadership ends with the connection
        else:
            try:
                async with op(h, process, WORKLOAD, "resign", node,
                              {"group": GROUP, "term": term}):
                    await conn.call("ELECT", "RESIGN", GROUP, timeout=2.0)
            except ReplyError:
                pass
            except Indefinite:
                client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.0, 0.2))
    client.drop()


async def _observer(ctx: Context, node: str):
    h = ctx.history
    process = f"elect-watch-{node}"

    def on_push(push):
        # ["elect", event, group, term, candidate, node]
        if len(push) >= 6 and push[0] == "elect":
            h.event(process, WORKLOAD, "leader", node,
                    {"group": push[2], "event": push[1], "term": int(push[3] or 0),
                     "candidate": push[4], "node": push[5]})

    async def watch(conn):
        await conn.call("ELECT", "WATCH", GROUP, timeout=3.0)

    client = NodeClient(ctx, node, resp3=True, on_push=on_push, after_open=watch)
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        # Stay until the connection breaks (the daemon restarts), then watch again.
        while not conn.closed and not ctx.stop.is_set() and not ctx.final_phase.is_set():
            await sleep_or_stop(ctx, 0.1)
    client.drop()
