#!/usr/bin/python3
"""clients/python/examples/ws_handoff_server.py across a drain: two batonds on one Redis (one
KEK, so either can resume the other's sessions), each with an example server whose address is
the batond's membership.address. A websockets client opens a session on the first server and
bumps its counter (kept in the session's state); the first batond is drained (NODE DRAIN); the
server, hearing handoff-out through baton.aio's session follower, tells the client "reconnect to
<address> with <token>"; the client reconnects to the address named, resumes, and its counter
is intact and goes on. A first line that is neither open nor resume gets an error line and a
clean close; a bump that meets Moved (the session handed over meanwhile) leaves the socket to
the handoff line, and without one closes cleanly. Usage: test_ws_handoff.py BATOND"""
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.dirname(HERE)  # clients/python
sys.path.insert(0, os.path.join(LIBRARY, "..", "..", "tests", "support"))
from local_fleet import (Checks, client_for, free_port, start_batond, start_redis,  # noqa: E402
                         stop_all, until)

import websockets  # noqa: E402

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-ws-")
procs = []
check = Checks()
SERVER = os.path.join(LIBRARY, "examples", "ws_handoff_server.py")


def as_dict(reply):
    return {reply[i].decode(): reply[i + 1] for i in range(0, len(reply), 2)}


def start_node(name, redis_sock, kek_file):
    """batond `name` and its example server; answers (batond's socket, the server's port)."""
    ws_port = free_port()
    _, sock, _ = start_batond(
        batond, work, procs, name, redis_sock, free_port(),
        f"secrets:\n  keks:\n    - {{id: w1, file: {kek_file}}}\n"
        f"membership:\n  address: 127.0.0.1:{ws_port}\n  heartbeat_ms: 200\n"
        "sessions:\n  handoff_deadline_ms: 15000\n")
    procs.append(subprocess.Popen([sys.executable, SERVER, "--socket", sock, "--port",
                                   str(ws_port)],
                                  stderr=open(os.path.join(work, f"{name}-server.log"), "w")))
    return sock, ws_port


