#!/usr/bin/python3
"""The fleet page (/ui) in a real browser: Debian's headless Chromium loads it from one of two
batond nodes sharing a private redis-server, and the DOM it renders must show both nodes, a
lease a python3-redis client holds (with its token and holder node), an election's leader,
a secret's version served by both nodes, a breaker, and Redis' health as sampled. Also: a lease name that looks like
markup stays text, the page's headers forbid loading anything from elsewhere, a Host that is
a name is refused (DNS rebinding), http.ui: false turns the page off, and with Redis gone the
document still answers, saying what it could not read. A screenshot is saved as an artifact.

Usage: fleet_page_test.py BATOND ARTIFACT_DIR"""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from local_fleet import Checks, free_port, start_batond, start_redis, stop_all, until  # noqa: E402

batond, artifacts = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="baton-ui-")
procs = []
check = Checks()
# A lease name an app could choose: it must reach the page as text, not as an element.
# (No spaces: lease names refuse them. The page itself has no <b> element.)
MARKUP_NAME = "<b>ui-markup</b>"


def get(port, path, host=None):
    """(status, headers, body) of a GET; errors answer too."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def start_node(name, port, ui=True):
    _, sock, client = start_batond(
        batond, work, procs, name, redis_sock, port,
        f"http:\n  ui: {'true' if ui else 'false'}\n"
        "breakers:\n  policies:\n"
        "    - {name: ui-payments, window: {calls: 4}, minimum_calls: 4, open_ms: 60000}\n"
        "secrets:\n  keks:\n    - {id: ui, env: BATON_UI_KEK}\n"
        "  items:\n    - {name: ui-db-password}\n")
    return sock, client


class Dom(html.parser.HTMLParser):
    """The rendered DOM's rows by their data-* key, each row's cell texts; and the elements."""

    def __init__(self):
        super().__init__()
        self.rows = {}   # (attribute, value) -> [cell text, ...]
        self.tags = []   # (tag, attrs) of every element
        self.status = None
        self._row = None
        self._cell = None
        self._in_status = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr":
            keys = [(k, v) for k, v in a.items() if k.startswith("data-")]
            self._row = keys[0] if keys else None
            if self._row:
                self.rows[self._row] = []
        elif tag == "td" and self._row:
            self._cell = ""
        elif a.get("id") == "status":
            self.status = {"state": a.get("data-state"), "text": ""}
            self._in_status = True

    def handle_endtag(self, tag):
        if tag == "td" and self._row and self._cell is not None:
            self.rows[self._row].append(self._cell.strip())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "p":
            self._in_status = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in_status:
            self.status["text"] += data


def chromium(*args):
    profile = os.path.join(work, "chromium-profile")
    return subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         # Lets the page's own timers run (its first fetch, then a refresh or two) before the
         # DOM is read, without the test sleeping.
         "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=120)


try:
    os.environ["BATON_UI_KEK"] = "cd" * 32
    redis_sock = start_redis(work, procs)
    port_a, port_b, port_off = free_port(), free_port(), free_port()
    sock_a, client_a = start_node("ui-a", port_a)
    sock_b, client_b = start_node("ui-b", port_b)

    # What the page must show: a lease held by a client of ui-a, an election led from ui-b,
    # a secret both nodes serve, a breaker; and a lease named like markup.
    holder = redis.Redis(unix_socket_path=sock_a, single_connection_client=True)
    grant = holder.execute_command("LEASE", "ACQUIRE", "ui-job", "30000", "KEEP")
    token = dict(zip(grant[::2], grant[1::2]))[b"token"]
    marked = redis.Redis(unix_socket_path=sock_a, single_connection_client=True)
    marked.execute_command("LEASE", "ACQUIRE", MARKUP_NAME, "30000", "KEEP")
    leader = redis.Redis(unix_socket_path=sock_b, single_connection_client=True)
    term = dict(zip(*[iter(leader.execute_command("ELECT", "JOIN", "ui-group", "cand-b"))] * 2))[
        b"term"]
    client_a.execute_command("SECRET", "ROTATE", "ui-db-password")
    client_b.execute_command("SECRET", "GET", "ui-db-password")  # ui-b serves it too
    client_b.execute_command("BREAKER", "CHECK", "ui-payments")

    def fleet_json():
        status, _, body = get(port_b, "/ui/fleet.json")
        return json.loads(body) if status == 200 else None

    # Both nodes acknowledge the secret's version on their refresh (every 5 s by default).
    doc = until("the document to show both nodes serving the secret", lambda: (
        lambda d: d if d and len(d["nodes"]) == 2 and any(
            s["name"] == "ui-db-password" and len(s.get("nodes", [])) == 2
            for s in d["secrets"]) else None)(fleet_json()), limit=30)
    check("fleet.json: both nodes, active",
          sorted((n["id"], n["state"]) for n in doc["nodes"]) ==
          [("ui-a", "active"), ("ui-b", "active")], repr(doc["nodes"]))
    leases = {l["name"]: l for l in doc["leases"]}
    check("fleet.json: the lease with its token and holder node",
          leases.get("ui-job", {}).get("token") == token
          and leases["ui-job"]["node"] == "ui-a" and leases["ui-job"]["state"] == "held",
          repr(doc["leases"]))
    check("fleet.json: never a lease's meta or its holder's pid",
          all("meta" not in l and "client" not in l for l in doc["leases"]))
    check("fleet.json: the leader with its term and candidate",
          [(l["name"], l["token"], l["candidate"], l["node"]) for l in doc["leaders"]] ==
          [("ui-group", term, "cand-b", "ui-b")], repr(doc["leaders"]))
    secret = next(s for s in doc["secrets"] if s["name"] == "ui-db-password")
    check("fleet.json: the secret's version, which each node serves, and no value",
          secret["current"] >= 1
          and sorted(n["node"] for n in secret["nodes"]) == ["ui-a", "ui-b"]
          and "value" not in json.dumps(secret), repr(secret))
    check("fleet.json: the breaker", {"name": "ui-payments", "state": "closed"} in doc["breakers"],
          repr(doc["breakers"]))
    doc = until("the Redis health sample", lambda: (
        lambda d: d if d and d["redis"]["health"] and d["redis"]["health"]["ok"] else None)(
            fleet_json()))
    health = doc["redis"]["health"]["server"]
    check("fleet.json: Redis health sampled (memory, role, hit ratio)",
          health["used_memory"] > 0 and health["role"] == "master" and "hit_ratio" in health,
          repr(health))
    check("fleet.json: Redis reachable, with a round trip",
          doc["redis"]["reachable"] is True and doc["redis"]["rtt_us"] is not None
          and doc["errors"] == {}, repr(doc["redis"]) + repr(doc["errors"]))

    # The headers and the guards.
    status, headers, page = get(port_b, "/ui")
    csp = headers.get("Content-Security-Policy", "")
    check("/ui is HTML that loads only its own files",
          status == 200 and headers.get("Content-Type", "").startswith("text/html")
          and "default-src 'none'" in csp and "script-src 'self'" in csp
          and "http" not in page.replace("href=\"/", ""), f"{status} {csp}")
    status, _, body = get(port_b, "/ui/fleet.json", host="rebound.example:9464")
    check("a Host that is a name is refused (DNS rebinding)", status == 403, f"{status} {body}")
    status, _, _ = get(port_b, "/ui/nope.js")
    check("an unknown file of the page is 404", status == 404)

    # The browser: the page as Chromium renders it, after its script has run.
    run = chromium("--dump-dom", f"http://127.0.0.1:{port_b}/ui")
    dom = Dom()
    dom.feed(run.stdout)
    check("chromium rendered the page", run.returncode == 0 and dom.status is not None,
          run.stderr[-2000:])
    check("the page says it is live", dom.status and dom.status["state"] == "live",
          repr(dom.status))
    for node in ("ui-a", "ui-b"):
        row = dom.rows.get(("data-node", node))
        check(f"the DOM shows node {node} active",
              row is not None and row[0].startswith(node) and row[1] == "active", repr(row))
    check("the DOM shows Redis' memory and hit ratio",
          ">memory<" in run.stdout and ">hit ratio<" in run.stdout)
    row = dom.rows.get(("data-lease", "ui-job"))
    check("the DOM shows the lease the client holds, its holder node and token",
          row is not None and row[1] == "held" and row[2] == "ui-a" and row[4] == str(token),
          repr(row))
    row = dom.rows.get(("data-group", "ui-group"))
    check("the DOM shows the leader and its term",
          row is not None and row[2] == "cand-b" and row[3] == "ui-b" and row[4] == str(term),
          repr(row))
    row = dom.rows.get(("data-secret", "ui-db-password"))
    check("the DOM shows the secret's version served by both nodes",
          row is not None and "ui-a v" in row[4] and "ui-b v" in row[4], repr(row))
    row = dom.rows.get(("data-breaker", "ui-payments"))
    check("the DOM shows the breaker", row == ["ui-payments", "closed"], repr(row))
    row = dom.rows.get(("data-lease", MARKUP_NAME))
    check("a lease named like markup is shown as text, never run",
          row is not None and row[0] == MARKUP_NAME
          and not any(tag == "b" for tag, _ in dom.tags), repr(row))

    os.makedirs(artifacts, exist_ok=True)
    shot = os.path.join(artifacts, "fleet-page.png")
    if os.path.exists(shot):
        os.remove(shot)
    run = chromium("--window-size=1400,1000", f"--screenshot={shot}",
                   f"http://127.0.0.1:{port_b}/ui")
    size = os.path.getsize(shot) if os.path.exists(shot) else 0
    with open(shot, "rb") if size else open(os.devnull, "rb") as f:
        png = f.read(8)
    check("a screenshot is saved", png == b"\x89PNG\r\n\x1a\n" and size > 10000,
          f"{shot}: {size} bytes; {run.stderr[-1000:]}")
    print("screenshot:", shot)

    # Off by config.
    start_node("ui-off", port_off, ui=False)
    status, _, _ = get(port_off, "/ui")
    check("http.ui: false turns the page off (404) and leaves /metrics",
          status == 404 and get(port_off, "/metrics")[0] == 200)

    # Redis gone: the document still answers, soon, and says what it could not read.
    procs[0].kill()
    procs[0].wait()
    started = time.monotonic()
    doc = until("a document without Redis", lambda: (
        lambda d: d if d and not d["redis"]["reachable"] and d["errors"] else None)(fleet_json()),
        limit=30)
    check("without Redis the document answers and names what it could not read",
          "nodes" in doc["errors"] and doc["self"]["ready"] is False, repr(doc["errors"]))
    begun = time.monotonic()
    status, _, _ = get(port_b, "/ui/fleet.json?again")
    check("... within the call budget, not hanging", status == 200
          and time.monotonic() - begun < 5, f"{time.monotonic() - begun:.1f} s")
finally:
    stop_all(procs)
    if check.failed:
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                print(f"--- {name}")
                with open(os.path.join(work, name), errors="replace") as f:
                    print(f.read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)

sys.exit(check.exit_code())
