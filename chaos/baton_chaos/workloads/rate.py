"""Rate workload: clients on every daemon check two policies from the config on a few shared
keys, faster than the limits allow, so that admissions press against every window. The
checker counts admissions that certainly fell inside one window.
"""
from __future__ import annotations

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, run_clients, sleep_or_stop

WORKLOAD = "rate"


async def run(ctx: Context):
    settings = ctx.settings["rate"]
    await run_clients(ctx, "rate", settings["clients"], _client, settings)


async def _client(ctx: Context, process: str, node: str, settings: dict):
    h = ctx.history
    rng = ctx.rng(process)
    client = NodeClient(ctx, node)
    policies = [p["name"] for p in settings["policies"]]
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        policy = rng.choice(policies)
        key = f"key-{rng.randrange(settings['keys'])}"
        try:
            async with op(h, process, WORKLOAD, "check", node,
                          {"policy": policy, "key": key, "cost": 1}) as out:
                m = as_map(await conn.call("RATE", "CHECK", policy, key, timeout=2.0))
                out.value = {"allowed": int(m["allowed"]), "limited": int(m["limited"]),
                             "source": m["source"], "degraded": int(m["degraded"])}
        except ReplyError:
            pass
        except Indefinite:
            client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.5, 1.5) * settings["interval_s"])
    client.drop()
