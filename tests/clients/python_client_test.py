#!/usr/bin/python3
"""Debian's python3-redis as a real client of batond: connection commands, RESP3 via
HELLO, pipelines, error mapping to redis exceptions, and a Redis outage, against a private
redis-server. Usage: python_client_test.py BATOND"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import redis

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-py-")
redis_sock = os.path.join(work, "redis.sock")
baton_sock = os.path.join(work, "baton.sock")
procs = []
failures = 0
passed = 0


def check(name, condition, detail=""):
    global failures, passed
    if condition:
        passed += 1
        print("ok  ", name)
    else:
        failures += 1
        print("FAIL", name, detail)


try:
    procs.append(subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", redis_sock,
                                   "--save", "", "--appendonly", "no",
                                   "--logfile", os.path.join(work, "redis.log")]))
    for _ in range(200):  # batond would start fine without Redis, but this test wants it up
        if os.path.exists(redis_sock):
            try:
                if redis.Redis(unix_socket_path=redis_sock).ping():
                    break
            except redis.ConnectionError:
                pass
        time.sleep(0.05)
    config = os.path.join(work, "baton.yaml")
    with open(config, "w") as f:
        f.write("rate:\n  policies:\n"
                "    - {name: py-api, windows: [{window_ms: 3600000, limit: 3}]}\n"
                "breakers:\n  policies:\n"
                "    - {name: py-pay, window: {calls: 3}, minimum_calls: 3, open_ms: 60000, scope: fleet}\n"
                "secrets:\n  keks:\n    - {id: py, env: BATON_PY_KEK}\n")
    os.environ["BATON_PY_KEK"] = "ab" * 32
    procs.append(subprocess.Popen([batond, "--config", config, "--socket", baton_sock,
                                   "--redis", "unix://" + redis_sock,
                                   "--http", "off", "--node-id", "py-node"], stderr=open(os.path.join(work, "batond.log"), "w")))
    client = redis.Redis(unix_socket_path=baton_sock, socket_timeout=5)
    for _ in range(200):
        try:
            if client.ping():
                break
        except redis.ConnectionError:
            time.sleep(0.05)

    for _ in range(200):  # until its link to Redis is up
        if client.info("redis").get("redis_reachable") == 1:
            break
        time.sleep(0.05)
    check("ping", client.ping() is True)
    check("echo", client.echo("héllo") == "héllo".encode())
    check("client setname/getname", client.client_setname("py") and client.client_getname() == "py")
    check("execute_command DEBUG RTT", len(client.execute_command("DEBUG", "RTT")) == 4)
    info = client.info()  # redis-py parses INFO's text into a dict
    check("info parses", info.get("redis_reachable") == 1 and "node_id" in info, str(info)[:200])
    try:
        client.execute_command("NOPE")
        check("unknown command raises", False)
    except redis.ResponseError as e:
        check("unknown command raises ResponseError", "unknown command" in str(e))
    pipe = client.pipeline(transaction=False)
    for i in range(500):
        pipe.echo(str(i))
    replies = pipe.execute()
    check("pipeline of 500 in order", replies == [str(i).encode() for i in range(500)])
    # Debian's redis-py (4.3) speaks RESP2 only, so it asks for HELLO 2; RESP3 is covered by
    # redis-cli -3 and the integration tests.
    hello = client.execute_command("HELLO", "2")
    check("HELLO 2 reply", b"proto" in hello and b"baton" in hello, repr(hello)[:200])

    # Lease events two ways: redis-py's own pub/sub helper on baton's channel, and LEASE WATCH
    # through execute_command on a connection of its own (RESP2 watch mode).
    pubsub = client.pubsub()
    pubsub.subscribe("lease:py-job")
    confirmed = pubsub.get_message(timeout=5)
    check("pubsub() subscribes to lease:py-job",
          confirmed is not None and confirmed["type"] == "subscribe", repr(confirmed))
    watcher = redis.Redis(unix_socket_path=baton_sock, single_connection_client=True,
                          socket_timeout=5)
    check("LEASE WATCH answers the count", watcher.execute_command("LEASE", "WATCH", "py-job") == 1)

    # Leases through redis-py's execute_command: a KEEP lease outlives its TTL while the
    # connection is open, another client is DENIED meanwhile, and closing releases it.
    holder = redis.Redis(unix_socket_path=baton_sock, single_connection_client=True)
    reply = holder.execute_command("LEASE", "ACQUIRE", "py-job", "1000", "KEEP", "META", "from python")
    fields = dict(zip(reply[::2], reply[1::2]))
    token = fields[b"token"]
    check("LEASE ACQUIRE KEEP grants a token", token > 0 and 0 < fields[b"validity_ms"] <= 1000, repr(reply))
    message = pubsub.get_message(timeout=5)
    check("pubsub() receives the acquisition",
          message is not None and message["type"] == "message"
          and message["channel"] == b"lease:py-job"
          and message["data"] == b"acquired %d py-node" % token, repr(message))
    pushed = watcher.connection.read_response()
    check("LEASE WATCH pushes the acquisition",
          pushed == [b"lease", b"acquired", b"py-job", token, b"py-node"], repr(pushed))
    time.sleep(1.5)
    try:
        client.execute_command("LEASE", "ACQUIRE", "py-job", "1000")
        check("another client is DENIED while KEEP holds it", False)
    except redis.ResponseError as e:
        check("another client is DENIED while KEEP holds it", str(e).startswith("DENIED"), str(e))
    info = client.execute_command("LEASE", "INFO", "py-job")
    info = dict(zip(info[::2], info[1::2]))
    check("LEASE INFO shows holder, token and meta",
          info[b"token"] == token and info[b"meta"] == b"from python" and info[b"remaining_ms"] > 0,
          repr(info))
    holder.close()
    holder.connection_pool.disconnect()  # close() alone returns the socket to the pool
    deadline = time.time() + 2
    regained = None
    while time.time() < deadline and regained is None:
        try:
            regained = client.execute_command("LEASE", "ACQUIRE", "py-job", "5000")
        except redis.ResponseError:
            time.sleep(0.02)
    check("closing the holder's connection releases at once", regained is not None)
    pushed = watcher.connection.read_response()
    check("LEASE WATCH pushes the release", pushed[:2] == [b"lease", b"released"], repr(pushed))
    message = pubsub.get_message(timeout=5)
    check("pubsub() receives the release",
          message is not None and message["data"].startswith(b"released %d" % token), repr(message))
    pubsub.close()
    new_token = dict(zip(regained[::2], regained[1::2]))[b"token"]
    check("the next token is higher", new_token > token)
    check("LEASE RELEASE", client.execute_command("LEASE", "RELEASE", "py-job", new_token) in (b"OK", "OK", True))

    # Rate limits and idempotency keys: what a web app asks on every request.
    def as_dict(reply):
        return dict(zip(reply[::2], reply[1::2]))

    verdicts = [as_dict(client.execute_command("RATE", "CHECK", "py-api", "user:1")) for _ in range(4)]
    check("RATE CHECK admits exactly the limit", [v[b"allowed"] for v in verdicts] == [1, 1, 1, 0],
          repr(verdicts))
    check("RATE CHECK refusal says when to retry",
          verdicts[3][b"retry_after_ms"] > 0 and verdicts[3][b"remaining"] == 0
          and verdicts[3][b"source"] == b"redis", repr(verdicts[3]))
    pipe = client.pipeline(transaction=False)
    for _ in range(5):
        pipe.execute_command("RATE", "CHECK", "py-api", "user:2")
    piped = [as_dict(r)[b"allowed"] for r in pipe.execute()]
    check("RATE CHECK pipelined", piped == [1, 1, 1, 0, 0], repr(piped))
    try:
        client.execute_command("RATE", "CHECK", "py-api", "user:3", "COST", "0")
        check("RATE CHECK COST 0 raises", False)
    except redis.ResponseError as e:
        check("RATE CHECK COST 0 raises ResponseError", "COST must be a positive" in str(e), str(e))

    worker = redis.Redis(unix_socket_path=baton_sock, single_connection_client=True)
    first = as_dict(worker.execute_command("DEDUP", "CLAIM", "py-order-1", "10000"))
    check("DEDUP CLAIM: the first caller gets new", first[b"status"] == b"new", repr(first))
    second = as_dict(client.execute_command("DEDUP", "CLAIM", "py-order-1", "10000"))
    check("DEDUP CLAIM: a duplicate sees pending", second[b"status"] == b"pending", repr(second))
    check("DEDUP DONE", worker.execute_command("DEDUP", "DONE", "py-order-1", "receipt-9") in (b"OK", "OK", True))
    third = as_dict(client.execute_command("DEDUP", "CLAIM", "py-order-1", "10000"))
    check("DEDUP CLAIM: later duplicates get the result",
          third[b"status"] == b"done" and third[b"result"] == b"receipt-9", repr(third))
    check("DEDUP CLAIM of another key", as_dict(worker.execute_command(
        "DEDUP", "CLAIM", "py-order-2", "10000"))[b"status"] == b"new")
    worker.close()
    worker.connection_pool.disconnect()  # the worker dies before DONE
    deadline = time.time() + 2
    status = None
    while time.time() < deadline and status != b"new":
        status = as_dict(client.execute_command("DEDUP", "CLAIM", "py-order-2", "10000"))[b"status"]
        time.sleep(0.02)
    check("a claim whose connection closed is released for a retry", status == b"new")

    # Secrets: an API key rotated while a server keeps accepting the old one.
    put = as_dict(client.execute_command("SECRET", "PUT", "py-key", "sk_py_one"))
    check("SECRET PUT", put[b"version"] == 1, repr(put))
    got = as_dict(client.execute_command("SECRET", "GET", "py-key"))
    check("SECRET GET", got[b"value"] == b"sk_py_one" and got[b"state"] == b"current", repr(got))
    watcher = redis.Redis(unix_socket_path=baton_sock).connection_pool.get_connection("watch")
    watcher.send_command("SECRET", "WATCH", "py-key")
    check("SECRET WATCH", watcher.read_response() == 1)
    rotated = as_dict(client.execute_command("SECRET", "ROTATE", "py-key"))
    push = watcher.read_response()
    check("SECRET WATCH push on ROTATE",
          push == [b"secret", b"rotated", b"py-key", rotated[b"version"], rotated[b"epoch"]], repr(push))
    old_key = as_dict(client.execute_command("SECRET", "VERIFY", "py-key", "sk_py_one"))
    check("SECRET VERIFY: the old key within its grace", old_key[b"match"] == 1
          and old_key[b"state"] == b"previous", repr(old_key))
    wrong = as_dict(client.execute_command("SECRET", "VERIFY", "py-key", "sk_py_two"))
    check("SECRET VERIFY: a wrong key", wrong[b"match"] == 0, repr(wrong))
    check("SECRET GET of a missing secret is None",
          client.execute_command("SECRET", "GET", "py-missing") is None)

    # Sessions: open, watch for handoffs, resume with the token (on the same daemon here: the
    # handoff across daemons is tested in C++ and by the rolling deploy).
    opened = as_dict(client.execute_command("SESSION", "OPEN", "py-user", "60000", "META", '{"app":"py"}'))
    check("SESSION OPEN", len(opened[b"id"]) == 32 and opened[b"token"].startswith(b"v1."), repr(opened))
    sid = opened[b"id"]
    check("SESSION STATE SET", as_dict(client.execute_command("SESSION", "STATE", sid, "SET", "cart=1"))[b"state_version"] == 1)
    session_watcher = redis.Redis(unix_socket_path=baton_sock).connection_pool.get_connection("watch")
    session_watcher.send_command("SESSION", "WATCH")
    check("SESSION WATCH", session_watcher.read_response() == 1)
    resumed = as_dict(client.execute_command("SESSION", "RESUME", opened[b"token"]))
    check("SESSION RESUME answers the state and a new token",
          resumed[b"state"] == b"cart=1" and resumed[b"token"] != opened[b"token"], repr(resumed))
    try:
        client.execute_command("SESSION", "RESUME", opened[b"token"])
        check("SESSION RESUME twice is refused", False)
    except redis.ResponseError as e:
        check("SESSION RESUME twice is refused", str(e).startswith("REFUSED the token was used"), str(e))
    listed = client.execute_command("SESSION", "LIST", "py-user")
    check("SESSION LIST", len(listed) == 1 and as_dict(listed[0])[b"id"] == sid, repr(listed))

    # Breakers: CHECK and REPORT, and a pub/sub subscriber that hears the trip.
    watcher = redis.Redis(unix_socket_path=baton_sock, socket_timeout=5).pubsub()
    watcher.subscribe("breaker:py-pay")
    first = watcher.get_message(timeout=5)
    check("pubsub subscribe breaker:py-pay", first and first["type"] == "subscribe", repr(first))
    state = as_dict(client.execute_command("BREAKER", "CHECK", "py-pay"))
    check("BREAKER CHECK closed", state[b"allowed"] == 1 and state[b"state"] == b"closed", repr(state))
    for _ in range(3):
        client.execute_command("BREAKER", "REPORT", "py-pay", "fail")
    try:
        client.execute_command("BREAKER", "REPORT", "py-pay", "fail", "-3")
        check("a negative latency is refused", False)
    except redis.ResponseError as e:
        check("a negative latency is refused", "latency_ms" in str(e), str(e))
    state = as_dict(client.execute_command("BREAKER", "CHECK", "py-pay"))
    check("BREAKER CHECK open after the failures", state[b"allowed"] == 0 and state[b"state"] == b"open",
          repr(state))
    heard = watcher.get_message(timeout=5)
    check("the subscriber hears the trip", heard and heard["type"] == "message" and
          heard["data"].startswith(b"open ") and heard["data"].endswith(b" py-node"), repr(heard))
    watcher.close()

    procs[0].kill()
    procs[0].wait()
    try:
        client2 = redis.Redis(unix_socket_path=baton_sock, socket_timeout=5)
        client2.execute_command("DEBUG", "RTT")
        check("Redis down: UNAVAILABLE", False)
    except redis.ResponseError as e:
        check("Redis down: UNAVAILABLE error, promptly", str(e).startswith("UNAVAILABLE"), str(e))
    degraded = as_dict(client.execute_command("RATE", "CHECK", "py-api", "user:4"))
    check("Redis down: RATE CHECK fails open, degraded",
          degraded[b"allowed"] == 1 and degraded[b"degraded"] == 1 and degraded[b"source"] == b"open",
          repr(degraded))
    cached = as_dict(client.execute_command("SECRET", "GET", "py-key"))
    check("Redis down: SECRET GET served from memory, degraded",
          cached[b"version"] == rotated[b"version"] and cached[b"degraded"] == 1, repr(cached))
    check("batond still answers", redis.Redis(unix_socket_path=baton_sock).ping())
finally:
    for p in reversed(procs):
        p.kill()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)

print(f"{passed} passed, {failures} failed")
sys.exit(1 if failures else 0)
