"""The Redis of a `--redis sentinel` run: a replication group of one primary and two replicas
(redis-server on loopback TCP ports, no persistence, `--repl-diskless-sync-delay 0`) watched by
three redis-sentinel processes, as tests/support/test_sentinel.cpp starts them. The harness
asks the sentinels who the master is, waits until the group is settled before each failover
fault, and kills, stops, continues and restarts its servers. Never a mock: Debian's real
redis-server and redis-sentinel.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from . import procs
from .procs import free_port, kill_group, kill_server, signal_server, spawn
from .resp import Connection, Indefinite, ReplyError, as_map

MASTER_NAME = "chaos"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 10000
# A sentinel needs a few seconds to find its peers (they announce themselves every 2 s).
READY_LIMIT_S = 30.0
# Settling after a failover takes ~20 s: each sentinel turns the old master into a replica
# only after it has said "master" for 8 s, and the others notice at their next INFO of it
# (every 10 s). A loaded machine takes longer.
SETTLE_LIMIT_S = 60.0
# A sentinel starts no automatic failover of a master within twice the failover timeout of
# the last one it started or voted for (redis sentinel.c): kill-master and pause-master wait
# that long after the previous failover fault, with a second's margin.
AUTOMATIC_FAILOVER_GAP_S = 2 * FAILOVER_TIMEOUT_MS / 1000 + 1.0
# Between two checks of the group: each asks every sentinel three questions, and too many
# connections on 2 busy cores could delay the sentinels' timer into TILT mode.
POLL_S = 0.1


@dataclass
class Server:
    index: int
    port: int
    args: list
    log: str
    proc: Optional[subprocess.Popen] = None
    stopped: bool = False  # SIGSTOPped

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Sentinel:
    index: int
    port: int
    conf: str
    log: str
    proc: Optional[subprocess.Popen] = None


class SentinelGroup:
    def __init__(self, dir: str, replicas: int = 2, sentinels: int = 3,
                 name: str = MASTER_NAME, down_after_ms: int = DOWN_AFTER_MS):
        self.dir, self.name, self.down_after_ms = dir, name, down_after_ms
        logs = os.path.join(dir, "logs")
        os.makedirs(logs, exist_ok=True)
        self.sentinel_dir = os.path.join(dir, "sentinel")
        os.makedirs(self.sentinel_dir, exist_ok=True)
        taken: list[int] = []
        self.servers: list[Server] = []
        for i in range(replicas + 1):
            port = free_port(taken)
            taken.append(port)
            data = os.path.join(dir, "redis-data", f"server-{i}")
            os.makedirs(data, exist_ok=True)
            args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", data,
                    "--save", "", "--appendonly", "no",
                    "--logfile", os.path.join(logs, f"redis-{i}.log"), "--daemonize", "no",
                    # A master waits 5 s by default before a full sync, hoping more replicas
                    # come to share it; every sync here (at start, after each failover) would
                    # pay that.
                    "--repl-diskless-sync-delay", "0"]
            if i > 0:
                args += ["--replicaof", "127.0.0.1", str(self.servers[0].port)]
            self.servers.append(Server(i, port, args, os.path.join(logs, f"redis-{i}.log")))
        self.sentinels: list[Sentinel] = []
        for i in range(sentinels):
            port = free_port(taken)
            taken.append(port)
            self.sentinels.append(Sentinel(i, port,
                                           os.path.join(self.sentinel_dir, f"sentinel-{i}.conf"),
                                           os.path.join(logs, f"sentinel-{i}.log")))

    # -- starting ----------------------------------------------------------------------------

    async def start(self):
        for s in self.servers:
            self.start_server(s)
        # Sentinels start once the replicas are in sync: a sentinel learns of replicas from
        # the master's INFO, which it reads again only every 10 s.
        waiting = "the servers to start"
        deadline = time.monotonic() + READY_LIMIT_S
        while True:
            waiting = await self._replicas_unsynced()
            if not waiting:
                break
            self.check_running()
            if time.monotonic() > deadline:
                raise RuntimeError(f"sentinel group: gave up waiting for {waiting}")
            await asyncio.sleep(POLL_S)
        quorum = len(self.sentinels) // 2 + 1
        primary = self.servers[0].port
        for s in self.sentinels:
            with open(s.conf, "w") as f:
                f.write(f"port {s.port}\n"
                        "bind 127.0.0.1\n"
                        "daemonize no\n"
                        f"dir {self.sentinel_dir}\n"
                        f"logfile {s.log}\n"
                        f"sentinel monitor {self.name} 127.0.0.1 {primary} {quorum}\n"
                        f"sentinel down-after-milliseconds {self.name} {self.down_after_ms}\n"
                        f"sentinel failover-timeout {self.name} {FAILOVER_TIMEOUT_MS}\n"
                        f"sentinel parallel-syncs {self.name} 1\n")
            s.proc = spawn(["redis-sentinel", s.conf])
        await self.wait_settled(READY_LIMIT_S)

    async def _replicas_unsynced(self) -> str:
        for s in self.servers[1:]:
            try:
                info = await self.call(s.port, "INFO", "replication")
            except (Indefinite, ReplyError):
                return f"the server on port {s.port} to answer"
            if "master_link_status:up" not in info:
                return f"the replica on port {s.port} to sync; see {s.log}"
        return ""

    def start_server(self, s: Server):
        procs.start_server(s)

    def url(self) -> str:
        return ("redis-sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
                + f"/{self.name}")

    def processes(self) -> list:
        return [p.proc for p in self.sentinels + self.servers if p.proc is not None]

    def stop_all(self):
        # Sentinels first: with servers gone they would only log and try to fail over.
        for s in self.sentinels + self.servers:
            if s.proc is not None:
                kill_group(s.proc)

    def check_running(self):
        for s in self.sentinels:
            if s.proc is not None and s.proc.poll() is not None:
                raise RuntimeError(f"sentinel {s.index} exited with {s.proc.returncode}; see "
                                   f"{s.log}")

    # -- asking ------------------------------------------------------------------------------

    async def call(self, port: int, *args, timeout: float = 1.0):
        c = Connection(host="127.0.0.1", port=port)
        await c.open(timeout=timeout)
        try:
            return await c.call(*args, timeout=timeout)
        finally:
            await c.aclose()

    async def sentinel_call(self, i: int, *args, timeout: float = 1.0):
        return await self.call(self.sentinels[i].port, *args, timeout=timeout)

    async def _named_port(self, i: int) -> int:
        """The master port sentinel i names, 0 if it does not answer or knows none."""
        try:
            r = await self.sentinel_call(i, "SENTINEL", "get-master-addr-by-name", self.name)
        except (Indefinite, ReplyError):
            return 0
        if isinstance(r, list) and len(r) == 2 and str(r[1]).isdigit():
            return int(r[1])
        return 0

    async def master_port(self) -> int:
        """The master's port as the first sentinel that answers names it (0: none does)."""
        for i in range(len(self.sentinels)):
            port = await self._named_port(i)
            if port:
                return port
        return 0

    async def agreed_master_port(self) -> int:
        """The master port every sentinel names, or 0 while they disagree or one does not
        answer."""
        ports = await asyncio.gather(*(self._named_port(i) for i in range(len(self.sentinels))))
        return ports[0] if ports[0] and all(p == ports[0] for p in ports) else 0

    async def role(self, port: int) -> str:
        """What the server on `port` says it is (master, slave), or "" without an answer."""
        try:
            r = await self.call(port, "ROLE", timeout=0.5)
        except (Indefinite, ReplyError):
            return ""
        return str(r[0]) if isinstance(r, list) and r else ""

    def server_on(self, port: int) -> Server:
        for s in self.servers:
            if s.port == port:
                return s
        raise KeyError(f"no server of the group on port {port}")

    async def master_call(self, *args, timeout: float = 1.0):
        port = await self.master_port()
        if not port:
            raise Indefinite("no sentinel names a master")
        return await self.call(port, *args, timeout=timeout)

    # -- settled -----------------------------------------------------------------------------

    async def unsettled(self) -> str:
        """What the group still waits for to be settled, "" if nothing: every sentinel names
        the same master, which says it is one, sees every other running server as its replica
        in sync, and sees the other sentinels. (A paused server counts as running.)"""
        master = await self.agreed_master_port()
        if not master:
            return f"the sentinels to agree on a master; see {self.sentinels[0].log}"
        if await self.role(master) != "master":
            return f"port {master} to be a master"
        for s in self.sentinels:
            where = f"sentinel {s.index} (port {s.port})"
            try:
                view = as_map(await self.sentinel_call(s.index, "SENTINEL", "MASTER", self.name))
                replicas = [as_map(r) for r in await self.sentinel_call(
                    s.index, "SENTINEL", "REPLICAS", self.name)]
                others = [as_map(r) for r in await self.sentinel_call(
                    s.index, "SENTINEL", "SENTINELS", self.name)]
            except (Indefinite, ReplyError, ValueError) as e:
                return f"{where} to answer ({e})"
            if view.get("flags") != "master":
                return f"{where} to see the master up with no failover under way"
            for server in self.servers:
                if server.port == master or not server.running:
                    continue
                r = next((r for r in replicas if str(r.get("port")) == str(server.port)), None)
                if r is None:
                    return f"{where} to find the replica on port {server.port}"
                # A healthy replica's flags are exactly "slave"; the role it reported last must
                # agree (a restarted master says "master" until a sentinel reconfigures it).
                if (r.get("flags") != "slave" or r.get("role-reported") != "slave"
                        or str(r.get("master-port")) != str(master)
                        or r.get("master-link-status") != "ok"):
                    return (f"{where} to see the replica on port {server.port} in sync (flags "
                            f"{r.get('flags')}, role {r.get('role-reported')}, master port "
                            f"{r.get('master-port')}, link {r.get('master-link-status')})")
            healthy = sum(1 for o in others if o.get("flags") == "sentinel")
            if healthy + 1 != len(self.sentinels):
                return f"{where} to see {len(self.sentinels) - 1} other sentinels (sees {healthy})"
        return ""

    async def wait_settled(self, limit: float = SETTLE_LIMIT_S) -> float:
        """Waits until settled; returns how long that took. Raises RuntimeError after
        `limit`, naming what it waited for."""
        start = time.monotonic()
        while True:
            self.check_running()
            waiting = await self.unsettled()
            if not waiting:
                return time.monotonic() - start
            if time.monotonic() - start > limit:
                raise RuntimeError(f"sentinel group not settled after {limit:g} s: waiting for "
                                   f"{waiting}")
            await asyncio.sleep(POLL_S)

    # -- faults ------------------------------------------------------------------------------

    async def failover(self, limit: float = 15.0) -> str:
        """SENTINEL FAILOVER, retried while the sentinel cannot start one yet. Always the same
        sentinel (the first that answers): a second one asked after an INPROG would start a
        failover of its own and promote another replica."""
        deadline = time.monotonic() + limit
        reply = ""
        chosen = None
        while True:
            for i in ([chosen] if chosen is not None else range(len(self.sentinels))):
                try:
                    reply = await self.sentinel_call(i, "SENTINEL", "FAILOVER", self.name)
                    chosen = i
                    break
                except ReplyError as e:
                    reply, chosen = str(e), i
                    break
                except Indefinite as e:
                    reply = f"sentinel {i}: {e}"
            if reply == "OK":
                return f"sentinel {chosen} answered OK"
            if time.monotonic() > deadline:
                raise RuntimeError(f"SENTINEL FAILOVER kept failing: {reply}")
            await asyncio.sleep(0.2)

    async def wait_new_master(self, old_port: int, limit: float = 30.0) -> int:
        """Waits until every sentinel names the same master other than `old_port`, and that
        server says it is one; returns its port."""
        deadline = time.monotonic() + limit
        while True:
            port = await self.agreed_master_port()
            if port and port != old_port and await self.role(port) == "master":
                return port
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sentinels named no master other than port {old_port} "
                                   f"within {limit:g} s; see {self.sentinels[0].log}")
            await asyncio.sleep(POLL_S)

    def kill(self, port: int) -> int:
        return kill_server(self.server_on(port))

    def restart(self, port: int):
        """Starts the server again with the arguments it first had: a former primary comes back
        as a master with an empty dataset, a replica as a replica of the first primary; either
        way the sentinels make it a replica of the current master (after about 10 s)."""
        s = self.server_on(port)
        if s.running:
            self.kill(port)
        self.start_server(s)

    def signal(self, port: int, sig: int):
        signal_server(self.server_on(port), sig)
