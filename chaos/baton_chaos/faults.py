"""Faults: the catalogue, the seeded schedule, and how each is applied and healed. Every fault
is confirmed before it counts as applied (the process is gone or stopped, Redis answered the
pause, the proxy switched) and as healed (the daemon serves again), and recorded with those
times. The same seed and mix give the same schedule.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

from .fleet import Fleet
from .resp import Connection, Indefinite, ReplyError

MIXES = {
    "none": [],
    "process": ["kill", "pause"],
    "redis": ["redis-kill", "redis-pause"],
    "data-loss": ["redis-kill"],
    "network": ["partition", "slow", "lossy"],
    "clock": ["clock-step", "clock-skew"],
    "cpu": ["cpu-starve"],
    "deploy": ["rolling-restart", "drain", "drain-redis-paused", "kill-mid-drain"],
}
MIXES["all"] = sorted({k for m in ("process", "redis", "network", "clock", "cpu", "deploy")
                       for k in MIXES[m]})
DAEMON_FAULTS = {"kill", "pause", "partition", "slow", "lossy", "clock-step", "clock-skew",
                 "cpu-starve", "drain", "kill-mid-drain", "drain-redis-paused"}


@dataclass
class Fault:
    id: int
    kind: str
    target: str
    params: dict
    at: float            # scheduled start, seconds into the run
    hold: float          # how long it stays applied
    t_start: Optional[float] = None
    t_applied: Optional[float] = None
    t_heal: Optional[float] = None
    t_healed: Optional[float] = None
    data_loss: bool = False
    clock: bool = False
    detail: str = ""
    error: str = ""

    def record(self) -> dict:
        d = asdict(self)
        for k in ("at", "hold"):
            d.pop(k)
        return d


def parse_mix(text: str) -> list[str]:
    kinds: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part in MIXES:
            kinds += MIXES[part]
        elif part in DAEMON_FAULTS or part in {"redis-kill", "redis-pause", "rolling-restart"}:
            kinds.append(part)
        else:
            raise ValueError(f"unknown fault or mix {part!r}; mixes: {', '.join(MIXES)}")
    return sorted(set(kinds), key=kinds.index)


def parse_schedule(text: str, daemons: list[str], start: float = 3.0) -> list[Fault]:
    """`kind[@target][:hold][/param=value...]; ...` (or commas): faults one after another from `start`, each begun once
    the one before has healed (Injector.run waits for each), for scenarios written by hand.
    `redis-kill-nosave` is a redis-kill in a run whose Redis keeps no data."""
    faults = []
    for n, part in enumerate(filter(None, (p.strip() for p in re.split(r"[;,]", text))), 1):
        part, *overrides = part.split("/")
        spec, _, hold = part.partition(":")
        kind, _, target = spec.partition("@")
        if kind == "redis-kill-nosave":
            kind = "redis-kill"
        if kind not in set(MIXES["all"]) | {"redis-kill"}:
            raise ValueError(f"unknown fault {kind!r} in --schedule")
        if kind.startswith("redis"):
            target = "redis"
        elif kind == "rolling-restart":
            target = "all"
        elif target not in daemons:
            raise ValueError(f"--schedule {part!r}: target must be one of {', '.join(daemons)}")
        params = {"slow": {"delay_ms": 300},
                  "lossy": {"stall_prob": 0.05, "stall_ms": 300, "reset_prob": 0.002},
                  "redis-pause": {"mode": "ALL"},
                  "clock-step": {"offset_s": 60},
                  "clock-skew": {"rate": 0.9},
                  "kill-mid-drain": {"after_ms": 20},
                  "drain-redis-paused": {"how": "paused"}}.get(kind, {})
        params = dict(params)
        for item in overrides:
            key, _, text = item.partition("=")
            if key not in params:
                raise ValueError(f"--schedule {part!r}: {kind} has no parameter {key!r}")
            params[key] = type(params[key])(text)
        faults.append(Fault(n, kind, target, params, start, float(hold or 2.0)))
    return faults


def clock_targets(kinds: list[str], daemons: list[str]) -> dict[str, str]:
    """Which daemon runs under libfaketime, and how: the step on the first, the skew on the
    last (the others keep the real clock)."""
    out = {}
    if "clock-step" in kinds:
        out[daemons[0]] = "step"
    if "clock-skew" in kinds:
        out[daemons[-1]] = "skew"
    return out


def schedule(kinds: list[str], daemons: list[str], duration: float, seed: int,
             settings: dict, start: float = 3.0, settle: float = 6.0) -> list[Fault]:
    """One fault at a time: quiet, fault, heal, quiet... until `settle` seconds before the end
    (longer than the liveness bound, so every recovery is judged before the final phase)."""
    rng = random.Random(f"faults/{seed}")
    faults: list[Fault] = []
    if not kinds:
        return faults
    ttl = settings["lease"]["ttl_ms"] / 1000
    t = start
    targets = clock_targets(kinds, daemons)
    order: list[str] = []
    while True:
        if not order:
            order = list(kinds)
            rng.shuffle(order)
        kind = order.pop()
        hold, params, target = rng.uniform(1.0, 3.0), {}, rng.choice(daemons)
        if kind == "pause":
            hold = rng.uniform(1.2, 2.0) * ttl          # past the lease TTL: the GC-pause case
        elif kind == "kill":
            hold = rng.uniform(0.2, 2.0)
        elif kind == "redis-kill":
            target, hold = "redis", rng.uniform(0.2, 1.5)
        elif kind == "redis-pause":
            target = "redis"
            params = {"mode": rng.choice(["WRITE", "ALL"])}
            hold = rng.uniform(0.6, 2.0)                 # past the call budget
        elif kind == "slow":
            params = {"delay_ms": rng.choice([50, 150, 400])}
        elif kind == "lossy":
            params = {"stall_prob": 0.05, "stall_ms": 300, "reset_prob": 0.002}
        elif kind == "clock-step":
            target = [d for d, m in targets.items() if m == "step"][0]
            params = {"offset_s": rng.choice([-90, -30, 30, 90])}
        elif kind == "clock-skew":
            target = [d for d, m in targets.items() if m == "skew"][0]
            params = {"rate": rng.choice([0.9, 1.1])}
            hold = rng.uniform(3.0, 6.0)
        elif kind == "cpu-starve":
            hold = rng.uniform(1.5, 3.0)
        elif kind == "rolling-restart":
            target, hold = "all", 0.0
        elif kind in ("drain", "drain-redis-paused", "kill-mid-drain"):
            hold = 0.0
            if kind == "kill-mid-drain":
                params = {"after_ms": rng.randint(5, 80)}
            elif kind == "drain-redis-paused":
                params = {"how": rng.choice(["paused", "slow"])}
        budget = _expected_length(kind, hold, len(daemons))
        if t + budget > duration - settle:
            break
        faults.append(Fault(len(faults) + 1, kind, target, params, round(t, 3), round(hold, 3)))
        t += budget + rng.uniform(2.0, 4.0)
    return faults


def _expected_length(kind: str, hold: float, daemons: int) -> float:
    if kind == "rolling-restart":
        return 3.0 * daemons
    if kind in ("drain", "drain-redis-paused", "kill-mid-drain", "clock-skew"):
        return hold + 4.0
    return hold + 1.5


class Injector:
    """Applies the schedule to a fleet, one fault after another, recording each."""

    def __init__(self, fleet: Fleet, history, out_path: str, settings: dict):
        self.fleet, self.history, self.settings = fleet, history, settings
        self.out = open(out_path, "w")
        self.done: list[Fault] = []
        self.current: Optional[Fault] = None
        self.probe_limit = settings["liveness"]["serve_within_s"]

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
        self.out.close()

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
            await _until(lambda: self.fleet.process_state(d.proc.pid) == "T", 2.0, "SIGSTOP")
            self.applied(f, f"pid {d.proc.pid} stopped")
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            self.fleet.signal_daemon(f.target, signal.SIGCONT)
        await _until(lambda: self.fleet.process_state(d.proc.pid) != "T", 2.0, "SIGCONT")
        await self.fleet.wait_serving(f.target, self.probe_limit)
        self.healed(f, "continued and serving")

    async def _cpu_starve(self, f: Fault):
        d = self.fleet.daemons[f.target]
        pid = d.proc.pid
        hog = None
        try:
            # Pin the daemon to CPU 0 at the lowest priority, and load CPU 0 with busy workers.
            _run(["taskset", "-a", "-cp", "0", str(pid)])
            _run(["renice", "-n", "19", "-p", str(pid)])
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
                _run(["taskset", "-a", "-cp", f"0-{os.cpu_count() - 1}", str(pid)])
                _run(["renice", "-n", "0", "-p", str(pid)])
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
        await _secret_put(self.fleet, self.history)

    async def _redis_pause(self, f: Fault):
        ms = int(f.hold * 1000)
        reply = await self.fleet.redis_call("CLIENT", "PAUSE", str(ms), f.params["mode"])
        self.applied(f, f"CLIENT PAUSE {ms} {f.params['mode']} answered {reply}")
        await asyncio.sleep(f.hold)
        f.t_heal = round(self.now(), 6)
        # Confirmed over when a write goes through.
        await _until_async(lambda: self.fleet.redis_call("SET", "chaos:probe", "1", timeout=0.5),
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
            _write(d.faketime_file, f"{offset:+d}\n")
            await self.clock_reads(d.faketime_file, offset)
            # The daemon's libfaketime re-reads the file once a second: in effect after that.
            await asyncio.sleep(1.1)
            self.applied(f, f"wall clock of {f.target} stepped {offset:+d} s (monotonic not)")
            await asyncio.sleep(f.hold)
        finally:
            f.t_heal = round(self.now(), 6)
            _write(d.faketime_file, "+0\n")
        await self.clock_reads(d.faketime_file, 0)
        await asyncio.sleep(1.1)
        self.healed(f, "stepped back")

    async def clock_reads(self, faketime_file: str, offset: int):
        """Confirms libfaketime reads `offset` from the file: a process started with the
        daemon's settings sees the wall clock that far from the real one."""
        seen = await _fake_now(faketime_file)
        if abs(seen - time.time() - offset) > 2:
            raise RuntimeError(f"libfaketime reads {seen - time.time():+.0f} s, not {offset:+d}")

    async def _clock_skew(self, f: Fault):
        # A rate cannot change under a running process without its clock jumping, so the
        # daemon is restarted with the skewed clock (monotonic too), and again without.
        f.clock = True
        d = self.fleet.daemons[f.target]
        self.fleet.signal_daemon(f.target, signal.SIGTERM)
        await self.exited(f.target, 20.0)
        _write(d.faketime_file, f"+0 x{f.params['rate']}\n")
        await self.fleet.start_daemon(f.target)
        self.applied(f, f"{f.target} restarted with its clocks at x{f.params['rate']}")
        await asyncio.sleep(f.hold)
        f.t_heal = round(self.now(), 6)
        self.fleet.signal_daemon(f.target, signal.SIGTERM)
        await self.exited(f.target, 20.0)
        _write(d.faketime_file, "+0\n")
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
        self.applied(f, f"NODE DRAIN WAIT on {f.target}: {_flat(reply)}")
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


