"""Events workload: a publisher appends numbered events to one topic through a random daemon,
each with a DEDUP key of its number, and sends a number again (to another daemon) when its
answer was lost; readers follow the topic from their last id, moving to a random daemon after every few
reads (as a browser reconnecting through a load balancer would). The checker: each reader saw
the events in id order, each once, with none missing between the first and the last it saw,
and no number is in the topic twice.
"""
from __future__ import annotations

import asyncio

from ..history import op
from ..resp import Indefinite, ReplyError
from .base import Context, NodeClient, sleep_or_stop

WORKLOAD = "events"
TOPIC = "chaos-events"


async def run(ctx: Context):
    settings = ctx.settings["events"]
    tasks = [asyncio.create_task(_publisher(ctx, settings))]
    tasks += [asyncio.create_task(_reader(ctx, f"events-reader-{i}", settings))
              for i in range(settings["readers"])]
    await asyncio.gather(*tasks)


async def _publisher(ctx: Context, settings: dict):
    h = ctx.history
    process = "events-publisher"
    rng = ctx.rng(process)
    clients = {n: NodeClient(ctx, n) for n in ctx.nodes()}
    number = 0
    resend = False  # the last number's answer was lost: send it again, same DEDUP key
    while not ctx.stop.is_set() and not ctx.final_phase.is_set():
        node = rng.choice(ctx.nodes())
        if not resend:
            number += 1
        resend = False
        try:
            conn = await asyncio.wait_for(clients[node].get(), 2.0)
            async with op(h, process, WORKLOAD, "publish", node, {"value": number}) as out:
                event_id = await conn.call("EVENTS", "PUBLISH", TOPIC, str(number),
                                           "DEDUP", f"n{number}", timeout=2.0)
                out.value = {"id": event_id}
        except ReplyError as e:
            resend = e.code == "UNKNOWN"  # batond could not tell: it may be in the topic
        except asyncio.TimeoutError:
            pass
        except Indefinite:
            clients[node].drop()
            resend = True
        await sleep_or_stop(ctx, rng.uniform(0.5, 1.5) * settings["publish_every_s"])
    for c in clients.values():
        c.drop()


async def _reader(ctx: Context, process: str, settings: dict):
    """Reads from its last id; after a few reads (or any trouble) moves to a random daemon.
    Runs on into the final phase until a read comes back empty, so it ends caught up."""
    h = ctx.history
    rng = ctx.rng(process)
    last = "0"
    client = None
    reads_left = 0
    while not ctx.stop.is_set():
        if client is None or reads_left == 0:
            if client is not None:
                client.drop()
            node = rng.choice(ctx.nodes())
            client = NodeClient(ctx, node)
            reads_left = rng.randint(1, 4)
        reads_left -= 1
        try:
            conn = await asyncio.wait_for(client.get(), 2.0)
            async with op(h, process, WORKLOAD, "read", client.node, {"after": last},
                          definite_unavailable=True) as out:
                batch = await conn.call("EVENTS", "READ", TOPIC, "FROM", last, "COUNT",
                                        str(rng.randint(1, 8)), "BLOCK", "200", timeout=3.0)
                got = [[str(i), int(p)] for i, p in batch]
                out.value = {"events": got}
            if got:
                last = got[-1][0]
            elif ctx.final_phase.is_set():
                # Caught up after the last publish: the checker holds it to every event.
                h.event(process, WORKLOAD, "caught-up", client.node, {"last": last})
                break
        except (ReplyError, asyncio.TimeoutError):
            reads_left = 0
        except Indefinite:
            reads_left = 0
        await sleep_or_stop(ctx, rng.uniform(0.0, 0.02))
    if client is not None:
        client.drop()
