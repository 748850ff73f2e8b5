"""The faults of a `--redis cluster` run, mixed into the Injector: CLUSTER FAILOVER on a
replica, kill -9 and SIGSTOP of a primary (the cluster promotes a replica after the node
timeout), and a slot moved with its keys under load. Each waits until the cluster is settled,
is confirmed applied and healed, and records the failover fields the sentinel faults record
(faults.Fault), so that the checkers' failover windows and the failovers table read both alike.
"""
from __future__ import annotations

import asyncio
import signal

from .cluster_group import SETTLE_LIMIT_S, ClusterGroup
from .cluster_slots import (begin_migration, count_keys, finish_migration, key_in_slots,
                            move_keys, redirects_seen, slots_of_tags, workload_tags)
from .fault_tools import until
from .faults import Fault
from .resp import Connection, Indefinite, ReplyError

# How long the cluster may take to promote a replica (node timeout 1 s, then the vote: ~2.2 s
# after a kill on an idle machine).
PROMOTION_LIMIT_S = 30.0
# A manual failover the primary has not helped with in 5 s is dropped silently: ask again.
MANUAL_FAILOVER_S = 10.0
# How long a killed or paused primary may take to come back as a replica in sync.
REJOIN_LIMIT_S = 30.0
# How long after a promotion a watch looks for the cluster failing over again by itself.
REFAILOVER_WATCH_S = 15.0
DEMOTION_LIMIT_S = 30.0
# Every daemon is asked this often for a key in the failed primary's slots, from before the
# fault until this long after its heal: the workloads alone touch one primary's slots too
# rarely to tell when a daemon served them again.
PROBE_EVERY_S = 0.05
PROBE_AFTER_HEAL_S = 2.0


