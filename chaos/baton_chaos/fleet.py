"""The processes of a chaos run: one private redis-server and N batond, each daemon reaching
Redis through its own fault proxy on loopback, so that one daemon's link can be cut, slowed or
made lossy alone; or, with `--redis sentinel`, a replication group behind three sentinels
(sentinel_group.py) that the daemons reach directly through the sentinels; or, with `--redis
cluster`, a Redis Cluster (cluster_group.py) whose nodes the daemons reach directly. Everything it starts
it also stops: on the run's end, on Ctrl-C and when the harness itself fails.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Optional

from .cluster_group import ClusterGroup
from .procs import die_with_parent, free_port, kill_group
from .proxy import FaultProxy
from .sentinel_group import SentinelGroup
from .resp import Connection, Indefinite, ReplyError
from .workloads.breaker import policy_yaml as breaker_policy_yaml

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


@dataclass
class Daemon:
    name: str
    socket: str
    log: str
    proxy: Optional[FaultProxy] = None
    proc: Optional[subprocess.Popen] = None
    stopped: bool = False            # SIGSTOPped
    faketime_file: Optional[str] = None
    fake_monotonic: bool = False
    incarnation: int = 0
    extra_env: dict = field(default_factory=dict)


def config_yaml(dir: str, settings: dict) -> str:
    """The daemons' config: short TTLs so that faults and recoveries fit in a short run."""
    policies = []
    for p in settings["rate"]["policies"]:
        windows = ", ".join(f"{{window_ms: {w['window_ms']}, limit: {w['limit']}}}"
                            for w in p["windows"])
        policies.append(
            f"    - {{name: {p['name']}, algorithm: {p['algorithm']}, windows: [{windows}], "
            f"failure_mode: {p['failure_mode']}}}")
    redis = settings["redis"]
    durable = ""
    if redis.get("wait_replicas"):
        # Durable writes wait for a replica; a short WAIT is answered as a reply that never
        # came (wait_short: fail), so every success was on a replica.
        durable = (f"  wait_replicas: {redis['wait_replicas']}\n"
                   f"  wait_timeout_ms: {redis['wait_timeout_ms']}\n"
                   "  wait_short: fail\n")
    return f"""# Written by chaos/run: short TTLs so that faults and recoveries fit in a short run.
redis:
  call_timeout_ms: {redis['call_timeout_ms']}
  connect_timeout_ms: 500
  dead_connection_ms: 1500
  reconnect_max_ms: 500
{durable}log: {{level: info}}
leases: {{lock_delay_ms: {settings['leases']['lock_delay_ms']}}}
rate:
  budget_ms: 100
  policies:
{chr(10).join(policies)}
secrets:
  keks:
    - {{id: chaos, file: {dir}/kek}}
  grace_ms: {settings['secret']['grace_ms']}
  refresh_ms: 1000
  ack_liveness_ms: 3000
breakers:
  policies:
{breaker_policy_yaml(settings['breaker'])}
membership: {{heartbeat_ms: 200, ttl_ms: {settings['membership']['ttl_ms']}}}
sessions: {{handoff_deadline_ms: 3000}}
state:
  namespaces:
    - {{name: chaos}}
cache:
  namespaces:
    - {{name: chaos, ttl_ms: 600000}}
"""