async def connect(port):
    """A websockets client to the server on `port`, retried while it starts."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return await websockets.connect(f"ws://127.0.0.1:{port}/", open_timeout=5)
        except (OSError, websockets.InvalidHandshake, asyncio.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def client_side(sock_a, port_a, port_b):
    stray = await connect(port_a)
    await stray.send("hello")  # neither open nor resume
    answer = await asyncio.wait_for(stray.recv(), 20)
    await asyncio.wait_for(stray.wait_closed(), 20)
    check("a first line that is neither open nor resume: an error line, then a clean close "
          "(1008), not a handler that failed (1011)",
          answer.startswith("error expected open or resume") and stray.close_code == 1008,
          repr((answer, stray.close_code)))

    first = await connect(port_a)
    await first.send("open alice")
    opened = await asyncio.wait_for(first.recv(), 20)
    check("open: ok <id> 0", opened.startswith("ok ") and opened.endswith(" 0"), opened)
    session_id = opened.split(" ")[1]
    counts = []
    for _ in range(3):
        await first.send("bump")
        counts.append(await asyncio.wait_for(first.recv(), 20))
    check("three bumps count to 3", counts == ["count 1", "count 2", "count 3"], repr(counts))

    drained = as_dict(client_for(sock_a).execute_command("NODE", "DRAIN"))
    check("NODE DRAIN on the first batond", drained.get("state") == b"draining", repr(drained))
    told = await asyncio.wait_for(first.recv(), 30)
    words = told.split(" ")
    check("the client is told, in one line, reconnect to <the other server> with <token>",
          len(words) == 5 and words[:2] == ["reconnect", "to"] and words[3] == "with"
          and words[2] == f"127.0.0.1:{port_b}" and words[4].startswith("v1."), told)
    await asyncio.wait_for(first.wait_closed(), 20)
    check("... and the first server closes the socket normally", first.close_code == 1000,
          repr(first.close_code))

    host, _, port = words[2].partition(":")
    second = await connect(int(port))
    await second.send(f"resume {words[4]}")
    resumed = await asyncio.wait_for(second.recv(), 20)
    check("on the server named, resume: the same session, the counter intact",
          resumed == f"ok {session_id} 3", resumed)
    await second.send("bump")
    bumped = await asyncio.wait_for(second.recv(), 20)
    check("... and it counts on (the state is written where the session lives now)",
          bumped == "count 4", bumped)
    await second.close()
    return session_id


async def moved_during_bump():
    """The example's server in this process, before a batond whose session moved between a
    client's bump and its write (Moved): the handler leaves the socket to the handoff line
    (here sent as follow_handoffs sends it) and never writes on it after it closed; without
    a handoff line it tells the client, and closes cleanly."""
    import importlib.util
    from types import SimpleNamespace

    from baton import Moved

    spec = importlib.util.spec_from_file_location("ws_handoff_server", SERVER)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.HANDOFF_PATIENCE_S = 1.0

    class MovedBaton:  # the two calls the handler makes, the second refused
        async def session_open(self, user):
            return SimpleNamespace(id=f"s-{user}")

        async def session_state_set(self, session_id, state):
            if state != "0":
                raise Moved("MOVED", f"session {session_id} belongs to node ws-b now")
            return 1

    server = example.Server(MovedBaton())
    port = free_port()
    async with websockets.serve(server.serve_one, "127.0.0.1", port):
        told = await websockets.connect(f"ws://127.0.0.1:{port}/")
        await told.send("open told")
        await asyncio.wait_for(told.recv(), 10)
        await told.send("bump")
        while "s-told" not in server.connected:  # (it is there from the open on)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the bump met Moved; the handler waits for the handoff
        socket = server.connected.pop("s-told")  # what follow_handoffs does
        await socket.send("reconnect to 127.0.0.1:1 with v1.token")
        await socket.close()
        lines = [line async for line in told]
        check("Moved during a bump, then the handoff: the client gets only the reconnect line "
              "and a normal close", lines == ["reconnect to 127.0.0.1:1 with v1.token"]
              and told.close_code == 1000, repr((lines, told.close_code)))

        alone = await websockets.connect(f"ws://127.0.0.1:{port}/")
        await alone.send("open alone")
        await asyncio.wait_for(alone.recv(), 10)
        await alone.send("bump")
        lines = await asyncio.wait_for(_all_lines(alone), 10)
        check("Moved and no handoff line within the patience: an error line, a clean close",
              len(lines) == 1 and lines[0].startswith("error the session moved")
              and alone.close_code == 1001 and "s-alone" not in server.connected,
              repr((lines, alone.close_code)))


async def _all_lines(client):
    return [line async for line in client]


began = time.monotonic()
try:
    sys.path.insert(0, LIBRARY)
    asyncio.run(asyncio.wait_for(moved_during_bump(), 60))
    kek_file = os.path.join(work, "ws.kek")
    with open(kek_file, "w") as f:
        f.write("7e" * 32 + "\n")
    redis_sock = start_redis(work, procs)
    sock_a, port_a = start_node("ws-a", redis_sock, kek_file)
    sock_b, port_b = start_node("ws-b", redis_sock, kek_file)
    watcher = client_for(sock_a)
    until("both nodes active in NODE LIST",
          lambda: [as_dict(n).get("state") for n in watcher.execute_command("NODE", "LIST")]
          == [b"active", b"active"], limit=30)
    session_id = asyncio.run(asyncio.wait_for(client_side(sock_a, port_a, port_b), 90))
    got = as_dict(client_for(sock_b).execute_command("SESSION", "GET", session_id))
    state = as_dict(client_for(sock_b).execute_command("SESSION", "STATE", session_id))
    check("SESSION GET: the second batond owns the session, its state is 4",
          got.get("owner") == b"ws-b" and state.get("state") == b"4", repr((got, state)))
finally:
    stop_all(procs)
    for name in ("ws-a-server", "ws-b-server"):
        path = os.path.join(work, f"{name}.log")
        if check.failed and os.path.exists(path):
            print(f"--- {name}.log\n" + open(path).read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)

print(f"     ({time.monotonic() - began:.1f} s)")
sys.exit(check.exit_code())
