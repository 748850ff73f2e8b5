"""Slots of a `--redis cluster` run: which slots hold the workloads' keys (batond puts each
script's keys under one hash tag: a lease's name, a secret's, a rate key...), and moving a
slot with its keys from one primary to another as `redis-cli --cluster reshard` and
tests/support/test_cluster.cpp do: SETSLOT IMPORTING on the target, MIGRATING on the source,
GETKEYSINSLOT + MIGRATE ... KEYS, then SETSLOT NODE on the target, the source and the other
primaries. The migrate-slot fault moves the keys in two halves with a pause between, so that
the daemons meet ASK (a key already moved) and TRYAGAIN (a script whose keys are split) under
load.
"""
from __future__ import annotations

import asyncio
import time

from .checkers.slots import key_slot
from .cluster_group import ClusterGroup
from .resp import Indefinite, ReplyError

KEYS_PER_MIGRATE = 100
# MIGRATE itself waits up to 5 s for the target.
MIGRATE_TIMEOUT_S = 10.0
OWNER_LIMIT_S = 30.0


def workload_tags(settings: dict, workloads, now: float) -> dict[str, list[str]]:
    """The hash tags under which batond keeps each named workload's keys (model/*_keys.hpp):
    the tag is what lies between the braces, so "{" + tag + "}" has the same slot."""
    from .workloads import breaker, cache, election, events, lease, secret, state
    tags = {
        "lease": lease.lease_names(settings),
        "election": ["elect:" + election.GROUP],
        # the secret's record, and the lease its rotation takes
        "secret": [secret.NAME, "secret-rotation/" + secret.NAME],
        "breaker": [breaker.NAME],
        "membership": ["nodes"],
        "rate": [f"key-{i}" for i in range(settings["rate"]["keys"])],
        # the key claimed now and the next one
        "dedup": [f"chaos-dedup-{int(now / settings['dedup']['key_every_s']) + i}"
                  for i in (0, 1)],
        # the users' and the daemons' session sets
        "session": ([f"session-{i}" for i in range(settings["session"]["clients"])]
                    + list(settings["daemons"])),
        # the counters: an entry's key is its hash tag
        "state": state.counter_keys(settings),
        "cache": cache.cache_keys(settings),
        "events": [events.TOPIC],
    }
    return {w: tags[w] for w in workloads}


def key_in_slots(ranges, prefix: str) -> str:
    """A key `prefix-N` whose slot lies in `ranges` ([first, last] pairs)."""
    for n in range(1 << 20):
        key = f"{prefix}-{n}"
        if any(a <= key_slot("{" + key + "}") <= b for a, b in ranges):
            return key
    raise ValueError(f"no key in slots {ranges}")


def slots_of_tags(tags: dict[str, list[str]]) -> dict[int, list[str]]:
    """slot -> the workloads' tags in it."""
    out: dict[int, list[str]] = {}
    for workload, names in tags.items():
        for name in names:
            out.setdefault(key_slot("{" + name + "}"), []).append(f"{workload}:{name}")
    return dict(sorted(out.items()))


# -- moving a slot ----------------------------------------------------------------------------

async def redirects_seen(group: ClusterGroup, ports) -> dict[str, int]:
    """How often the nodes on `ports` were sent ASKING (a client followed an ASK) and answered
    TRYAGAIN, from INFO commandstats and errorstats: the evidence that a migration met the
    daemons' requests."""
    out = {"asking": 0, "tryagain": 0}
    for port in set(ports):
        try:
            info = await group.call(port, "INFO", "commandstats")
            errors = await group.call(port, "INFO", "errorstats")
        except (Indefinite, ReplyError):
            continue
        for field, line_start, key in (("asking", "cmdstat_asking:", "calls="),
                                       ("tryagain", "errorstat_TRYAGAIN:", "count=")):
            for line in str(info if field == "asking" else errors).splitlines():
                if line.startswith(line_start) and key in line:
                    out[field] += int(line.split(key, 1)[1].split(",", 1)[0])
    return out


async def _expect_ok(group: ClusterGroup, port: int, *args):
    try:
        reply = await group.call(port, *args, timeout=MIGRATE_TIMEOUT_S)
    except (Indefinite, ReplyError) as e:
        raise RuntimeError(f"{' '.join(map(str, args))} on port {port}: {e}; see "
                           f"{group.node_on(port).log}") from None
    if reply != "OK":
        raise RuntimeError(f"{' '.join(map(str, args))} on port {port} answered {reply!r}")


async def begin_migration(group: ClusterGroup, slot: int, source: int, target: int):
    """The target first, as redis-cli does: a client the source sends on with ASK must find it
    importing, or it would be sent back with MOVED."""
    await _expect_ok(group, target, "CLUSTER", "SETSLOT", slot, "IMPORTING",
                     group.node_on(source).id)
    await _expect_ok(group, source, "CLUSTER", "SETSLOT", slot, "MIGRATING",
                     group.node_on(target).id)


async def count_keys(group: ClusterGroup, slot: int, port: int) -> int:
    return int(await group.call(port, "CLUSTER", "COUNTKEYSINSLOT", slot))


async def move_keys(group: ClusterGroup, slot: int, source: int, target: int,
                    most: int = 1 << 30) -> int:
    """Moves up to `most` keys of the slot from source to target (GETKEYSINSLOT, then MIGRATE
    ... KEYS, 100 at a time); returns how many moved (fewer once the slot is empty)."""
    moved = 0
    while moved < most:
        batch = min(KEYS_PER_MIGRATE, most - moved)
        keys = await group.call(source, "CLUSTER", "GETKEYSINSLOT", slot, batch,
                                timeout=MIGRATE_TIMEOUT_S)
        if not keys:
            break
        try:
            reply = await group.call(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000,
                                     "KEYS", *keys, timeout=MIGRATE_TIMEOUT_S)
        except ReplyError as e:
            raise RuntimeError(f"MIGRATE of slot {slot} from port {source} to {target} answered "
                               f"{e}; see {group.node_on(source).log}") from None
        # NOKEY: every key of the batch expired in between (and is gone from GETKEYSINSLOT).
        if reply != "NOKEY":
            moved += len(keys)
    return moved


async def finish_migration(group: ClusterGroup, slot: int, source: int, target: int) -> int:
    """Moves the keys left, then SETSLOT NODE on the target (it bumps its config epoch, so its
    claim wins wherever gossip meets the source's), the source (which stops answering ASK) and
    the other primaries; waits until every answering node names the target. Returns how many
    keys moved."""
    moved = await move_keys(group, slot, source, target)
    others = [p for p in sorted(await group.primary_ports()) if p not in (source, target)]
    for port in [target, source] + others:
        await _expect_ok(group, port, "CLUSTER", "SETSLOT", slot, "NODE",
                         group.node_on(target).id)
    deadline = time.monotonic() + OWNER_LIMIT_S
    while not await group.everyone_names([(slot, slot)], target):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every node names port {target} as the owner of slot {slot} "
                               f"after {OWNER_LIMIT_S:g} s")
        await asyncio.sleep(0.05)
    return moved
