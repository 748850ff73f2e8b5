"""Breaker workload: clients on every daemon guard their calls to one simulated dependency
with a fleet breaker. The dependency fails in phases (the same for every client: it is one
dependency, so a phase depends on the run's clock alone) and works between them. Each client
asks BREAKER CHECK before a call, makes it only if allowed, and REPORTs how it went. The
checker reads the CHECK answers: what each daemon admitted, in which state, at which
generation.
"""
from __future__ import annotations

import asyncio

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, run_clients, sleep_or_stop

WORKLOAD = "breaker"
NAME = "chaos-breaker"


def policy_yaml(settings: dict) -> str:
    """The breaker's policy, for the daemons' config (fleet.py)."""
    return (f"    - {{name: {NAME}, window: {{calls: {settings['window_calls']}}}, "
            f"minimum_calls: {settings['window_calls']}, open_ms: {settings['open_ms']}, "
            f"probe_timeout_ms: {settings['probe_timeout_ms']}, scope: fleet}}")


def dependency_failing(t: float, settings: dict) -> bool:
    """The dependency fails for the first `fail_s` of every `period_s`."""
    return t % settings["period_s"] < settings["fail_s"]


async def run(ctx: Context):
    settings = ctx.settings["breaker"]
    await run_clients(ctx, "breaker", settings["clients"], _client, settings)


async def _client(ctx: Context, process: str, node: str, settings: dict):
    h = ctx.history
    rng = ctx.rng(process)
    client = NodeClient(ctx, node)
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        try:
            conn = await client.get()
        except Indefinite:
            break
        allowed = False
        try:
            async with op(h, process, WORKLOAD, "check", node, {"name": NAME}) as out:
                m = as_map(await conn.call("BREAKER", "CHECK", NAME, timeout=2.0))
                allowed = m["allowed"] == 1
                out.value = {"allowed": m["allowed"], "state": m["state"], "probe": m["probe"],
                             "generation": m["generation"], "degraded": m["degraded"],
                             "fleet": m.get("fleet", 1)}
        except ReplyError:
            pass
        except Indefinite:
            h.event(process, WORKLOAD, "disconnect", node, {"reason": "check unknown"})
            client.drop()
            continue
        if allowed:
            failing = dependency_failing(h.now(), settings)
            await asyncio.sleep(rng.uniform(0.001, 0.01))  # the call itself
            try:
                async with op(h, process, WORKLOAD, "report", node,
                              {"name": NAME, "outcome": "fail" if failing else "ok"}):
                    await conn.call("BREAKER", "REPORT", NAME, "fail" if failing else "ok",
                                    timeout=2.0)
            except ReplyError:
                pass
            except Indefinite:
                h.event(process, WORKLOAD, "disconnect", node, {"reason": "report unknown"})
                client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.005, 0.03))
    if client.open:
        client.drop()
