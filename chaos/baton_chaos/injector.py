"""Applies a schedule of faults to a fleet, one after another, each confirmed applied (the
process is gone or stopped, Redis answered the pause, the proxy switched, the clock reads the
step) and healed (the daemon serves again), and always healed, also when applying failed;
then probes that every daemon serves. Records each fault with those times. The faults of a
Redis Cluster are in cluster_faults.py.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from typing import Optional

from .cluster_faults import ClusterFaults
from .fault_tools import (fake_now, flat, put_workload_secret, run, until, until_answers,
                          write_atomically)
from .faults import Fault
from .fleet import Fleet
from .resp import Connection
from .sentinel_group import AUTOMATIC_FAILOVER_GAP_S, SETTLE_LIMIT_S, SentinelGroup

# How long the sentinels may take to promote a replica (down-after is 1 s; a loaded machine
# and a retried election take longer).
PROMOTION_LIMIT_S = 30.0
# How long a watch waits for the old master to say it is a replica again.
DEMOTION_LIMIT_S = 90.0
# How long after a promotion a watch looks for the sentinels failing over again by themselves.
REFAILOVER_WATCH_S = 15.0


class Injector(ClusterFaults):
    """Applies the schedule to a fleet, one fault after another, recording each."""

    def __init__(self, fleet: Fleet, history, out_path: str, settings: dict):
        self.fleet, self.history, self.settings = fleet, history, settings
        self.out = open(out_path, "w")
        self.done: list[Fault] = []
        self.current: Optional[Fault] = None
        self.probe_limit = settings["liveness"]["serve_within_s"]
        self.out_path = out_path
        self.last_failover: Optional[float] = None  # when the last sentinel fault began
        self.last_cluster_fault: Optional[int] = None  # the id of the last cluster fault
        self.watches: list[asyncio.Task] = []

    def now(self) -> float:
        return self.history.now()

    async def run(self, faults: list[Fault], stop: asyncio.Event):
        for f in faults:
            wait = f.at - self.now()
            if wait > 0:
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                    return
                except asyncio.TimeoutError:
                    pass
            if stop.is_set():
                return
            await self.inject(f)

    async def inject(self, f: Fault):
        self.current = f
        f.t_start = round(self.now(), 6)
        try:
            await getattr(self, "_" + f.kind.replace("-", "_"))(f)
        except Exception as e:  # a fault that cannot be applied or healed is the harness's
            f.error = repr(e)   # failure: recorded, and the run reports it
        if f.t_healed is None and not f.error:
            f.error = "not confirmed healed"
        await self.probe(f)
        self.out.write(json.dumps(f.record()) + "\n")
        self.out.flush()
        self.done.append(f)
        self.current = None

    def records(self) -> list[dict]:
        """Every fault begun, the one in progress too (an interrupted run must not lose its
        data-loss window): its missing heal reads as 'never healed'."""
        out = [f.record() for f in self.done]
        if self.current is not None and self.current.t_start is not None:
            out.append(dict(self.current.record(), error=self.current.error or "interrupted"))
        return out

    def close(self):
        """Writes faults.jsonl again with what the demotion watches learned after each fault
        was first written."""
        self.cancel_watches()
        self.out.close()
        with open(self.out_path, "w") as out:
            for record in self.records():
                out.write(json.dumps(record) + "\n")

    def cancel_watches(self):
        for t in self.watches:
            t.cancel()

    def note(self, f: Fault, detail: str):
        f.detail = (f.detail + "; " if f.detail else "") + detail

    def applied(self, f: Fault, detail: str = ""):
        f.t_applied = round(self.now(), 6)
        if detail:
            f.detail = (f.detail + "; " if f.detail else "") + detail

    def healed(self, f: Fault, detail: str = ""):
        f.t_healed = round(self.now(), 6)
        if detail:
            f.detail = (f.detail + "; " if f.detail else "") + detail

    async def probe(self, f: Fault):
        """Liveness after the heal: each daemon answers PING and DEBUG RTT again."""
        for name in self.fleet.daemons:
            start = self.now()
            try:
                await self.fleet.wait_serving(name, self.probe_limit)
                self.history.event("prober", "liveness", "serving", name,
                                   {"fault": f.id, "node": name,
                                    "after_s": round(self.now() - (f.t_healed or start), 3)})
            except Exception as e:
                self.history.event("prober", "liveness", "not-serving", name,
                                   {"fault": f.id, "node": name,
                                    "after_s": round(self.now() - (f.t_healed or start), 3),
                                    "error": repr(e)})

    # -- daemon processes ---------------------------------------------------------------------

    async def _kill(self, f: Fault):
        d = self.fleet.daemons[f.target]
        pid = d.proc.pid
        self.fleet.signal_daemon(f.target, signal.SIGKILL)
        await self.exited(f.target, 5.0)
        self.applied(f, f"pid {pid} killed")
        await asyncio.sleep(f.hold)
        f.t_heal = round(self.now(), 6)
        await self.fleet.start_daemon(f.target)
        self.healed(f, f"restarted as pid {d.proc.pid}")

    async def _pause(self, f: Fault):
        d = self.fleet.daemons[f.target]
        try:
            self.fleet.signal_daemon(f.target, signal.SIGSTOP)
            await until(lambda: self.fleet.process_state(d.proc.pid) == "T", 2.0, "SIGSTOP")
            self.applied(f, f"pid {d.proc.pid} stopped")
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            self.fleet.signal_daemon(f.target, signal.SIGCONT)
        await until(lambda: self.fleet.process_state(d.proc.pid) != "T", 2.0, "SIGCONT")
        await self.fleet.wait_serving(f.target, self.probe_limit)
        self.healed(f, "continued and serving")

    async def _cpu_starve(self, f: Fault):
        d = self.fleet.daemons[f.target]
        pid = d.proc.pid
        hog = None
        try:
            # Pin the daemon to CPU 0 at the lowest priority, and load CPU 0 with busy workers.
            run(["taskset", "-a", "-cp", "0", str(pid)])
            run(["renice", "-n", "19", "-p", str(pid)])
            hog = subprocess.Popen(["stress-ng", "--cpu", "2", "--taskset", "0", "--timeout",
                                    f"{int(f.hold) + 5}s", "--quiet"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
            self.fleet.extra_procs.append(hog)
            await asyncio.sleep(0.2)
            if hog.poll() is not None:
                raise RuntimeError("stress-ng exited at once")
            self.applied(f, f"pid {pid} pinned to CPU 0 at nice 19 beside stress-ng pid "
                            f"{hog.pid}")
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            if hog is not None:
                if hog.poll() is None:
                    os.killpg(hog.pid, signal.SIGKILL)
                hog.wait()
                self.fleet.extra_procs.remove(hog)
            if d.proc.poll() is None:
                run(["taskset", "-a", "-cp", f"0-{os.cpu_count() - 1}", str(pid)])
                run(["renice", "-n", "0", "-p", str(pid)])
        await self.fleet.wait_serving(f.target, self.probe_limit)
        self.healed(f, "stress-ng stopped, priority and CPUs restored")

    # -- Redis ------------------------------------------------------------------------------

    async def _redis_kill(self, f: Fault):
        f.data_loss = not self.fleet.aof
        pid = self.fleet.redis_proc.pid
        self.fleet.kill_redis()
        self.applied(f, f"redis-server pid {pid} killed ({'AOF' if self.fleet.aof else 'no persistence'})")
        await asyncio.sleep(f.hold)
        f.t_heal = round(self.now(), 6)
        await self.fleet.start_redis()
        self.healed(f, f"restarted as pid {self.fleet.redis_proc.pid}")
        if f.data_loss:
            await self.history_note_data_loss(f)

    async def history_note_data_loss(self, f: Fault):
        # The secret the workload rotates is gone with the data: put it back so that the
        # run goes on (the checkers exempt what spans the loss).
        await put_workload_secret(self.fleet, self.history)

    async def _redis_pause(self, f: Fault):
        ms = int(f.hold * 1000)
        reply = await self.fleet.redis_call("CLIENT", "PAUSE", str(ms), f.params["mode"])
        self.applied(f, f"CLIENT PAUSE {ms} {f.params['mode']} answered {reply}")
        await asyncio.sleep(f.hold)
        f.t_heal = round(self.now(), 6)
        # Confirmed over when a write goes through.
        await until_answers(lambda: self.fleet.redis_call("SET", "chaos:probe", "1", timeout=0.5),
                           5.0, "a write after the pause")
        self.healed(f, "a write went through")

    # -- the network --------------------------------------------------------------------------

    async def _proxy_fault(self, f: Fault, mode: str, **params):
        proxy = self.fleet.daemons[f.target].proxy
        try:
            await proxy.set_mode(mode, **params)
            self.applied(f, f"proxy of {f.target}: {mode} {params or ''}".strip())
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            await proxy.set_mode("pass")
        await self.fleet.wait_serving(f.target, self.probe_limit)
        self.healed(f, f"proxy passes; {proxy.stats()}")

    async def _partition(self, f: Fault):
        await self._proxy_fault(f, "partition")

    async def _slow(self, f: Fault):
        await self._proxy_fault(f, "slow", delay_ms=f.params["delay_ms"])

    async def _lossy(self, f: Fault):
        await self._proxy_fault(f, "lossy", **f.params)

    # -- clocks -------------------------------------------------------------------------------

    async def _clock_step(self, f: Fault):
        f.clock = True
        d = self.fleet.daemons[f.target]
        offset = f.params["offset_s"]
        try:
            write_atomically(d.faketime_file, f"{offset:+d}\n")
            await self.clock_reads(d.faketime_file, offset)
            # The daemon's libfaketime re-reads the file once a second: in effect after that.
            await asyncio.sleep(1.1)
            self.applied(f, f"wall clock of {f.target} stepped {offset:+d} s (monotonic not)")
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            write_atomically(d.faketime_file, "+0\n")
        await self.clock_reads(d.faketime_file, 0)
        await asyncio.sleep(1.1)
        self.healed(f, "stepped back")

    async def clock_reads(self, faketime_file: str, offset: int):
        """Confirms libfaketime reads `offset` from the file: a process started with the
        daemon's settings sees the wall clock that far from the real one."""
        seen = await fake_now(faketime_file)
        if abs(seen - time.time() - offset) > 2:
            raise RuntimeError(f"libfaketime reads {seen - time.time():+.0f} s, not {offset:+d}")

    async def _clock_skew(self, f: Fault):
        # A rate cannot change under a running process without its clock jumping, so the
        # daemon is restarted with the skewed clock (monotonic too), and again without.
        f.clock = True
        d = self.fleet.daemons[f.target]
        self.fleet.signal_daemon(f.target, signal.SIGTERM)
        await self.exited(f.target, 20.0)
        write_atomically(d.faketime_file, f"+0 x{f.params['rate']}\n")
        await self.fleet.start_daemon(f.target)
        self.applied(f, f"{f.target} restarted with its clocks at x{f.params['rate']}")
        await asyncio.sleep(f.hold)
        f.t_heal = round(self.now(), 6)
        self.fleet.signal_daemon(f.target, signal.SIGTERM)
        await self.exited(f.target, 20.0)
        write_atomically(d.faketime_file, "+0\n")
        await self.fleet.start_daemon(f.target)
        self.healed(f, "restarted with the real rate")

    # -- deploys ------------------------------------------------------------------------------

    async def exited(self, name: str, limit: float) -> int:
        """The daemon's exit status; raises if it is still running after `limit`."""
        code = await self.fleet.wait_exit(name, limit)
        if code is None:
            raise RuntimeError(f"{name} still runs {limit:g} s after the signal")
        return code

    async def _restart(self, name: str) -> str:
        self.fleet.signal_daemon(name, signal.SIGTERM)
        code = await self.exited(name, 30.0)
        await self.fleet.start_daemon(name)
        return f"{name} exited {code} and serves again"

    async def _rolling_restart(self, f: Fault):
        names = list(self.fleet.daemons)
        details = []
        for i, name in enumerate(names):
            if i == 0:
                self.fleet.signal_daemon(name, signal.SIGTERM)
                self.applied(f, f"SIGTERM to {name}")
                code = await self.exited(name, 30.0)
                await self.fleet.start_daemon(name)
                details.append(f"{name} exited {code}")
            else:
                await asyncio.sleep(1.0)
                details.append(await self._restart(name))
        f.t_heal = round(self.now(), 6)
        self.healed(f, ", ".join(details))

    async def _admin(self, name: str, *args, timeout: float = 15.0):
        c = Connection(path=self.fleet.daemons[name].socket)
        await c.open(timeout=1.0)
        try:
            return await c.call(*args, timeout=timeout)
        finally:
            await c.aclose()

    async def _drain(self, f: Fault):
        reply = await self._admin(f.target, "NODE", "DRAIN", "WAIT")
        self.applied(f, f"NODE DRAIN WAIT on {f.target}: {flat(reply)}")
        f.t_heal = round(self.now(), 6)
        self.healed(f, await self._restart(f.target))

    async def _drain_redis_paused(self, f: Fault):
        """A drain (SIGTERM) while Redis is paused (CLIENT PAUSE ALL, 1.5 s) or slow (every
        daemon's link delays each chunk 300 ms until the drained daemon has exited)."""
        how = f.params.get("how", "paused")
        proxies = [d.proxy for d in self.fleet.daemons.values()]
        try:
            if how == "slow":
                for p in proxies:
                    await p.set_mode("slow", delay_ms=300)
                what = "every link to Redis slowed by 300 ms"
            else:
                await self.fleet.redis_call("CLIENT", "PAUSE", "1500", "ALL")
                what = "CLIENT PAUSE 1500 ALL"
            self.fleet.signal_daemon(f.target, signal.SIGTERM)
            self.applied(f, f"{what}, then SIGTERM to {f.target}")
            code = await self.exited(f.target, 30.0)
        finally:
            f.t_heal = round(self.now(), 6)
            if how == "slow":
                for p in proxies:
                    await p.set_mode("pass")
        await self.fleet.start_daemon(f.target)
        self.healed(f, f"{f.target} exited {code} and serves again")

    async def _kill_mid_drain(self, f: Fault):
        c = Connection(path=self.fleet.daemons[f.target].socket)
        await c.open(timeout=1.0)
        try:
            await c.call("NODE", "DRAIN", timeout=5.0)
        finally:
            await c.aclose()
        await asyncio.sleep(f.params["after_ms"] / 1000)
        self.fleet.signal_daemon(f.target, signal.SIGKILL)
        await self.exited(f.target, 5.0)
        self.applied(f, f"NODE DRAIN, then kill -9 {f.params['after_ms']} ms later")
        f.t_heal = round(self.now(), 6)
        await self.fleet.start_daemon(f.target)
        self.healed(f, "restarted")

    # -- a Sentinel group ------------------------------------------------------------------------

    async def _group_ready(self, f: Fault) -> SentinelGroup:
        """Waits until the group can fail over: settled (a sentinel that has not yet noticed a
        restarted server became a replica would make the failover abort), and for kill-master
        and pause-master twice the failover timeout after the last failover (a sentinel starts
        no automatic failover before). The fault starts after the wait."""
        group = self.fleet.group
        if not isinstance(group, SentinelGroup):
            raise RuntimeError(f"{f.kind} needs --redis sentinel")
        waited = []
        if f.kind != "failover" and self.last_failover is not None:
            gap = self.last_failover + AUTOMATIC_FAILOVER_GAP_S - self.now()
            if gap > 0:
                await asyncio.sleep(gap)
                waited.append(f"{gap:.1f} s for the sentinels' failover gap")
        settled = await group.wait_settled(SETTLE_LIMIT_S)
        if settled > 0.2:
            waited.append(f"{settled:.1f} s for the group to settle")
        if waited:
            f.detail = "waited " + " and ".join(waited)
        f.t_start = round(self.now(), 6)
        self.last_failover = self.now()
        f.failover = True
        f.old_master = await group.agreed_master_port()
        return group

    async def _promoted(self, f: Fault, group: SentinelGroup):
        f.new_master = await group.wait_new_master(f.old_master, PROMOTION_LIMIT_S)
        f.t_failover = round(self.now(), 6)
        f.failover_s = round(f.t_failover - f.t_applied, 3)
        self.note(f, f"port {f.new_master} master after {f.failover_s:.3f} s")

    def _watch_demotion(self, f: Fault, group: SentinelGroup):
        """In the background: when the old master says it is a replica again (until then a
        write it takes may be lost), and whether the sentinels fail over again on their own
        within REFAILOVER_WATCH_S of the promotion (a master that looked down meanwhile): the
        last such promotion is `t_refailover`, to `refailover_master`, and the checkers'
        failover window reaches past it."""
        async def watch():
            deadline = self.now() + DEMOTION_LIMIT_S
            settle_until = (f.t_failover or self.now()) + REFAILOVER_WATCH_S
            master = f.new_master
            while self.now() < deadline:
                if f.t_demoted is None and await group.role(f.old_master) == "slave":
                    f.t_demoted = round(self.now(), 6)
                if self.now() < settle_until and master:
                    port = await group.agreed_master_port()
                    if port and port != master:
                        master = port
                        f.t_refailover = round(self.now(), 6)
                        f.refailover_master = port
                        self.note(f, f"the sentinels failed over again, to port {port}, at "
                                     f"{f.t_refailover:.3f}")
                elif f.t_demoted is not None:
                    return
                await asyncio.sleep(0.25)
        self.watches.append(asyncio.create_task(watch()))

    async def _failover(self, f: Fault):
        group = await self._group_ready(f)
        answer = await group.failover()
        self.applied(f, f"SENTINEL FAILOVER ({answer}; master on port {f.old_master})")
        await self._promoted(f, group)
        f.t_heal = f.t_failover
        self.healed(f)
        self._watch_demotion(f, group)

    async def _kill_master(self, f: Fault):
        group = await self._group_ready(f)
        pid = group.kill(f.old_master)
        self.applied(f, f"master on port {f.old_master} (pid {pid}) killed")
        try:
            await self._promoted(f, group)
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            group.restart(f.old_master)
        self.healed(f, f"port {f.old_master} restarted as pid "
                       f"{group.server_on(f.old_master).proc.pid}")
        self._watch_demotion(f, group)

    async def _pause_master(self, f: Fault):
        group = await self._group_ready(f)
        server = group.server_on(f.old_master)
        try:
            group.signal(f.old_master, signal.SIGSTOP)
            await until(lambda: self.fleet.process_state(server.proc.pid) == "T", 2.0,
                        "SIGSTOP")
            self.applied(f, f"master on port {f.old_master} (pid {server.proc.pid}) stopped")
            await self._promoted(f, group)
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            group.signal(f.old_master, signal.SIGCONT)
        await until(lambda: self.fleet.process_state(server.proc.pid) != "T", 2.0, "SIGCONT")
        self.healed(f, "continued: a stale master until the sentinels demote it")
        self._watch_demotion(f, group)
