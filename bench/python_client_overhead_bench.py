#!/usr/bin/python3
"""What the typed Python library (clients/python/baton) adds to python3-redis' own calls.
Starts a redis-server and one batond and, in turns within the same run, makes N calls of each
kind one after another on one connection (in alternating blocks, raw then library then raw), first as raw `execute_command` through the same
python3-redis connection pool the library uses, then through the library: `RATE CHECK` against
`Baton.check`, `SECRET GET` against `Baton.secret_get`, `STATE GET` against `Baton.state_get`.
Prints calls per second and this process' CPU per call of each, per round and the median of the
ratios over rounds. The target (issue 18): the library's calls per second within 5% of the raw
client's.

Usage: bench/python_client_overhead_bench.py BATOND [CALLS_PER_ROUND] [ROUNDS]"""
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
from local_fleet import free_port, start_batond, start_redis, stop_all  # noqa: E402

from baton import Baton  # noqa: E402


def timed(call, n):
    """(calls per second, CPU microseconds of this process per call) over n calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        call(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, cpu / n * 1e6


def interleaved(raw_call, lib_call, n, blocks=20):
    """timed() of both, in `blocks` alternating blocks of n/blocks calls each, so that a burst
    of load on this noisy machine falls on both alike: (raw calls/s, raw CPU us per call, lib
    calls/s, lib CPU us per call)."""
    per = n // blocks
    totals = [0.0, 0.0, 0.0, 0.0]  # raw wall, raw cpu, lib wall, lib cpu
    for b in range(blocks):
        for slot, call in ((0, raw_call), (2, lib_call)) if b % 2 == 0 else \
                ((2, lib_call), (0, raw_call)):
            rate, cpu_us = timed(call, per)
            totals[slot] += per / rate
            totals[slot + 1] += cpu_us * per
    calls = per * blocks
    return calls / totals[0], totals[1] / calls, calls / totals[2], totals[3] / calls


def main():
    batond = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    work = tempfile.mkdtemp(prefix="baton-pybench-")
    procs = []
    try:
        kek = os.path.join(work, "bench.kek")
        with open(kek, "w") as f:
            f.write("b1" * 32 + "\n")
        redis_sock = start_redis(work, procs)
        _, sock, _ = start_batond(
            batond, work, procs, "bench", redis_sock, free_port(),
            f"secrets:\n  keks:\n    - {{id: b1, file: {kek}}}\n"
            "rate:\n  policies:\n"
            "    - {name: api, windows: [{window_ms: 1000, limit: 1000000000}]}\n"
            "state:\n  namespaces:\n    - {name: orders}\n")
        baton = Baton(sock)
        raw = baton.redis  # the same pool, so only the library's own work differs
        baton.command("SECRET", "PUT", "db-password", "hunter2")
        baton.state_set("orders", "o1", "shipped")

        kinds = [
            ("RATE CHECK", lambda i: raw.execute_command("RATE", "CHECK", "api", f"k{i % 64}",
                                                         "COST", 1),
             lambda i: baton.check("api", f"k{i % 64}")),
            ("SECRET GET", lambda i: raw.execute_command("SECRET", "GET", "db-password"),
             lambda i: baton.secret_get("db-password")),
            ("STATE GET", lambda i: raw.execute_command("STATE", "GET", "orders", "o1"),
             lambda i: baton.state_get("orders", "o1")),
        ]
        for _, raw_call, lib_call in kinds:  # warm both paths (connection, caches)
            timed(raw_call, 200)
            timed(lib_call, 200)
        ratios = {name: [] for name, _, _ in kinds}
        print(f"{n} calls per kind per round, one connection, one call at a time")
        print(f"{'round':>5} {'call':<11} {'raw/s':>9} {'lib/s':>9} {'lib/raw':>8} "
              f"{'raw CPU us':>11} {'lib CPU us':>11}")
        for r in range(rounds):
            for name, raw_call, lib_call in kinds:
                raw_rate, raw_cpu, lib_rate, lib_cpu = interleaved(raw_call, lib_call, n)
                ratios[name].append(lib_rate / raw_rate)
                print(f"{r + 1:>5} {name:<11} {raw_rate:>9.0f} {lib_rate:>9.0f} "
                      f"{lib_rate / raw_rate:>8.3f} {raw_cpu:>11.1f} {lib_cpu:>11.1f}")
        print("median lib/raw calls per second: " +
              ", ".join(f"{name} {statistics.median(v):.3f}" for name, v in ratios.items()))
        baton.close()
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
