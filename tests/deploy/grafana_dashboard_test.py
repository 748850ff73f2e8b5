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
import sys
import tempfile
import urllib.request

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from local_fleet import Checks, free_port, start_batond, start_redis, stop_all, until  # noqa: E402

batond, dashboard_path = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="baton-grafana-")
procs = []
check = Checks()


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

    redis_sock = start_redis(work, procs)
    os.environ["BATON_G_KEK"] = "ef" * 32
    port = free_port()
    _, sock, c = start_batond(
        batond, work, procs, "g-node", redis_sock, port,
        "redis:\n  health_interval_ms: 200\n"
        "rate:\n  policies:\n    - {name: g-api, windows: [{window_ms: 60000, limit: 2}]}\n"
        "breakers:\n  policies:\n    - {name: g-pay, window: {calls: 2}, minimum_calls: 2}\n"
        "secrets:\n  keks:\n    - {id: g, env: BATON_G_KEK}\n  items:\n    - {name: g-key}\n")
    until("the first health sample",
          lambda: c.info("redis_health").get("health_sampling") == "ok")

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
    stop_all(procs)
    if check.failed and os.path.exists(os.path.join(work, "g-node.log")):
        print(open(os.path.join(work, "g-node.log")).read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)

sys.exit(check.exit_code())