class ClusterFaults:
    """The Injector's faults on a Redis Cluster (fleet.group is a ClusterGroup)."""

    async def _cluster_ready(self, f: Fault) -> ClusterGroup:
        group = self.fleet.group
        if not isinstance(group, ClusterGroup):
            raise RuntimeError(f"{f.kind} needs --redis cluster")
        settled = await group.wait_settled(SETTLE_LIMIT_S)
        if settled > 0.2:
            self.note(f, f"waited {settled:.1f} s for the cluster to settle")
        f.t_start = round(self.now(), 6)
        self.last_cluster_fault = f.id
        return group

    async def _primary_to_fail(self, f: Fault, group: ClusterGroup) -> list:
        """The primary of the fault's shard (f.old_master) and its slots; marks the fault a
        failover."""
        shard = int(f.params.get("shard", 0)) % group.primaries
        f.old_master = await group.shard_primary(shard)
        if not f.old_master:
            raise RuntimeError(f"no node of shard {shard} says it is a primary")
        slots = await group.slots_of(f.old_master)
        if not slots or not await group.replicas_in_sync(f.old_master):
            raise RuntimeError(f"port {f.old_master} has no slot or no replica in sync: no "
                               "replica would take over")
        f.failover = True
        f.slots = [list(r) for r in slots]
        self._probe(f)
        return slots

    def _probe(self, f: Fault):
        """In the background, until PROBE_AFTER_HEAL_S after the fault healed (or failed):
        each daemon answers `DEDUP GET` of a key in the old primary's slots (a read by a script,
        so only an answer from that primary or its successor), recorded as workload `probe`.
        The failovers table measures the stop on these answers; no checker judges them."""
        key = key_in_slots(f.slots, "chaos-probe")

        async def ask(name: str):
            conn = None
            while f.error == "" and (f.t_healed is None
                                     or self.now() < f.t_healed + PROBE_AFTER_HEAL_S):
                inv = self.history.invoke(f"probe-{name}", "probe", "slot", name, {"key": key})
                try:
                    if conn is None:
                        conn = await Connection(path=self.fleet.daemons[name].socket).open(0.5)
                    await conn.call("DEDUP", "GET", key, timeout=1.5)
                    self.history.complete(inv, "ok", {"key": key})
                except ReplyError as e:
                    self.history.complete(inv, "fail", {"key": key, "error": str(e)})
                except Indefinite as e:
                    self.history.complete(inv, "info", {"key": key, "error": str(e)})
                    conn = None
                await asyncio.sleep(PROBE_EVERY_S)
            if conn is not None:
                await conn.aclose()

        async def all_daemons():
            await asyncio.gather(*(ask(name) for name in self.fleet.daemons))
        self.watches.append(asyncio.create_task(all_daemons()))

    async def _cluster_promoted(self, f: Fault, group: ClusterGroup, slots):
        f.new_master = await group.wait_promoted(f.old_master, slots, PROMOTION_LIMIT_S)
        f.t_failover = round(self.now(), 6)
        f.failover_s = round(f.t_failover - f.t_applied, 3)
        self.note(f, f"port {f.new_master} primary after {f.failover_s:.3f} s")

    async def _rejoined(self, f: Fault, group: ClusterGroup) -> str:
        primary = await group.wait_replica(f.old_master, REJOIN_LIMIT_S)
        f.t_demoted = round(self.now(), 6)
        return f"port {f.old_master} a replica of {primary} in sync"

    def _watch_cluster(self, f: Fault, group: ClusterGroup):
        """In the background, until REFAILOVER_WATCH_S after the promotion or the next cluster
        fault: when the old primary says it is a replica (if not known yet), and whether the
        primaries change without a fault (a primary that looked down meanwhile): the last such
        change is `t_refailover`, to `refailover_master`, and the checkers' failover window
        reaches past it."""
        async def watch():
            watch_end = (f.t_failover or self.now()) + REFAILOVER_WATCH_S
            demotion_end = self.now() + DEMOTION_LIMIT_S
            primaries = await group.agreed_primaries()
            while True:
                watching = self.now() < watch_end and self.last_cluster_fault == f.id
                demoting = f.t_demoted is None and self.now() < demotion_end
                if not watching and not demoting:
                    return
                if demoting and (await group.replication(f.old_master))[0] == "slave":
                    f.t_demoted = round(self.now(), 6)
                seen = await group.agreed_primaries() if watching else None
                if seen and primaries is None:
                    primaries = seen
                elif seen and seen != primaries:
                    new = sorted(seen - primaries)
                    primaries = seen
                    f.t_refailover = round(self.now(), 6)
                    f.refailover_master = new[0] if new else None
                    self.note(f, f"the cluster failed over again by itself, to port "
                                 f"{f.refailover_master}, at {f.t_refailover:.3f}")
                await asyncio.sleep(0.25)
        self.watches.append(asyncio.create_task(watch()))

    # -- the faults ----------------------------------------------------------------------------

    async def _cluster_failover(self, f: Fault):
        """CLUSTER FAILOVER on a replica of the shard's primary: the primary stops its clients
        until the replica has caught up, then the replica takes over."""
        group = await self._cluster_ready(f)
        slots = await self._primary_to_fail(f, group)
        replicas = await group.replicas_in_sync(f.old_master)
        replica = replicas[int(f.params.get("replica", 0)) % len(replicas)]
        answer = await group.call(replica, "CLUSTER", "FAILOVER")
        self.applied(f, f"CLUSTER FAILOVER on port {replica} answered {answer} (primary port "
                        f"{f.old_master})")
        for attempt in range(3):
            try:
                f.new_master = await group.wait_promoted(f.old_master, slots, MANUAL_FAILOVER_S)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                await group.call(replica, "CLUSTER", "FAILOVER")
                self.note(f, "CLUSTER FAILOVER asked again")
        f.t_failover = round(self.now(), 6)
        f.failover_s = round(f.t_failover - f.t_applied, 3)
        self.note(f, f"port {f.new_master} primary after {f.failover_s:.3f} s")
        f.t_heal = f.t_failover
        self.healed(f)
        self._watch_cluster(f, group)

    async def _kill_primary(self, f: Fault):
        group = await self._cluster_ready(f)
        slots = await self._primary_to_fail(f, group)
        pid = group.kill(f.old_master)
        self.applied(f, f"primary on port {f.old_master} (pid {pid}) killed")
        try:
            await self._cluster_promoted(f, group, slots)
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            group.restart(f.old_master)
        self.healed(f, f"restarted as pid {group.node_on(f.old_master).proc.pid}; "
                       + await self._rejoined(f, group))
        self._watch_cluster(f, group)

    async def _pause_primary(self, f: Fault):
        group = await self._cluster_ready(f)
        slots = await self._primary_to_fail(f, group)
        node = group.node_on(f.old_master)
        try:
            group.signal(f.old_master, signal.SIGSTOP)
            await until(lambda: self.fleet.process_state(node.proc.pid) == "T", 2.0, "SIGSTOP")
            self.applied(f, f"primary on port {f.old_master} (pid {node.proc.pid}) stopped")
            await self._cluster_promoted(f, group, slots)
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            group.signal(f.old_master, signal.SIGCONT)
        await until(lambda: self.fleet.process_state(node.proc.pid) != "T", 2.0, "SIGCONT")
        self.healed(f, "continued; " + await self._rejoined(f, group))
        self._watch_cluster(f, group)

    async def _migrate_slot(self, f: Fault):
        """The slots of the named workloads' keys, each from its primary to the primary
        `to` shards further; half of each slot's keys, the pause (hold), then the rest and
        SETSLOT NODE everywhere. Loses nothing: no failover window."""
        group = await self._cluster_ready(f)
        tags = workload_tags(self.settings, str(f.params.get("keys") or "lease").split("+"),
                             self.now())
        plan = []
        for slot, names in slots_of_tags(tags).items():
            source = await group.owner_of(slot)
            shard = (group.node_on(source).shard + int(f.params.get("to", 1))) % group.primaries
            plan.append((slot, source, await group.shard_primary(shard), names))
        begun = []
        nodes = [p for _, source, target, _ in plan for p in (source, target)]
        before = await redirects_seen(group, nodes)
        try:
            first = 0
            for slot, source, target, _ in plan:
                begun.append((slot, source, target))  # finished below even if half begun
                await begin_migration(group, slot, source, target)
                first += await move_keys(group, slot, source, target,
                                         await count_keys(group, slot, source) // 2)
            self.applied(f, "; ".join(f"slot {slot} ({', '.join(names)}) {source} -> {target}"
                                      for slot, source, target, names in plan)
                         + f"; {first} keys moved, the rest after {f.hold:.1f} s")
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            rest = 0
            for slot, source, target in begun:
                rest += await finish_migration(group, slot, source, target)
        after = await redirects_seen(group, nodes)
        self.healed(f, f"{rest} more keys moved; every node names the new owners; meanwhile "
                       f"{after['asking'] - before['asking']} ASKING and "
                       f"{after['tryagain'] - before['tryagain']} TRYAGAIN")
