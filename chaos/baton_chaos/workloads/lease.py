"""Lease workload: clients take a lease (with WAIT), and while they believe they hold it they
read and increment a counter in the harness's fenced store, renewing as they go. Now and then
a client stalls past its TTL (a GC pause in the app), so that a renewal after someone else
took the lease is exercised. The checker reads tokens, beliefs and the counter.
"""
from __future__ import annotations

import asyncio

from ..fenced_store import Fenced
from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, run_clients, sleep_or_stop

WORKLOAD = "lease"


def lease_names(settings: dict) -> list[str]:
    return [f"chaos-lease-{i}" for i in range(settings["lease"]["names"])]


async def run(ctx: Context):
    settings = ctx.settings["lease"]
    names = lease_names(ctx.settings)
    await run_clients(ctx, "lease", settings["clients"], _client, names, settings)


async def _client(ctx: Context, process: str, node: str, names: list[str], settings: dict):
    name = names[int(process.rsplit("-", 1)[1]) % len(names)]
    h = ctx.history
    rng = ctx.rng(process)
    ttl = settings["ttl_ms"]
    client = NodeClient(ctx, node)

    def abandon(token, reason):
        h.event(process, WORKLOAD, "abandon", node, {"name": name, "token": token,
                                                       "reason": reason})

    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        wait_ms = int(ttl * 1.5)
        try:
            async with op(h, process, WORKLOAD, "acquire", node,
                          {"name": name, "ttl_ms": ttl, "wait_ms": wait_ms},
                          definite_unavailable=True) as out:
                inv_t = h.now()
                reply = as_map(await conn.call("LEASE", "ACQUIRE", name, ttl, "WAIT", wait_ms,
                                               timeout=wait_ms / 1000 + 2))
                token, validity = int(reply["token"]), int(reply["validity_ms"])
                out.value = {"token": token, "validity_ms": validity}
        except ReplyError:
            await sleep_or_stop(ctx, rng.uniform(0.01, 0.05))
            continue
        except Indefinite:
            # The grant may have happened: closing the connection releases whatever it got.
            client.drop()
            await sleep_or_stop(ctx, 0.05)
            continue
        safe_until = inv_t + validity / 1000
        held = True
        for _ in range(rng.randint(2, 6)):
            if ctx.stop.is_set():
                break
            if rng.random() < settings["stall_probability"]:
                # The app stalls longer than its lease: it must find out by its renewal.
                await asyncio.sleep(ttl * rng.uniform(1.2, 1.6) / 1000)
            if safe_until - h.now() < ttl / 2000 or h.now() >= safe_until:
                try:
                    async with op(h, process, WORKLOAD, "renew", node,
                                  {"name": name, "token": token, "ttl_ms": ttl}) as out:
                        inv_t = h.now()
                        reply = as_map(await conn.call("LEASE", "RENEW", name, token, ttl,
                                                       timeout=2.0))
                        validity = int(reply["validity_ms"])
                        out.value = {"token": token, "validity_ms": validity}
                        safe_until = max(safe_until, inv_t + validity / 1000)
                except ReplyError as e:
                    abandon(token, f"renew refused: {e}")
                    break
                except Indefinite as e:
                    abandon(token, f"renew unknown: {e}")
                    client.drop()
                    held = False
                    break
            if not await _increment(ctx, process, node, name, token, safe_until, rng):
                abandon(token, "the belief ran out or the store refused")
                break
        if held and client.open:
            # Also after giving the grant up: if the lease is still ours, others need not
            # wait for its TTL.
            try:
                async with op(h, process, WORKLOAD, "release", node,
                              {"name": name, "token": token}, definite_unavailable=False):
                    await conn.call("LEASE", "RELEASE", name, token, timeout=2.0)
            except ReplyError:
                pass
            except Indefinite:
                client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.0, 0.03))
    client.drop()


async def _increment(ctx: Context, process: str, node: str, name: str, token: int,
                     safe_until: float, rng) -> bool:
    """Reads the counter, works a moment, writes it plus one; both steps only while the lease
    is believed held. False when the belief ran out or the store refused."""
    h = ctx.history
    if h.now() >= safe_until:
        return False
    inv = h.invoke(process, WORKLOAD, "read", node,
                   {"name": name, "token": token, "safe_until": round(safe_until, 6)})
    try:
        value = ctx.store.read(name, token)
    except Fenced as e:
        h.complete(inv, "fail", {"name": name, "token": token, "error": "fenced",
                                 "max_token": e.max_token})
        return False
    h.complete(inv, "ok", {"name": name, "token": token, "value": value})
    await asyncio.sleep(rng.uniform(0.0, 0.02))
    if h.now() >= safe_until:
        return False
    inv = h.invoke(process, WORKLOAD, "write", node,
                   {"name": name, "token": token, "value": value + 1,
                    "safe_until": round(safe_until, 6)})
    try:
        ctx.store.write(name, token, value + 1)
    except Fenced as e:
        h.complete(inv, "fail", {"name": name, "token": token, "value": value + 1,
                                 "error": "fenced", "max_token": e.max_token})
        return False
    h.complete(inv, "ok", {"name": name, "token": token, "value": value + 1})
    await asyncio.sleep(rng.uniform(0.0, 0.03))
    return True
