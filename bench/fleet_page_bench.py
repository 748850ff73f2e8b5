#!/usr/bin/python3
"""What the fleet page costs: one batond on a private redis-server, with N leases held
(N = 0, 50, 200), asked for /ui/fleet.json a fresh gather at a time (each request 1.1 s after
the last, past the document's 1 s freshness), side by side with /healthz in the same run (the
same HTTP path with no Redis and no gather: the baseline) and with the same gaps and no request
("(idle)": what both processes spend anyway, to subtract). Printed per N: the wall time (p50,
max), batond's CPU and Redis' CPU per request (from /proc and INFO cpu), and the Redis commands
per request; then 20 pages asking at once, to show they share one gather.

Usage: bench/fleet_page_bench.py [BATOND] (default build/batond)"""
import concurrent.futures
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "support"))
from local_fleet import free_port, start_batond, start_redis, stop_all  # noqa: E402

batond = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "batond")
work = tempfile.mkdtemp(prefix="baton-fleet-bench-")
procs = []
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def redis_cpu(r):
    info = r.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as a:
        for line in a.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def fetch(port, path):
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as a:
        a.read()
    return time.perf_counter() - start


try:
    redis_sock = start_redis(work, procs)
    server = redis.Redis(unix_socket_path=redis_sock)
    port = free_port()
    # health_interval_ms 0: only the gathers touch Redis
    daemon, sock, client = start_batond(batond, work, procs, "bench", redis_sock, port,
                                        "redis:\n  health_interval_ms: 0\n")

    holders = []
    print(f"{'leases':>6} {'what':<16} {'p50 ms':>8} {'max ms':>8} {'batond CPU ms':>14} "
          f"{'Redis CPU ms':>13} {'Redis cmds':>10}")
    for leases in (0, 50, 200):
        while len(holders) < leases:
            h = redis.Redis(unix_socket_path=sock, single_connection_client=True)
            h.execute_command("LEASE", "ACQUIRE", f"bench-{len(holders)}", "600000", "KEEP")
            holders.append(h)
        # "(idle)": the same 1.1 s gaps with no request at all, the CPU both processes spend
        # anyway (timers, Redis' cron), to subtract from a gather's row.
        for path, rounds, gap in (("/healthz", 200, 0.0), ("(idle)", 15, 1.1),
                                  ("/ui/fleet.json", 15, 1.1)):
            if path != "(idle)":
                fetch(port, path)  # warm
            time.sleep(gap)
            cpu0, rcpu0 = cpu_seconds(daemon.pid), redis_cpu(server)
            cmds0 = metric(port, "baton_redis_commands_total")
            times = []
            for _ in range(rounds):
                times.append(fetch(port, path) if path != "(idle)" else 0.0)
                time.sleep(gap)
            cpu1, rcpu1 = cpu_seconds(daemon.pid), redis_cpu(server)
            cmds1 = metric(port, "baton_redis_commands_total")
            # the /metrics reads between are one request each, outside the loop
            print(f"{leases:>6} {path:<16} {statistics.median(times) * 1e3:>8.2f} "
                  f"{max(times) * 1e3:>8.2f} {(cpu1 - cpu0) / rounds * 1e3:>14.3f} "
                  f"{(rcpu1 - rcpu0) / rounds * 1e3:>13.3f} {(cmds1 - cmds0) / rounds:>10.1f}")

    # 20 pages at once share one gather: the Redis commands of one page, then of 20 at once.
    def commands_for(pages):
        time.sleep(1.1)
        before = metric(port, "baton_redis_commands_total")
        with concurrent.futures.ThreadPoolExecutor(pages) as pool:
            list(pool.map(lambda _: fetch(port, "/ui/fleet.json"), range(pages)))
        return metric(port, "baton_redis_commands_total") - before
    one, twenty = commands_for(1), commands_for(20)
    print(f"with {len(holders)} leases: 1 page cost {one:.0f} Redis commands, 20 pages at once "
          f"{twenty:.0f}")
finally:
    stop_all(procs)
    shutil.rmtree(work, ignore_errors=True)
