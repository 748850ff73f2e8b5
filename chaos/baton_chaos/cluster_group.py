"""The Redis of a `--redis cluster` run: a Redis Cluster of three primaries with two replicas
each (redis-server on loopback ports, no persistence, node timeout 1000 ms), joined by
`redis-cli --cluster create` as tests/support/test_cluster.cpp does. Two replicas, so that the
primary a failover promotes still has one for batond's WAIT 1. The harness reads the slot map,
waits until the cluster is settled before each fault, fails over, kills, stops and restarts
primaries; cluster_slots.py moves slots. Never a mock: Debian's real redis-server and redis-cli.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from .cluster_replies import info_field, owns, parse_nodes, parse_slots
from .procs import free_port, kill_group, kill_server, signal_server, start_server
from .resp import Connection, Indefinite, ReplyError

NODE_TIMEOUT_MS = 1000
# Forming the cluster takes a few seconds (the join, then each replica's first sync); settling
# after a failover or a restart about as long. A loaded machine takes longer.
READY_LIMIT_S = 60.0
SETTLE_LIMIT_S = 60.0
# Between two checks: each asks every node four questions, and too many on 2 busy cores would
# take time from the nodes' own failure detection.
POLL_S = 0.2
CHECK_TIMEOUT_S = 1.0


@dataclass
class Node:
    index: int
    port: int
    bus_port: int
    args: list
    log: str
    proc: Optional[subprocess.Popen] = None
    stopped: bool = False   # SIGSTOPped
    killed: bool = False    # by a fault, to be restarted
    id: str = ""            # CLUSTER MYID: kept across restarts (nodes.conf in its dir)
    shard: int = -1         # which primary's slots it serves or replicates; fixed for the run

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def answering(self) -> bool:
        return self.running and not self.stopped


class ClusterGroup:
    def __init__(self, dir: str, primaries: int = 3, replicas: int = 2,
                 node_timeout_ms: int = NODE_TIMEOUT_MS):
        self.dir, self.primaries, self.replicas = dir, primaries, replicas
        logs = os.path.join(dir, "logs")
        os.makedirs(logs, exist_ok=True)
        self.create_log = os.path.join(logs, "cluster-create.log")
        taken: list[int] = []
        self.nodes: list[Node] = []
        for i in range(primaries * (1 + replicas)):
            port = free_port(taken)
            # The bus listens on port + 10000 unless told otherwise, impossible above 55535:
            # a free port of its own.
            bus = free_port(taken + [port])
            taken += [port, bus]
            data = os.path.join(dir, "redis-data", f"node-{i}")
            # A fresh node: an --out directory used before holds the last run's nodes.conf,
            # with which the node would rejoin that cluster (redis-cli then refuses to create).
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data, exist_ok=True)
            log = os.path.join(logs, f"redis-{i}.log")
            args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", data,
                    "--save", "", "--appendonly", "no", "--logfile", log, "--daemonize", "no",
                    "--cluster-enabled", "yes",
                    # In --dir: a restarted node finds its id and its epoch there and rejoins.
                    "--cluster-config-file", "nodes.conf", "--cluster-port", str(bus),
                    "--cluster-node-timeout", str(node_timeout_ms),
                    # Every sync here (at start, after each failover) would otherwise wait 5 s
                    # for more replicas to share it.
                    "--repl-diskless-sync-delay", "0",
                    # By default a replica that has not heard from its primary for 10 node
                    # timeouts + 10 s refuses to take over; a paused primary must still be
                    # replaced.
                    "--cluster-replica-validity-factor", "0"]
            self.nodes.append(Node(i, port, bus, args, log))
        self.seeds: list[int] = []

    # -- starting and stopping ---------------------------------------------------------------

    async def start(self):
        for n in self.nodes:
            self.start_node(n)
        deadline = time.monotonic() + READY_LIMIT_S
        for n in self.nodes:
            while True:
                try:
                    n.id = str(await self.call(n.port, "CLUSTER", "MYID"))
                    break
                except (Indefinite, ReplyError):
                    self.check_running()
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"cluster: port {n.port} does not answer; see {n.log}")
                    await asyncio.sleep(0.05)
        # redis-cli makes the first `primaries` nodes given primaries; it waits for the nodes
        # to agree without a limit of its own.
        args = (["timeout", "60", "redis-cli", "--cluster", "create"]
                + [f"127.0.0.1:{n.port}" for n in self.nodes]
                + ["--cluster-replicas", str(self.replicas), "--cluster-yes"])
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        with open(self.create_log, "w") as f:
            f.write(" ".join(args) + "\n" + out.decode(errors="replace"))
        if proc.returncode != 0:
            raise RuntimeError(f"cluster: redis-cli --cluster create exited with "
                               f"{proc.returncode}; see {self.create_log}")
        await self.wait_settled(READY_LIMIT_S)
        await self._learn_shards()

    async def _learn_shards(self):
        seen = parse_nodes(await self.call(self.nodes[0].port, "CLUSTER", "NODES"))
        primaries = [n for n in self.nodes if "master" in seen[n.port].flags]
        for k, p in enumerate(primaries):
            p.shard = k
        for n in self.nodes:
            if n.shard < 0:
                n.shard = next(p.shard for p in primaries if p.id == seen[n.port].primary_id)
        self.seeds = [p.port for p in primaries]

    def start_node(self, n: Node):
        start_server(n)

    def url(self) -> str:
        """The primaries at start as seeds; it stays the same after failovers (any node
        answers CLUSTER SLOTS), so a daemon restarted later gets the URL the first one got."""
        return "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.seeds)

    def processes(self) -> list:
        return [n.proc for n in self.nodes if n.proc is not None]

    def stop_all(self):
        for n in self.nodes:
            if n.proc is not None:
                kill_group(n.proc)

    def check_running(self):
        """A node that died without being killed by a fault is the harness's failure."""
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is not None and not n.killed:
                raise RuntimeError(f"cluster: the node on port {n.port} exited with "
                                   f"{n.proc.returncode}; see {n.log}")

    # -- asking ------------------------------------------------------------------------------

    async def call(self, port: int, *args, timeout: float = CHECK_TIMEOUT_S):
        c = Connection(host="127.0.0.1", port=port)
        await c.open(timeout=timeout)
        try:
            return await c.call(*args, timeout=timeout)
        finally:
            await c.aclose()

    def node_on(self, port: int) -> Node:
        for n in self.nodes:
            if n.port == port:
                return n
        raise KeyError(f"no node of the cluster on port {port}")

    async def replication(self, port: int) -> tuple[str, str, int]:
        """(role, link status, primary port) from INFO replication; ("", "", 0) without an
        answer."""
        try:
            info = await self.call(port, "INFO", "replication", timeout=0.5)
        except (Indefinite, ReplyError):
            return "", "", 0
        primary = info_field(info, "master_port")
        return (info_field(info, "role"), info_field(info, "master_link_status"),
                int(primary) if primary.isdigit() else 0)

    async def slots_seen_by(self, port: int):
        return parse_slots(await self.call(port, "CLUSTER", "SLOTS"))

    async def current_slots(self):
        """The slot owners as the first answering node sees them."""
        why = "no node answers"
        for n in self.nodes:
            if n.answering:
                try:
                    return await self.slots_seen_by(n.port)
                except (Indefinite, ReplyError, ValueError) as e:
                    why = str(e)
        raise RuntimeError(f"cluster: no node answers CLUSTER SLOTS ({why})")

    async def owner_of(self, slot: int) -> int:
        for first, last, port in await self.current_slots():
            if first <= slot <= last:
                return port
        raise RuntimeError(f"cluster: no node serves slot {slot}")

    async def slots_of(self, port: int) -> list[tuple[int, int]]:
        return [(a, b) for a, b, p in await self.current_slots() if p == port]

    async def everyone_names(self, slots, port: int) -> bool:
        """Whether every answering node names `port` as the owner of every slot of `slots`."""
        for n in self.nodes:
            if n.answering:
                try:
                    if not owns(await self.slots_seen_by(n.port), slots, port):
                        return False
                except (Indefinite, ReplyError, ValueError):
                    return False
        return True

    def shard_nodes(self, shard: int) -> list[Node]:
        return [n for n in self.nodes if n.shard == shard]

    async def shard_primary(self, shard: int) -> int:
        """The port of the shard's node that says it is a primary (the first, in start order,
        if a stale one says so too); 0 if none does."""
        for n in self.shard_nodes(shard):
            if n.answering and (await self.replication(n.port))[0] == "master":
                return n.port
        return 0

    async def replicas_in_sync(self, port: int) -> list[int]:
        """The ports of the nodes replicating `port` with their link up, in start order."""
        shard = self.node_on(port).shard
        out = []
        for n in self.shard_nodes(shard):
            if n.port != port and n.answering:
                role, link, primary = await self.replication(n.port)
                if role == "slave" and link == "up" and primary == port:
                    out.append(n.port)
        return out

    async def primary_ports(self) -> set[int]:
        return {p for _, _, p in await self.current_slots()}

    async def agreed_primaries(self) -> Optional[set[int]]:
        """The primaries every answering node names in CLUSTER SLOTS, None while they differ
        or one does not answer."""
        seen = None
        for n in self.nodes:
            if n.answering:
                try:
                    mine = {p for _, _, p in await self.slots_seen_by(n.port)}
                except (Indefinite, ReplyError, ValueError):
                    return None
                if seen is not None and mine != seen:
                    return None
                seen = mine
        return seen

    # -- settled -----------------------------------------------------------------------------

    async def unsettled(self) -> str:
        """What the cluster still waits for to be settled, "" if nothing: every running node
        says cluster_state:ok, sees every running node without a failure flag and as a
        primary only if it serves slots, is in sync with its primary if it is a replica, and
        gives the same slot owners in CLUSTER SLOTS."""
        agreed, agreed_by = None, 0
        running = [n for n in self.nodes if n.running]
        for n in running:
            where = f"the node on port {n.port}"
            try:
                c = Connection(host="127.0.0.1", port=n.port)
                await c.open(timeout=CHECK_TIMEOUT_S)
                try:
                    state = await c.call("CLUSTER", "INFO", timeout=CHECK_TIMEOUT_S)
                    seen = parse_nodes(await c.call("CLUSTER", "NODES", timeout=CHECK_TIMEOUT_S))
                    info = await c.call("INFO", "replication", timeout=CHECK_TIMEOUT_S)
                    table = parse_slots(await c.call("CLUSTER", "SLOTS", timeout=CHECK_TIMEOUT_S))
                finally:
                    await c.aclose()
            except (Indefinite, ReplyError, ValueError) as e:
                return f"{where} to answer ({e}); see {n.log}"
            if "cluster_state:ok" not in state:
                return f"{where} to say cluster_state:ok; see {n.log}"
            serving = {p for _, _, p in table}
            for other in running:
                line = seen.get(other.port)
                if line is None or not line.healthy:
                    flags = ",".join(sorted(line.flags)) if line else "unknown"
                    return f"{where} to see port {other.port} up ({flags}); see {n.log}"
                # Right after `--cluster create`, and after a demoted primary comes back, a
                # node can still be listed as a primary without slots: a fault that picks
                # "the shard's primary" or "its replicas" would then pick wrong.
                if "master" in line.flags and other.port not in serving:
                    return (f"{where} to see port {other.port} as a replica, not a primary "
                            f"without slots; see {n.log}")
            if (info_field(info, "role") == "slave"
                    and info_field(info, "master_link_status") != "up"):
                return f"{where} to finish syncing with its primary; see {n.log}"
            if agreed is None:
                agreed, agreed_by = table, n.port
            elif table != agreed:
                return f"the nodes on ports {agreed_by} and {n.port} to agree on CLUSTER SLOTS"
        return "" if agreed_by else "a node to run"

    async def wait_settled(self, limit: float = SETTLE_LIMIT_S) -> float:
        """Waits until settled; returns how long that took. Raises RuntimeError after `limit`,
        naming what it waited for."""
        start = time.monotonic()
        while True:
            self.check_running()
            waiting = await self.unsettled()
            if not waiting:
                return time.monotonic() - start
            if time.monotonic() - start > limit:
                raise RuntimeError(f"cluster not settled after {limit:g} s: waiting for {waiting}")
            await asyncio.sleep(POLL_S)

    # -- failures ----------------------------------------------------------------------------

    async def wait_promoted(self, old: int, slots, limit: float) -> int:
        """Waits until another node of `old`'s shard says it is a primary and every answering
        node names it for `slots`; returns its port."""
        shard = self.node_on(old).shard
        deadline = time.monotonic() + limit
        while True:
            self.check_running()
            for n in self.shard_nodes(shard):
                if (n.port != old and n.answering
                        and (await self.replication(n.port))[0] == "master"
                        and await self.everyone_names(slots, n.port)):
                    return n.port
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster: no replica of port {old} served its slots within "
                                   f"{limit:g} s; see {self.node_on(old).log}")
            await asyncio.sleep(0.05)

    async def wait_replica(self, port: int, limit: float) -> int:
        """Waits until the node on `port` says it is a replica in sync with a primary of its
        shard; returns that primary's port."""
        deadline = time.monotonic() + limit
        n = self.node_on(port)
        while True:
            role, link, primary = await self.replication(port)
            if role == "slave" and link == "up" and primary in [m.port for m in
                                                                 self.shard_nodes(n.shard)]:
                return primary
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster: port {port} is not a replica in sync after "
                                   f"{limit:g} s (role {role or '?'}, link {link or '?'}, "
                                   f"primary {primary}); see {n.log}")
            await asyncio.sleep(0.05)

    def kill(self, port: int) -> int:
        n = self.node_on(port)
        n.killed = True
        return kill_server(n)

    def restart(self, port: int):
        """Starts the node again with the arguments it first had: it finds its id and epoch in
        nodes.conf, learns that a replica took its slots, and becomes that one's replica."""
        n = self.node_on(port)
        if n.running:
            self.kill(port)
        self.start_node(n)
        n.killed = False

    def signal(self, port: int, sig: int):
        signal_server(self.node_on(port), sig)
