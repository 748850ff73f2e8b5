"""EVENTS through three real daemons on a Redis with AOF, with real clients: python3-redis,
and plain HTTP clients of the SSE example (examples/events_sse.py, one server per daemon).
A publisher appends numbered events through random daemons while readers reconnect to a
random daemon (or SSE server, with Last-Event-ID) after every few events; in the middle a
daemon is killed -9 and started again, and Redis is killed -9 and started again from its AOF.
Every reader must end with exactly the topic's events: each once, in order, no gap. Then
consumer groups: each event to one consumer, a dead consumer's pending events claimed by
another, a group that Redis lost made again on the next read, a group that starts from now,
trimming of what every group acknowledged; and bad input.

Usage: events_test.py BATOND"""
import http.client
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from local_fleet import Checks, error_of, free_port, start_batond, stop_all, until  # noqa: E402

import redis  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SSE = os.path.join(HERE, "..", "..", "examples", "events_sse.py")
EVENTS = 600
CONFIG = """events:
  max_length: 100000
  trim_acknowledged: true
redis: {call_timeout_ms: 1000}
"""


class Fleet:
    def __init__(self, batond, work):
        self.batond, self.work, self.procs = batond, work, []
        self.redis_sock = os.path.join(work, "redis.sock")
        self.redis_proc = None
        self.daemons = {}  # name -> (proc, socket)
        self.http = {}

    def start_redis(self):
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.redis_sock, "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self.work,
             "--logfile", os.path.join(self.work, "redis.log")])
        until("redis-server", lambda: redis.Redis(unix_socket_path=self.redis_sock).ping())

    def start_daemon(self, name):
        port = self.http.setdefault(name, free_port())
        proc, sock, _ = start_batond(self.batond, self.work, self.procs, name, self.redis_sock,
                                     port, CONFIG)
        self.daemons[name] = (proc, sock)

    def client(self, name):
        return redis.Redis(unix_socket_path=self.daemons[name][1], socket_timeout=10)


