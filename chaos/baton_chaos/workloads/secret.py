"""Secret workload: one rotator rotates a secret about once a second through a random daemon,
while a reader per daemon GETs it and VERIFYs the values of the versions it has seen (the
current one and the one before, which must verify during its grace). The checker reads the
versions each daemon served and the refusals.
"""
from __future__ import annotations

import asyncio
import hashlib

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, sleep_or_stop

WORKLOAD = "secret"
NAME = "chaos-secret"


def value_id(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


async def run(ctx: Context):
    known: dict[int, str] = {}  # version -> value, as read by any GET
    tasks = [asyncio.create_task(_rotator(ctx))]
    tasks += [asyncio.create_task(_reader(ctx, node, known)) for node in ctx.nodes()]
    await asyncio.gather(*tasks)


async def _rotator(ctx: Context):
    h = ctx.history
    process = "secret-rotator"
    rng = ctx.rng(process)
    clients = {n: NodeClient(ctx, n) for n in ctx.nodes()}
    period = ctx.settings["secret"]["rotate_every_s"]
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        await sleep_or_stop(ctx, rng.uniform(period * 0.5, period * 1.5))
        node = rng.choice(ctx.nodes())
        try:
            conn = await asyncio.wait_for(clients[node].get(), 2.0)
        except (asyncio.TimeoutError, Indefinite):
            continue
        try:
            async with op(h, process, WORKLOAD, "rotate", node, {"name": NAME}) as out:
                r = as_map(await conn.call("SECRET", "ROTATE", NAME, timeout=5.0))
                out.value = {"version": int(r["version"]),
                             "previous": int(r.get("previous") or 0)}
        except ReplyError:
            pass
        except Indefinite:
            clients[node].drop()
    for c in clients.values():
        c.drop()


async def _reader(ctx: Context, node: str, known: dict[int, str]):
    h = ctx.history
    process = f"secret-{node}"
    rng = ctx.rng(process)
    client = NodeClient(ctx, node)
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        try:
            async with op(h, process, WORKLOAD, "get", node, {"name": NAME},
                          definite_unavailable=True) as out:
                r = await conn.call("SECRET", "GET", NAME, timeout=2.0)
                if r is None:
                    out.value = {"version": None}
                else:
                    m = as_map(r)
                    version = int(m["version"])
                    out.value = {"version": version, "value_id": value_id(m["value"]),
                                 "degraded": int(m.get("degraded") or 0)}
                    known.setdefault(version, m["value"])
            if known:
                newest = max(known)
                version = rng.choice([v for v in (newest, newest - 1) if v in known])
                value = known[version]
                async with op(h, process, WORKLOAD, "verify", node,
                              {"name": NAME, "version": version, "value_id": value_id(value)},
                              definite_unavailable=True) as out:
                    r = await conn.call("SECRET", "VERIFY", NAME, value, timeout=2.0)
                    if r is None:  # no such secret (Redis lost it): nothing to match
                        out.value = {"match": 0, "version": None, "absent": True}
                    else:
                        m = as_map(r)
                        out.value = {"match": int(m["match"]),
                                     "version": int(m["version"]) if m.get("version") else None,
                                     "state": m.get("state"),
                                     "degraded": int(m.get("degraded") or 0)}
        except ReplyError:
            pass
        except Indefinite:
            client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.02, 0.06))
    client.drop()
