"""State workload: clients on every daemon increment a few shared counters by compare-and-set
(STATE GET, then STATE SET ... IFVERSION the version read; a CONFLICT means another won, and the
client reads again), as apps keep a balance or a sequence in baton. After the last fault each
client reads every counter once more (`final`). The checker: no two increments acknowledged
from one version, no value reached twice, every acknowledged increment in the final value, and
no read behind an increment acknowledged before it began.
"""
from __future__ import annotations

from ..history import op
from ..resp import Indefinite, ReplyError, as_map
from .base import Context, NodeClient, run_clients, sleep_or_stop

WORKLOAD = "state"
NAMESPACE = "chaos"


def counter_keys(settings: dict) -> list[str]:
    return [f"chaos-counter-{i}" for i in range(settings["state"]["keys"])]


async def run(ctx: Context):
    settings = ctx.settings["state"]
    await run_clients(ctx, "state", settings["clients"], _client, settings)


def _entry(reply):
    """(value, version) of a GET's answer; (0, 0) for no entry."""
    if reply is None:
        return 0, 0
    m = as_map(reply)
    return int(m["value"]), int(m["version"])


async def _read(ctx, client, process, node, key, f="read"):
    conn = await client.get()
    async with op(ctx.history, process, WORKLOAD, f, node, {"key": key},
                  definite_unavailable=True) as out:
        value, version = _entry(await conn.call("STATE", "GET", NAMESPACE, key, timeout=2.0))
        out.value = {"value": value, "version": version}
    return value, version


async def _client(ctx: Context, process: str, node: str, settings: dict):
    h = ctx.history
    rng = ctx.rng(process)
    client = NodeClient(ctx, node)
    keys = counter_keys(ctx.settings)
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        key = rng.choice(keys)
        try:
            value, version = await _read(ctx, client, process, node, key)
        except ReplyError:
            await sleep_or_stop(ctx, 0.05)
            continue
        except Indefinite:
            client.drop()
            continue
        try:
            conn = await client.get()
            async with op(h, process, WORKLOAD, "incr", node,
                          {"key": key, "from": value, "version": version}) as out:
                new = await conn.call("STATE", "SET", NAMESPACE, key, str(value + 1),
                                      "IFVERSION", str(version), timeout=2.0)
                out.value = {"to": value + 1, "new_version": int(new)}
        except ReplyError:
            pass  # CONFLICT: another client won; UNKNOWN/UNAVAILABLE: recorded as such
        except Indefinite:
            client.drop()
        await sleep_or_stop(ctx, rng.uniform(0.5, 1.5) * settings["interval_s"])
    # The final reads, once the faults are over: retried until they answer (or the run ends).
    for key in keys:
        while ctx.final_phase.is_set() and not ctx.stop.is_set():
            try:
                await _read(ctx, client, process, node, key, "final")
                break
            except (ReplyError, Indefinite):
                client.drop()
                await sleep_or_stop(ctx, 0.2)
    client.drop()
