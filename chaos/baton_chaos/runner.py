"""One chaos run from start to verdict: start the fleet, run the workloads while the injector
applies the seeded schedule, let the system settle, run the final reads, stop everything
that was started (also on Ctrl-C or the harness's own failure), check the history and write
the report, the summary and the timeline.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import shutil
import signal

from . import checkers, faults as faults_mod
from .fault_tools import put_workload_secret
from .injector import Injector
from .fleet import Fleet, config_yaml
from .history import History
from .summary import summary_text, write_summary
from .timeline import render_timeline
from .workloads import (breaker, cache, dedup, election, events, lease, rate, secret, session,
                        state)
from .workloads.base import Context

WORKLOADS = {"lease": lease, "election": election, "session": session, "secret": secret,
             "rate": rate, "dedup": dedup, "breaker": breaker, "state": state,
             "cache": cache, "events": events}


def default_settings(daemons: int, redis: str = "single") -> dict:
    # On a Sentinel group or a cluster (per node) durable writes wait for one replica: a short
    # WAIT answers as if the reply never came. The call budget is above the WAIT's (as in
    # tests/integration/sentinel_test.cpp): the calls pipelined behind a durable write wait for
    # its WAIT too.
    link = ({"call_timeout_ms": 1000, "wait_replicas": 1, "wait_timeout_ms": 500}
            if redis in ("sentinel", "cluster") else {"call_timeout_ms": 250})
    return {
        "daemons": [f"d{i}" for i in range(1, daemons + 1)],
        "redis": link,
        "leases": {"lock_delay_ms": 0},
        "lease": {"ttl_ms": 1500, "names": 1, "clients": 4, "stall_probability": 0.05},
        "election": {"candidates": 3, "ttl_ms": 1500},
        "session": {"clients": 3, "per_client": 3},
        "secret": {"grace_ms": 3000, "rotate_every_s": 1.0},
        "rate": {"clients": 4, "keys": 2, "interval_s": 0.02, "policies": [
            {"name": "chaos-gcra", "algorithm": "gcra", "failure_mode": "local",
             "windows": [{"window_ms": 1000, "limit": 20}, {"window_ms": 5000, "limit": 30}]},
            {"name": "chaos-log", "algorithm": "sliding_log", "failure_mode": "closed",
             "windows": [{"window_ms": 2000, "limit": 25}]},
        ]},
        "dedup": {"clients": 6, "ttl_ms": 2000, "key_every_s": 2.0, "crash_probability": 0.1},
        "breaker": {"clients": 3, "window_calls": 6, "open_ms": 500, "probe_timeout_ms": 1000,
                    "period_s": 6.0, "fail_s": 3.0},
        "state": {"clients": 4, "keys": 2, "interval_s": 0.03},
        # near_bound_s: the subscription's dead-connection limit (1.5 s) and its PING period,
        # and room for a loaded machine (see checkers/cache.py)
        "cache": {"clients": 4, "keys": 2, "interval_s": 0.01, "write_every_s": 0.1,
                  "near_bound_s": 2.5},
        "events": {"readers": 3, "publish_every_s": 0.05},
        "membership": {"ttl_ms": 1500},
        "liveness": {"serve_within_s": 10, "lease_slack_s": 2.0},
    }


def apply_setting(settings: dict, item: str):
    """`section.key=value` over the defaults; the value is read as JSON when it parses."""
    path, sep, text = item.partition("=")
    keys = path.split(".")
    node = settings
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            raise SystemExit(f"--set {item}: no setting section {k!r}")
        node = node[k]
    if not sep or keys[-1] not in node:
        raise SystemExit(f"--set {item}: no setting {path!r}")
    try:
        node[keys[-1]] = json.loads(text)
    except json.JSONDecodeError:
        node[keys[-1]] = text


def data_loss_mix(args) -> bool:
    """Redis runs without persistence (so a kill loses data) only for the data-loss mix."""
    text = args.schedule or args.faults
    return "data-loss" in text.replace(";", ",").split(",") or "redis-kill-nosave" in text


class Run:
    def __init__(self, args):
        self.args = args
        self.redis = getattr(args, "redis", "single")
        self.settings = default_settings(args.daemons, self.redis)
        for item in args.set:
            apply_setting(self.settings, item)
        if args.schedule:
            self.schedule = faults_mod.parse_schedule(args.schedule, self.settings["daemons"],
                                                      redis=self.redis)
            self.kinds = [f.kind for f in self.schedule]
        else:
            self.kinds = faults_mod.parse_mix(args.faults, self.redis)
            self.schedule = faults_mod.schedule(self.kinds, self.settings["daemons"],
                                                args.duration, args.seed, self.settings)
        self.out = args.out
        # A run in the directory of an earlier one starts from empty servers: Redis would load
        # the earlier run's dump (written at a replica's sync or at shutdown, even with --save
        # "") and its topic, counters and cluster config would be this run's history.
        for stale in ("redis-data", "sentinel"):
            shutil.rmtree(os.path.join(self.out, stale), ignore_errors=True)
        os.makedirs(os.path.join(self.out, "logs"), exist_ok=True)
        # The proxies' notes (modes, refused upstreams while Redis is down) go to a file.
        handler = logging.FileHandler(os.path.join(self.out, "logs", "harness.log"))
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.log_handler = handler
        logging.getLogger("baton_chaos").addHandler(handler)
        logging.getLogger("baton_chaos").setLevel(logging.INFO)
        logging.getLogger("baton_chaos").propagate = False
        self.history = History(os.path.join(self.out, "history.jsonl"))
        self.fleet = Fleet(args.batond, self.out, args.daemons, self.settings,
                           aof=self.needs_aof(), seed=args.seed,
                           bugs=args.bug, clock_targets=self.clock_targets(), redis=self.redis)
        self.stop = asyncio.Event()
        self.final_phase = asyncio.Event()
        self.harness_error = ""

    def needs_aof(self) -> bool:
        """Redis keeps its data on disk only where a kill must not lose it: fsync on every
        write would otherwise slow every run (and a no-fault run must see no degraded
        answer)."""
        return ("redis-kill" in self.kinds and not data_loss_mix(self.args)
                and self.redis == "single")

    def clock_targets(self) -> dict[str, str]:
        if self.args.schedule:
            return {f.target: "step" if f.kind == "clock-step" else "skew"
                    for f in self.schedule if f.kind in ("clock-step", "clock-skew")}
        return faults_mod.clock_targets(self.kinds, self.settings["daemons"])

    def log(self, text: str):
        print(f"[{self.history.now():8.3f}] {text}", flush=True)

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, me.cancel)
        injector, inj, tasks = None, None, []
        try:
            await self.start_fleet()
            ctx = Context(self.history, self.fleet, self.settings, self.args.seed, self.stop,
                          self.final_phase)
            tasks = [asyncio.create_task(WORKLOADS[w].run(ctx), name=w)
                     for w in self.args.workloads]
            injector = Injector(self.fleet, self.history,
                                           os.path.join(self.out, "faults.jsonl"), self.settings)
            self.log(f"{len(self.schedule)} faults scheduled: "
                     + ", ".join(f"{f.kind}@{f.at:.0f}s" for f in self.schedule))
            inj = asyncio.create_task(injector.run(self.schedule, self.stop))
            await self.watch_until(inj, tasks)
            await inj
            for f in injector.done:
                self.log(f"fault {f.id} {f.kind} {f.target}: applied {f.t_applied}, healed "
                         f"{f.t_healed} {f.error or ''}")
            rest = self.args.duration - self.history.now()
            if rest > 0:
                await asyncio.sleep(rest)
            self.log("final phase: settle reads")
            self.final_phase.set()
            done, pending = await asyncio.wait(tasks, timeout=30)
            for t in done:
                if t.exception():
                    raise t.exception()
            self.stop.set()
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        except asyncio.CancelledError:
            self.harness_error = "interrupted"
            self.log("interrupted: stopping everything")
        except Exception as e:
            self.harness_error = repr(e)
            self.log(f"harness failure: {e!r}")
        finally:
            # A second Ctrl-C must not cut the cleanup short.
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self.stop.set()
            # Before the fleet goes: a fault in progress must not read our own stopping as a
            # daemon that died, nor a workload as a failure.
            for t in [inj, *tasks]:
                if t is not None and not t.done():
                    t.cancel()
            await asyncio.gather(*(t for t in [inj, *tasks] if t), return_exceptions=True)
            if injector:
                injector.cancel_watches()
            try:
                await self.fleet.stop_all()
            finally:
                self.fleet.kill_everything_now()
        return self.finish(injector)

    async def start_fleet(self):
        with open(os.path.join(self.out, "kek"), "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(os.path.join(self.out, "kek"), 0o600)
        with open(os.path.join(self.out, "baton.yaml"), "w") as f:
            f.write(config_yaml(self.out, self.settings))
        await self.fleet.start_redis()
        await self.fleet.start_proxies()
        for name in self.fleet.daemons:
            await self.fleet.start_daemon(name)
        await put_workload_secret(self.fleet, self.history)
        g = self.fleet.group
        if self.redis == "cluster":
            redis = (f"Redis Cluster {g.url()} ("
                     + "; ".join(f"shard {k}: ports "
                                 + ", ".join(str(n.port) for n in g.shard_nodes(k))
                                 for k in range(g.primaries)) + ", primaries first)")
        elif g:
            redis = (f"Sentinel group {g.url()} (servers on ports "
                     + ", ".join(str(s.port) for s in g.servers)
                     + f", master {await g.master_port()})")
        else:
            redis = (f"redis-server on 127.0.0.1:{self.fleet.redis_port} "
                     f"({'AOF, fsync always' if self.fleet.aof else 'no persistence'})")
        self.log(f"fleet up: {redis}, daemons " + ", ".join(self.fleet.daemons)
                 + f" in {self.out}")

    async def watch_until(self, inj: asyncio.Task, tasks: list[asyncio.Task]):
        """Waits for the injector; a workload that dies early is the harness's failure."""
        while not inj.done():
            await asyncio.wait([inj, *tasks], timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                if t.done() and t.exception():
                    raise RuntimeError(f"workload {t.get_name()} failed: {t.exception()!r}")

    def finish(self, injector) -> int:
        self.history.close()
        logging.getLogger("baton_chaos").removeHandler(self.log_handler)
        self.log_handler.close()
        faults = injector.records() if injector else []
        if injector:
            injector.close()
        events = self.history.events
        verdicts = checkers.check_all(events, faults, self.settings)
        counts: dict = {}
        for e in events:
            if e["type"] in ("ok", "fail", "info"):
                c = counts.setdefault(e["workload"], {}).setdefault(
                    e["f"], {"ok": 0, "fail": 0, "info": 0})
                c[e["type"]] += 1
        fault_errors = [f for f in faults if f.get("error")]
        # A reply no workload expected is a finding too (or a workload's own bug): not valid.
        valid = (all(v["valid"] for v in verdicts) and not self.harness_error and not fault_errors
                 and not self.history.unexpected)
        report = {
            "command": self.command(),
            "seed": self.args.seed,
            "duration_s": round(self.history.now(), 3),
            "fault_mix": self.args.schedule or self.args.faults,
            "redis": self.redis,
            "bugs": self.args.bug,
            "workloads": self.args.workloads,
            "config": self.settings,
            "faults": faults,
            "counts": counts,
            "verdicts": verdicts,
            "harness_error": self.harness_error,
            "unexpected_replies": self.history.unexpected,
            "valid": valid,
            "timeline": "timeline.svg",
        }
        with open(os.path.join(self.out, "report.json"), "w") as f:
            json.dump(report, f, indent=1)
        write_summary(report, os.path.join(self.out, "summary.txt"))
        render_timeline(events, faults, self.settings, verdicts,
                        os.path.join(self.out, "timeline.svg"))
        print(summary_text(report), flush=True)
        if self.harness_error:
            print(f"harness error: {self.harness_error}")
        for f in fault_errors:
            print(f"fault {f['id']} {f['kind']} failed: {f['error']}")
        if self.history.unexpected:
            print(f"{self.history.unexpected} replies of an unexpected shape: see 'unexpected "
                  "reply' in history.jsonl")
        print(f"report: {self.out}/report.json  picture: {self.out}/timeline.svg")
        if self.args.expect_violation:
            return self.expected(verdicts)
        return 0 if valid else 1

    def expected(self, verdicts) -> int:
        """For the broken builds: success is the checker naming the expected rule."""
        checker, _, rule = self.args.expect_violation.partition(":")
        for v in verdicts:
            if v["checker"] == checker:
                for viol in v["violations"]:
                    if viol["rule"] == rule:
                        print(f"expected violation found: {checker}: {rule}: {viol['message']}")
                        return 0
        print(f"EXPECTED VIOLATION NOT FOUND: {checker}: {rule}")
        return 1

    def command(self) -> str:
        a = self.args
        parts = ["chaos/run", "--seed", str(a.seed), "--duration", f"{a.duration:g}s",
                 "--daemons", str(a.daemons)]
        parts += ["--schedule", a.schedule] if a.schedule else ["--faults", a.faults]
        if self.redis != "single":
            parts += ["--redis", self.redis]
        for item in a.set:
            parts += ["--set", item]
        if a.workloads != list(WORKLOADS):
            parts += ["--workloads", ",".join(a.workloads)]
        for b in a.bug:
            parts += ["--bug", b]
        return " ".join(shlex.quote(p) for p in parts)


def run(args) -> int:
    return asyncio.run(Run(args).main())