async def _secret_put(fleet: Fleet, history=None, limit: float = 10.0):
    """Puts the secret the workload rotates, through the first daemon that can (at the start,
    and after a data loss emptied Redis: the daemons may still be reconnecting). Recorded in
    the history as the harness's own `rotate`, so the checkers know the version it made."""
    from .workloads.secret import NAME, WORKLOAD
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for name, d in fleet.daemons.items():
            inv = history.invoke("harness", WORKLOAD, "rotate", name, {"name": NAME}) \
                if history else None
            try:
                c = Connection(path=d.socket)
                await c.open(timeout=1.0)
                try:
                    r = await c.call("SECRET", "PUT", NAME, os.urandom(16).hex(), timeout=3.0)
                finally:
                    await c.aclose()
            except (Indefinite, ReplyError) as e:
                if inv:
                    definite = isinstance(e, ReplyError) and e.code != "UNAVAILABLE"
                    history.complete(inv, "fail" if definite else "info",
                                     {"name": NAME, "error": str(e)})
                continue
            if inv:
                m = dict(zip(r[::2], r[1::2])) if isinstance(r, list) else dict(r)
                history.complete(inv, "ok", {"name": NAME, "version": int(m["version"]),
                                             "previous": int(m.get("previous") or 0)})
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("no daemon could put the workload's secret")


def _flat(reply) -> str:
    if isinstance(reply, dict):
        return " ".join(f"{k}={v}" for k, v in reply.items())
    if isinstance(reply, list):
        return " ".join(f"{reply[i]}={reply[i + 1]}" for i in range(0, len(reply) - 1, 2))
    return str(reply)


def _write(path: str, text: str):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


async def _fake_now(faketime_file: str) -> float:
    """The wall clock libfaketime gives a process reading `faketime_file` (the confirmation
    that the step is in effect)."""
    from .fleet import FAKETIME_LIB
    env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE=faketime_file,
               FAKETIME_NO_CACHE="1")
    proc = await asyncio.create_subprocess_exec("date", "+%s", env=env,
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return float(out.strip() or 0)


def _run(args: list[str]):
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


async def _until(pred, limit: float, what: str):
    deadline = time.monotonic() + limit
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not confirmed: {what}")
        await asyncio.sleep(0.01)


async def _until_async(fn, limit: float, what: str):
    deadline = time.monotonic() + limit
    while True:
        try:
            return await fn()
        except (Indefinite, ReplyError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not confirmed: {what}")
            await asyncio.sleep(0.05)
