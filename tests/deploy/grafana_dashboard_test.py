#!/usr/bin/python3
"""The Grafana dashboard (deploy/grafana/baton-dashboard.json) names only metrics batond
exports: a batond with a rate policy, a breaker and a secret serves a little of every family
against a private redis-server, and every metric each panel's PromQL names must be among the
families its /metrics declares (# TYPE), every `family` label value it filters on among those
baton_requests_total carries, and the panels must be laid out on Grafana's 24-column grid with
distinct ids. Usage: grafana_dashboard_test.py BATOND DASHBOARD"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import redis

batond, dashboard_path = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="baton-grafana-")
procs = []
failures = []


def check(name, condition, detail=""):
    print(("ok  " if condition else "FAIL"), name, "" if condition else detail)
    if not condition:
        failures.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    check("panel ids are distinct", len(ids) == len(set(ids)), repr(ids))
    check("panels fit the 24-column grid",
          all(0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
              for p in panels))
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    check("the dashboard has queries", len(exprs) > 20, str(len(exprs)))

    redis_sock = os.path.join(work, "redis.sock")
    procs.append(subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", redis_sock,
                                   "--save", "", "--appendonly", "no",
                                   "--logfile", os.path.join(work, "redis.log")]))
    for _ in range(200):
        try:
            if redis.Redis(unix_socket_path=redis_sock).ping():
                break
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    config = os.path.join(work, "baton.yaml")
    with open(config, "w") as f:
        f.write("redis:\n  health_interval_ms: 200\n"
                "rate:\n  policies:\n    - {name: g-api, windows: [{window_ms: 60000, limit: 2}]}\n"
                "breakers:\n  policies:\n    - {name: g-pay, window: {calls: 2}, minimum_calls: 2}\n"
                "secrets:\n  keks:\n    - {id: g, env: BATON_G_KEK}\n  items:\n    - {name: g-key}\n")
    os.environ["BATON_G_KEK"] = "ef" * 32
    port = free_port()
    sock = os.path.join(work, "baton.sock")
    procs.append(subprocess.Popen([batond, "--config", config, "--socket", sock, "--redis",
                                   "unix://" + redis_sock, "--http", f"127.0.0.1:{port}",
                                   "--node-id", "g-node"],
                                  stderr=open(os.path.join(work, "batond.log"), "w")))
    c = redis.Redis(unix_socket_path=sock, socket_timeout=10)
    for _ in range(200):
        try:
            if c.info("redis").get("redis_reachable") == 1 and \
                    c.info("redis_health").get("health_sampling") == "ok":
                break
        except (redis.ConnectionError, FileNotFoundError):
            pass
        time.sleep(0.05)

    # A little of every family, so that each declares its metrics with real samples.
    holder = redis.Redis(unix_socket_path=sock, single_connection_client=True)
    holder.execute_command("LEASE", "ACQUIRE", "g-job", "10000", "KEEP")
    try:
        c.execute_command("LEASE", "ACQUIRE", "g-job", "10000")
    except redis.ResponseError:
        pass  # DENIED: an error result of the lease family
    holder.execute_command("ELECT", "JOIN", "g-group", "me")
    for _ in range(3):
        c.execute_command("RATE", "CHECK", "g-api", "user-1")
    c.execute_command("DEDUP", "CLAIM", "g-order", "60000")
    c.execute_command("SECRET", "ROTATE", "g-key")
    value = c.execute_command("SECRET", "GET", "g-key")
    c.execute_command("BREAKER", "CHECK", "g-pay")
    c.execute_command("BREAKER", "REPORT", "g-pay", "fail")
    watcher = redis.Redis(unix_socket_path=sock, single_connection_client=True)
    watcher.execute_command("LEASE", "WATCH", "g-job")
    try:
        c.execute_command("SESSION", "GET", "no-such-session")
    except redis.ResponseError:
        pass

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    declared = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            declared.add(m.group(1))
            if m.group(2) == "histogram":
                declared |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    families = set(re.findall(r'baton_requests_total\{family="([^"]+)"', text))

    for expr in exprs:
        for name in re.findall(r"\bbaton_[a-z_]+", expr):
            check(f"{name} exists", name in declared, f"in: {expr}")
        for family in re.findall(r'family="([^"]+)"', expr):
            check(f"family {family} exists", family in families, f"in: {expr}")
    print(f"{len(exprs)} queries, {len(declared)} metric names declared")
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    if failures and os.path.exists(os.path.join(work, "batond.log")):
        print(open(os.path.join(work, "batond.log")).read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
