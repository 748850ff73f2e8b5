#!/usr/bin/python3
"""Leadership failover through batond, with its bounds and a baseline in the same run.

Two daemons (a, b) share a private redis-server. In each round a leader on daemon a holds
ELECT group leadership and a candidate on daemon b waits in ELECT JOIN; then either
  - resign: the leader sends ELECT RESIGN (a clean handover, also what a drain does), or
  - kill:   daemon a is killed with SIGKILL (the leader's host dies),
and we time until the candidate's JOIN returns. Targets (issue 3): resign within 50 ms;
kill within ttl + one renewal interval (ttl/3).

Baseline, same Redis, same run: the lock most apps write by hand, SET NX PX, with the waiter
polling every 100 ms (the interval of common hand-written lock loops); handover after a DEL.

Usage: bench/failover_bench.py BUILD_DIR [ROUNDS] [TTL_MS]
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

build = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ttl = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
work = tempfile.mkdtemp(prefix="baton-failover-")
redis_sock = os.path.join(work, "redis.sock")
procs = {}


def wait_for(predicate, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if predicate():
                return True
        except (redis.ConnectionError, redis.ResponseError, OSError):
            pass
        time.sleep(0.02)
    raise RuntimeError("timed out")


def start_daemon(name):
    sock = os.path.join(work, name + ".sock")
    log = open(os.path.join(work, name + ".log"), "a")
    procs[name] = subprocess.Popen(
        [os.path.join(build, "batond"), "--socket", sock, "--redis", "unix://" + redis_sock,
         "--http", "off", "--node-id", name], stderr=log)
    client = redis.Redis(unix_socket_path=sock)
    wait_for(lambda: client.info("redis").get("redis_reachable") == 1)
    return sock


def join_async(sock, group, candidate, result):
    def run():
        c = redis.Redis(unix_socket_path=sock, single_connection_client=True, socket_timeout=30)
        reply = c.execute_command("ELECT", "JOIN", group, candidate, "TTL", str(ttl))
        result["at"] = time.monotonic()
        result["reply"] = reply
        result["client"] = c  # the leader keeps its connection open
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def elect_round(mode, group):
    sock_a = start_daemon("a") if "a" not in procs or procs["a"].poll() is not None else \
        os.path.join(work, "a.sock")
    sock_b = os.path.join(work, "b.sock")
    leader = redis.Redis(unix_socket_path=sock_a, single_connection_client=True)
    leader.execute_command("ELECT", "JOIN", group, "leader-a", "TTL", str(ttl))
    result = {}
    waiter = join_async(sock_b, group, "candidate-b", result)
    time.sleep(0.2)  # the candidate is queued in JOIN
    t0 = time.monotonic()
    if mode == "resign":
        leader.execute_command("ELECT", "RESIGN", group)
    else:
        procs["a"].send_signal(signal.SIGKILL)
        procs["a"].wait()
    waiter.join(30)
    took = (result["at"] - t0) * 1000.0
    result["client"].execute_command("ELECT", "RESIGN", group)
    result["client"].close()
    leader.close()
    return took


def polling_round(r, key):
    r.set(key, "holder", px=ttl)
    got = {}

    def poll():
        p = redis.Redis(unix_socket_path=redis_sock)
        while not p.set(key, "waiter", nx=True, px=ttl):
            time.sleep(0.1)
        got["at"] = time.monotonic()
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(0.2 + (hash(key) % 100) / 1000.0)  # release at a random point of the poll cycle
    t0 = time.monotonic()
    r.delete(key)
    t.join(30)
    r.delete(key)
    return (got["at"] - t0) * 1000.0


def summary(label, values, bound=None):
    line = "  %-44s p50 %8.1f ms   max %8.1f ms" % (label, statistics.median(values), max(values))
    if bound is not None:
        line += "   bound %6.0f ms: %s" % (bound, "met" if max(values) <= bound else "NOT met")
    print(line)


try:
    procs["redis"] = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", redis_sock, "--save", "",
         "--appendonly", "no", "--logfile", os.path.join(work, "redis.log")])
    direct = redis.Redis(unix_socket_path=redis_sock)
    wait_for(lambda: direct.ping())
    start_daemon("a")
    start_daemon("b")
    resign = [elect_round("resign", "bench-resign-%d" % i) for i in range(rounds)]
    kill = [elect_round("kill", "bench-kill-%d" % i) for i in range(rounds)]
    baseline = [polling_round(direct, "bench:poll-lock:%d" % i) for i in range(rounds)]
    print("Leadership failover, %d rounds each, ttl %d ms" % (rounds, ttl))
    summary("batond ELECT, clean RESIGN", resign, 50)
    summary("SET NX PX lock, waiter polls every 100 ms, DEL", baseline)
    print("  ratio polling/baton on handover (p50): %.1fx" %
          (statistics.median(baseline) / max(statistics.median(resign), 0.001)))
    summary("batond ELECT, leader's daemon kill -9", kill, ttl + ttl / 3)
finally:
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