class Fleet:
    def __init__(self, batond: str, dir: str, daemons: int, settings: dict, aof: bool,
                 seed: int, bugs: list[str], clock_targets: dict[str, str],
                 redis: str = "single"):
        self.batond = batond
        self.topology = redis
        # A replicated topology's Redis; None: the one redis-server started below.
        self.group: Optional[SentinelGroup | ClusterGroup] = (
            SentinelGroup(dir) if redis == "sentinel" else
            ClusterGroup(dir) if redis == "cluster" else None)
        self.dir = dir
        self.settings = settings
        self.aof = aof
        self.seed = seed
        self.bugs = bugs
        self.redis_proc: Optional[subprocess.Popen] = None
        self.redis_port = 0
        self.redis_socket = os.path.join(dir, "redis.sock")
        os.makedirs(os.path.join(dir, "logs"), exist_ok=True)
        os.makedirs(os.path.join(dir, "redis-data"), exist_ok=True)
        self.daemons: dict[str, Daemon] = {}
        for i in range(1, daemons + 1):
            name = f"d{i}"
            d = Daemon(name, os.path.join(dir, f"{name}.sock"),
                       os.path.join(dir, "logs", f"{name}.log"))
            mode = clock_targets.get(name)
            if mode:
                d.faketime_file = os.path.join(dir, f"{name}.faketime")
                d.fake_monotonic = mode == "skew"
                with open(d.faketime_file, "w") as f:
                    f.write("+0\n")
            self.daemons[name] = d
        self.extra_procs: list[subprocess.Popen] = []

    # -- Redis -------------------------------------------------------------------------------

    def _redis_args(self) -> list[str]:
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                "--unixsocket", self.redis_socket, "--unixsocketperm", "700",
                "--dir", os.path.join(self.dir, "redis-data"), "--save", "",
                "--logfile", os.path.join(self.dir, "logs", "redis.log"),
                "--daemonize", "no"]
        if self.aof:
            # fsync on every write: a kill -9 then loses nothing acknowledged, so the run
            # tests a restart, not a data loss (that is the no-AOF mix's job).
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return args

    async def start_redis(self):
        if self.group:
            await self.group.start()
            return
        if not self.redis_port:
            self.redis_port = _free_port()
        self.redis_proc = subprocess.Popen(self._redis_args(), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True,
                                           preexec_fn=die_with_parent)
        await self.wait_redis()

    async def wait_redis(self, limit: float = 10.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                await self.redis_call("PING", timeout=0.5)
                return
            except (Indefinite, ReplyError):
                await asyncio.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    async def redis_call(self, *args, timeout: float = 1.0):
        if isinstance(self.group, ClusterGroup):
            raise RuntimeError("a cluster has no one Redis to call")
        if self.group:
            return await self.group.master_call(*args, timeout=timeout)
        c = Connection(path=self.redis_socket)
        await c.open(timeout=timeout)
        try:
            return await c.call(*args, timeout=timeout)
        finally:
            await c.aclose()

    def kill_redis(self):
        if self.redis_proc and self.redis_proc.poll() is None:
            self.redis_proc.kill()
            self.redis_proc.wait()

    # -- daemons -----------------------------------------------------------------------------

    def redis_url(self, d: Daemon) -> str:
        if self.group:
            return self.group.url()
        return f"redis://127.0.0.1:{d.proxy.listen_port}"

    async def start_proxies(self):
        if self.group:
            return  # the servers' own addresses reach the daemons: no proxy in between
        for d in self.daemons.values():
            d.proxy = FaultProxy("127.0.0.1", self.redis_port, name=d.name,
                                 seed=self.seed * 1000 + int(d.name[1:]))
            await d.proxy.start()

    def _daemon_env(self, d: Daemon) -> dict:
        env = dict(os.environ)
        env.pop("BATON_FAILPOINTS", None)
        env.pop("BATON_CHAOS_BUGS", None)  # only --bug turns one on, never the caller's shell
        if self.bugs:
            env["BATON_CHAOS_BUGS"] = ",".join(self.bugs)
        if d.faketime_file:
            env["LD_PRELOAD"] = FAKETIME_LIB
            env["FAKETIME_TIMESTAMP_FILE"] = d.faketime_file
            env["FAKETIME_CACHE_DURATION"] = "1"
            env["FAKETIME_DONT_RESET"] = "1"
            if not d.fake_monotonic:
                env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        env.update(d.extra_env)
        return env

    async def start_daemon(self, name: str, limit: float = 15.0):
        d = self.daemons[name]
        if d.proc and d.proc.poll() is None:
            raise RuntimeError(f"{name} is running")
        args = [self.batond, "--node-id", name, "--config", os.path.join(self.dir, "baton.yaml"),
                "--socket", d.socket, "--redis", self.redis_url(d),
                "--http", "off"]
        log = open(d.log, "a")
        d.incarnation += 1
        log.write(f"# chaos: start of incarnation {d.incarnation}\n")
        log.flush()
        d.proc = subprocess.Popen(args, stdout=log, stderr=log, env=self._daemon_env(d),
                                  start_new_session=True, preexec_fn=die_with_parent)
        d.stopped = False
        log.close()
        await self.wait_serving(name, limit)

    async def wait_serving(self, name: str, limit: float = 15.0) -> float:
        """Waits until the daemon answers PING and DEBUG RTT (it reaches Redis); returns how
        long that took. Raises TimeoutError past `limit`."""
        d = self.daemons[name]
        start = time.monotonic()
        while time.monotonic() - start < limit:
            if d.proc is None or d.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {d.proc.returncode if d.proc else '?'}")
            try:
                c = Connection(path=d.socket)
                await c.open(timeout=0.5)
                try:
                    await c.call("PING", timeout=0.5)
                    await c.call("DEBUG", "RTT", timeout=0.5)
                    return time.monotonic() - start
                finally:
                    await c.aclose()
            except (Indefinite, ReplyError):
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{name} did not serve within {limit}s")

    def signal_daemon(self, name: str, sig: int):
        d = self.daemons[name]
        if d.proc and d.proc.poll() is None:
            os.kill(d.proc.pid, sig)
            if sig == signal.SIGSTOP:
                d.stopped = True
            elif sig == signal.SIGCONT:
                d.stopped = False

    async def wait_exit(self, name: str, limit: float = 30.0) -> Optional[int]:
        d = self.daemons[name]
        deadline = time.monotonic() + limit
        while d.proc and d.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return d.proc.poll() if d.proc else None

    def process_state(self, pid: int) -> str:
        """The one-letter state of /proc/<pid>/stat: 'T' when stopped."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return "?"

    # -- stopping everything -----------------------------------------------------------------

    async def stop_all(self):
        # Each step alone: one that fails must not leave the others running.
        for p in list(self.extra_procs):
            _kill_group(p)
        for d in self.daemons.values():
            if d.proc and d.proc.poll() is None:
                _kill_group(d.proc)
        for d in self.daemons.values():
            if d.proxy:
                try:
                    await d.proxy.stop()
                except Exception:
                    pass
        if self.redis_proc:
            _kill_group(self.redis_proc)
        if self.group:
            self.group.stop_all()

    def kill_everything_now(self):
        """For signal handlers and crashes: no awaiting."""
        group = self.group.processes() if self.group else []
        for p in (self.extra_procs + [d.proc for d in self.daemons.values()] + [self.redis_proc]
                  + group):
            if p is not None:
                _kill_group(p)


# Kept under their old names for callers of this module.
_kill_group = kill_group
_free_port = free_port