def sse_read(port, topic, last, most):
    """Up to `most` events from the SSE server on `port` after `last`: [(id, payload)]; fewer
    when the stream is quiet for a second (the server would keep it open)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    got = []
    try:
        conn.request("GET", f"/events/{topic}", headers={"Last-Event-ID": last})
        response = conn.getresponse()
        if response.status != 200:
            raise OSError(f"status {response.status}")
        event_id, data = None, []
        while len(got) < most:
            try:
                line = response.fp.readline()
            except TimeoutError:
                break
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event_id is not None:
                got.append((event_id, "\n".join(data)))
                event_id, data = None, []
        return got
    finally:
        conn.close()


def main():
    batond = sys.argv[1]
    check = Checks()
    work = tempfile.mkdtemp(prefix="baton-events-")
    fleet = Fleet(batond, work)
    sse = []
    try:
        fleet.start_redis()
        for name in ("a", "b", "c"):
            fleet.start_daemon(name)
        ports = {}
        for name in ("a", "b", "c"):
            port = free_port()
            env = dict(os.environ, BATON_SOCKET=fleet.daemons[name][1])
            sse.append(subprocess.Popen([sys.executable, SSE, "--port", str(port)], env=env))
            ports[name] = port
        for port in ports.values():
            until("the SSE server", lambda p=port: http.client.HTTPConnection(
                "127.0.0.1", p, timeout=1).connect() or True)

        # -- publish while readers come and go, across a daemon crash and a Redis restart --
        published_done = threading.Event()
        unknown, lost = [0], [0]

        def publisher():
            rng = random.Random(1)
            give_up = time.monotonic() + 90  # a refusal that lasts fails the test, not hangs it
            for n in range(EVENTS):
                while time.monotonic() < give_up:
                    name = rng.choice("abc")
                    # A DEDUP key makes sending again safe when an answer is lost (the
                    # daemon died after Redis appended, or UNKNOWN): the event is there once.
                    try:
                        fleet.client(name).execute_command("EVENTS", "PUBLISH", "orders",
                                                           f"order {n}", "DEDUP", f"order-{n}")
                        break
                    except redis.ResponseError as e:
                        if str(e).startswith("UNKNOWN"):
                            unknown[0] += 1
                        time.sleep(0.05)
                    except (redis.ConnectionError, redis.TimeoutError):
                        lost[0] += 1
                        time.sleep(0.05)
                time.sleep(0.004)
            published_done.set()

        results = {}

        def resp_reader(me):
            rng = random.Random(me)
            last, got = "0", []
            while True:
                name = rng.choice("abc")
                try:
                    c = fleet.client(name)
                    for _ in range(rng.randint(1, 4)):  # a few reads, then another daemon
                        batch = c.execute_command("EVENTS", "READ", "orders", "FROM", last,
                                                  "COUNT", str(rng.randint(1, 7)), "BLOCK", "300")
                        for event_id, payload in batch:
                            got.append((event_id.decode(), payload.decode()))
                            last = event_id.decode()
                        if not batch and published_done.is_set():
                            results[me] = got
                            return
                except (redis.RedisError, OSError):
                    time.sleep(0.05)

        def sse_reader(me):
            rng = random.Random(me)
            last, got = "0", []
            while True:
                try:
                    batch = sse_read(ports[rng.choice("abc")], "orders", last, rng.randint(2, 9))
                except OSError:
                    time.sleep(0.05)
                    continue
                got.extend(batch)
                if batch:
                    last = batch[-1][0]
                if len(batch) == 0 and published_done.is_set():
                    results[me] = got
                    return
                if published_done.is_set() and batch and len(got) >= EVENTS:
                    # maybe the end: one more short read says
                    continue

        threads = [threading.Thread(target=publisher)]
        threads += [threading.Thread(target=resp_reader, args=(f"resp-{i}",)) for i in range(2)]
        threads += [threading.Thread(target=sse_reader, args=(f"sse-{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.8)
        os.kill(fleet.daemons["b"][0].pid, signal.SIGKILL)  # a daemon crashes...
        fleet.daemons["b"][0].wait()
        time.sleep(0.5)
        fleet.start_daemon("b")  # ... and comes back
        time.sleep(0.5)
        fleet.redis_proc.kill()  # Redis crashes, and comes back from its AOF
        fleet.redis_proc.wait()
        time.sleep(0.3)
        fleet.start_redis()
        threads[0].join(timeout=120)
        check("the publisher finished", not threads[0].is_alive())
        # SSE readers end on an empty read; the example blocks 15 s on quiet, so give room.
        for t in threads[1:]:
            t.join(timeout=90)
        check("every reader finished", all(not t.is_alive() for t in threads))

        final, last = [], "0"
        while True:
            page = fleet.client("a").execute_command("EVENTS", "READ", "orders", "FROM", last,
                                                     "COUNT", "1000")
            if not page:
                break
            final += [(i.decode(), p.decode()) for i, p in page]
            last = final[-1][0]
        numbers = [int(p.split()[1]) for _, p in final]
        print(f"     {len(final)} events in the topic ({unknown[0]} publishes answered "
              f"UNKNOWN and {lost[0]} lost their connection, each sent again)")
        check("the topic holds every event once, in publish order (sent again after a lost "
              "answer, with its DEDUP key)", numbers == list(range(EVENTS)),
              f"{len(final)} events, duplicates "
              f"{sorted(n for n in set(numbers) if numbers.count(n) > 1)[:10]}, missing "
              f"{sorted(set(range(EVENTS)) - set(numbers))[:10]}")
        check("ids grow", all(a[0] < b[0] or len(a[0]) < len(b[0])
                              for a, b in zip(final, final[1:])) or
              [tuple(map(int, i.split("-"))) for i, _ in final] ==
              sorted(tuple(map(int, i.split("-"))) for i, _ in final))
        for me, got in sorted(results.items()):
            check(f"{me} got every event once, in order, no gap ({len(got)} events, "
                  "reconnecting to random daemons)", got == final,
                  f"got {len(got)}, first difference at "
                  f"{next((k for k, (x, y) in enumerate(zip(got, final)) if x != y), min(len(got), len(final)))}")

        # -- DEDUP: the same key on another daemon answers the first id and appends nothing --
        first = fleet.client("a").execute_command("EVENTS", "PUBLISH", "receipts", "r1",
                                                  "DEDUP", "r-1")
        again = fleet.client("c").execute_command("EVENTS", "PUBLISH", "receipts", "r1",
                                                  "DEDUP", "r-1")
        fleet.client("b").execute_command("EVENTS", "PUBLISH", "receipts", "r2",
                                                  "DEDUP", "r-2")
        fleet.client("b").execute_command("EVENTS", "PUBLISH", "receipts", "r2")
        kept = fleet.client("b").execute_command("EVENTS", "READ", "receipts", "FROM", "0")
        check("a DEDUP key seen before answers the first id on any daemon, and appends nothing",
              again == first and [p for _, p in kept] == [b"r1", b"r2", b"r2"], kept)

        # -- WATCH: pushes from a position, and a resume from the last id on another daemon --
        def watcher(name, start):
            conn = redis.connection.UnixDomainSocketConnection(path=fleet.daemons[name][1],
                                                               socket_timeout=5)
            conn.connect()
            conn.send_command("EVENTS", "WATCH", "feed", "FROM", start)
            return conn, conn.read_response()

        def pushes(conn, n):
            got = []
            while len(got) < n:
                kind, topic, event_id, payload = conn.read_response()
                assert kind == b"event" and topic == b"feed", (kind, topic)
                got.append((event_id.decode(), payload.decode()))
            return got

        pub = fleet.client("c")
        first_id = pub.execute_command("EVENTS", "PUBLISH", "feed", "f0").decode()
        conn, answer = watcher("a", "0")
        check("WATCH FROM 0 answers its start and the topics watched",
              answer == [b"0-0", 1], answer)
        for n in range(1, 6):
            pub.execute_command("EVENTS", "PUBLISH", "feed", f"f{n}")
        seen = pushes(conn, 6)
        check("WATCH pushes every event after its start, in order, once",
              [p for _, p in seen] == [f"f{n}" for n in range(6)] and seen[0][0] == first_id,
              seen)
        conn.disconnect()
        for n in range(6, 9):
            pub.execute_command("EVENTS", "PUBLISH", "feed", f"f{n}")
        conn, answer = watcher("b", seen[-1][0])  # another daemon, from the last id seen
        resumed = pushes(conn, 3)
        check("a watcher back on another daemon with its last id gets the rest, no gap",
              [p for _, p in resumed] == ["f6", "f7", "f8"], resumed)
        conn.send_command("EVENTS", "UNWATCH")
        check("UNWATCH answers the topics still watched", conn.read_response() == 0)
        conn.disconnect()
        conn, answer = watcher("c", "$")
        pub.execute_command("EVENTS", "PUBLISH", "feed", "new")
        check("WATCH FROM $ pushes only what is published after it",
              [p for _, p in pushes(conn, 1)] == ["new"])
        conn.disconnect()

        # -- SUBSCRIBE events:<topic>: redis-py's own pub/sub API follows a topic --------------
        ps = fleet.client("a").pubsub()
        ps.subscribe("events:ticker", "events:tape")
        confirmations = [ps.get_message(timeout=5) for _ in range(2)]
        check("SUBSCRIBE events:<topic> is confirmed as Redis confirms a channel",
              [(m["type"], m["channel"], m["data"]) for m in confirmations] ==
              [("subscribe", b"events:ticker", 1), ("subscribe", b"events:tape", 2)],
              confirmations)
        ids = [fleet.client(name).execute_command("EVENTS", "PUBLISH", "ticker",
                                                  f"t{n}").decode()
               for n, name in enumerate("bcbcb")]
        fleet.client("c").execute_command("EVENTS", "PUBLISH", "tape", "roll")

        def messages(n):
            got = []
            deadline = time.time() + 10
            while len(got) < n and time.time() < deadline:
                m = ps.get_message(timeout=1)
                if m and m["type"] == "message":
                    got.append((m["channel"].decode(), m["data"].decode()))
            return got

        got = messages(6)
        ticker = [d for c, d in got if c == "events:ticker"]
        check("each event published on any daemon is a message '<id> <payload>', in order",
              ticker == [f"{i} t{n}" for n, i in enumerate(ids)] and
              ("events:tape", got[-1][1].split(" ", 1)[0] + " roll") in got, got)
        last = ticker[-1].split(" ", 1)[0] if ticker else "0"
        for n in range(5, 8):
            fleet.client("b").execute_command("EVENTS", "PUBLISH", "ticker", f"t{n}")
        rest = fleet.client("c").execute_command("EVENTS", "READ", "ticker", "FROM", last)
        check("a subscriber's last id resumes with READ on another daemon, no gap",
              [p for _, p in rest] == [b"t5", b"t6", b"t7"], rest)
        pending = messages(3)  # published while subscribed: they come before the unsubscribe
        ps.unsubscribe("events:ticker")
        fleet.client("b").execute_command("EVENTS", "PUBLISH", "ticker", "after")
        fleet.client("b").execute_command("EVENTS", "PUBLISH", "tape", "still")
        after = messages(1)
        extra = ps.get_message(timeout=0.5)
        check("messages published while subscribed all come",
              [d.split(" ", 1)[1] for _, d in pending] == ["t5", "t6", "t7"], pending)
        check("UNSUBSCRIBE events:<topic> stops that topic's messages, not the others'",
              [(c, d.split(" ", 1)[1]) for c, d in after] == [("events:tape", "still")] and
              (extra is None or extra["type"] != "message"), (after, extra))
        ps.unsubscribe()
        ps.close()
        # Counted as Redis counts: a confirmation per channel named, repeats included.
        raw = redis.connection.UnixDomainSocketConnection(path=fleet.daemons["b"][1],
                                                          socket_timeout=5)
        raw.connect()
        raw.send_command("SUBSCRIBE", "events:dup", "events:dup", "events:two")
        counts = [raw.read_response() for _ in range(3)]
        check("SUBSCRIBE of a repeated channel confirms each, with Redis' counts",
              counts == [[b"subscribe", b"events:dup", 1], [b"subscribe", b"events:dup", 1],
                         [b"subscribe", b"events:two", 2]], counts)
        raw.disconnect()
        got = error_of(fleet.client("a"), "SUBSCRIBE", "events:x", "lease:y") or ""
        check("events channels beside others: a clear error", "of their own" in got, got)
        for channel, start in (("events:{x}", "a topic is 1 to"), ("events:", "a topic is 1 to")):
            got = error_of(fleet.client("a"), "SUBSCRIBE", channel) or ""
            check(f"SUBSCRIBE {channel}: a clear error", start in got, got)

        # A backlog larger than a connection may hold unsent (socket.max_buffered_bytes and the
        # push cap) is pushed as the client reads it, not piled up until the client is cut off.
        big = "x" * 60000
        pipe = pub.pipeline(transaction=False)
        for n in range(700):
            pipe.execute_command("EVENTS", "PUBLISH", "backlog", f"{n} {big}")
        pipe.execute()
        conn = redis.connection.UnixDomainSocketConnection(path=fleet.daemons["a"][1],
                                                           socket_timeout=10)
        conn.connect()
        conn.send_command("EVENTS", "WATCH", "backlog", "FROM", "0")
        conn.read_response()
        got_numbers = []
        try:
            while len(got_numbers) < 700:
                kind, _, _, payload = conn.read_response()
                got_numbers.append(int(payload.split(b" ", 1)[0]))
                if len(got_numbers) % 100 == 0:
                    time.sleep(0.05)  # a slow reader
        except (redis.ConnectionError, redis.TimeoutError) as e:
            got_numbers.append(f"cut off: {e}")
        conn.disconnect()
        check("a 42 MB backlog reaches a slow watcher whole, in order",
              got_numbers == list(range(700)), got_numbers[-3:])

        # -- consumer groups ------------------------------------------------------------------
        a, b = fleet.client("a"), fleet.client("b")
        for n in range(20):
            a.execute_command("EVENTS", "PUBLISH", "jobs", f"job {n}")
        check("GROUP CREATE from 0 makes the group",
              a.execute_command("EVENTS", "GROUP", "CREATE", "jobs", "workers", "FROM", "0") == 1)
        check("... and again answers that it was there",
              b.execute_command("EVENTS", "GROUP", "CREATE", "jobs", "workers", "FROM", "0") == 0)
        first = a.execute_command("EVENTS", "GROUP", "READ", "jobs", "workers", "w1", "COUNT", "8")
        second = b.execute_command("EVENTS", "GROUP", "READ", "jobs", "workers", "w2", "COUNT",
                                   "100")
        ids1 = [i.decode() for i, _ in first]
        ids2 = [i.decode() for i, _ in second]
        check("two consumers share the events, each once",
              len(ids1) == 8 and len(ids2) == 12 and not set(ids1) & set(ids2), (ids1, ids2))
        check("w2 acknowledges its events",
              b.execute_command("EVENTS", "GROUP", "ACK", "jobs", "workers", *ids2) == 12)
        # w1 "dies" with its 8 pending; after they idle, w2 claims them.
        time.sleep(0.3)
        claimed = b.execute_command("EVENTS", "GROUP", "CLAIM", "jobs", "workers", "w2", "200")
        check("a dead consumer's pending events are claimed by another",
              sorted(i.decode() for i, _ in claimed) == sorted(ids1),
              [i.decode() for i, _ in claimed])
        check("... and not while they are younger than min_idle_ms",
              b.execute_command("EVENTS", "GROUP", "CLAIM", "jobs", "workers", "w3", "60000")
              == [])
        check("acknowledging the claimed ones",
              b.execute_command("EVENTS", "GROUP", "ACK", "jobs", "workers", *ids1) == 8)
        raw = redis.Redis(unix_socket_path=fleet.redis_sock)
        check("with trim_acknowledged, what every group acknowledged is trimmed",
              raw.xlen("baton:events:{jobs}") == 0, raw.xlen("baton:events:{jobs}"))
        # A group that starts from now sees only what comes after.
        a.execute_command("EVENTS", "GROUP", "CREATE", "jobs", "late", "FROM", "$")
        a.execute_command("EVENTS", "PUBLISH", "jobs", "job after")
        late = a.execute_command("EVENTS", "GROUP", "READ", "jobs", "late", "l1")
        check("a group made FROM $ starts with the events after it",
              [p for _, p in late] == [b"job after"], late)
        # Redis loses the group (as a restart without it, or a failover, would): the next read
        # makes it again, with no NOGROUP.
        raw.execute_command("XGROUP", "DESTROY", "baton:events:{jobs}", "workers")
        again = a.execute_command("EVENTS", "GROUP", "READ", "jobs", "workers", "w1")
        check("a group Redis lost is made again on the next read, from the oldest kept",
              [p for _, p in again] == [b"job after"], again)
        # A blocked group read is woken by a publish on another daemon.
        out = {}

        def blocked():
            t0 = time.monotonic()
            out["got"] = a.execute_command("EVENTS", "GROUP", "READ", "jobs", "workers", "w1",
                                           "BLOCK", "5000")
            out["took"] = time.monotonic() - t0

        t = threading.Thread(target=blocked)
        t.start()
        time.sleep(0.3)
        c = fleet.client("c")
        c.execute_command("EVENTS", "PUBLISH", "jobs", "wake up")
        t.join(timeout=10)
        check("a blocked GROUP READ is woken by a publish on another daemon",
              [p for _, p in out.get("got", [])] == [b"wake up"] and out["took"] < 3,
              out)
        t0 = time.monotonic()
        empty = c.execute_command("EVENTS", "READ", "nothing-here", "FROM", "$", "BLOCK", "400")
        took = time.monotonic() - t0
        check("a READ that blocks on a quiet topic answers empty at its deadline",
              empty == [] and 0.35 < took < 3, (empty, took))

        # -- bad input -------------------------------------------------------------------------
        def error_of_a(*args):
            return error_of(a, *args) or ""

        for args, start in (
                (("EVENTS", "READ", "orders", "FROM", "nope"), "not an event id"),
                (("EVENTS", "READ", "orders", "AFTER", "0"), "syntax error"),
                (("EVENTS", "READ", "orders", "FROM", "0", "COUNT", "0"), "COUNT must be"),
                (("EVENTS", "READ", "orders", "FROM", "0", "BLOCK", "999999999"), "BLOCK must be"),
                (("EVENTS", "PUBLISH", "a b", "x"), "a topic is 1 to"),
                (("EVENTS", "PUBLISH", "{x}", "x"), "a topic is 1 to"),
                (("EVENTS", "GROUP", "FROB", "jobs", "g"), "unknown EVENTS GROUP verb"),
                (("EVENTS", "GROUP", "ACK", "jobs", "workers", "zz"), "not an event id"),
                (("EVENTS", "GROUP", "CREATE", "jobs", "g", "FROM", "x"), "not an event id"),
                (("EVENTS", "GROUP", "CLAIM", "jobs", "g", "w", "soon"), "syntax error"),
                (("EVENTS", "PUBLISH", "orders"), "wrong number of arguments"),
                (("EVENTS", "PUBLISH", "orders", "x", "DEDUP"), "syntax error"),
                (("EVENTS", "PUBLISH", "orders", "x", "ONCE", "k"), "syntax error"),
                (("EVENTS", "PUBLISH", "orders", "x", "DEDUP", "a b"), "a dedup key is 1 to"),
                (("EVENTS", "PUBLISH", "orders", "x", "DEDUP", "k" * 257), "a dedup key is 1 to")):
            got = error_of_a(*args)
            check(f"{' '.join(args)[:50]}: a clear error", start in got, got)
        check("the daemon still answers PING", a.ping())

        # -- Redis down ----------------------------------------------------------------------
        fleet.redis_proc.kill()
        fleet.redis_proc.wait()
        t0 = time.monotonic()
        down = error_of_a("EVENTS", "PUBLISH", "orders", "x")
        read_down = error_of_a("EVENTS", "READ", "orders", "FROM", "0")
        check("Redis down: PUBLISH answers UNAVAILABLE or UNKNOWN, READ UNAVAILABLE, in time",
              down.split(" ")[0] in ("UNAVAILABLE", "UNKNOWN") and
              read_down.startswith("UNAVAILABLE") and time.monotonic() - t0 < 5,
              (down, read_down))
        check("Redis down: the daemon still answers PING", a.ping())
    finally:
        for p in sse:
            p.terminate()
        stop_all(fleet.procs + ([fleet.redis_proc] if fleet.redis_proc else []))
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
