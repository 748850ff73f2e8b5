#!/usr/bin/python3
"""CACHE through Debian's python3-redis as a real client of three batond (a, b, c) on one
private redis-server: a GET read from Redis then from the near cache; a write on one daemon
invalidating the others' near caches (200 rounds: a GET 50 ms after the writer's reply is never
stale, and how many GETs sent at once after it were is printed); DEL, INVALIDATE of keys and of
a PATTERN everywhere; readers on two daemons under a writer on the third never going back past
a write 50 ms old; the byte budget's evictions; a namespace without a near cache; CACHE STATS
and /metrics; a killed subscription (nothing served that changed while it was off), a silent
one (noticed by its PINGs); Redis down (degraded answers from memory, UNAVAILABLE, no hang);
bad input answered with clear errors. Usage: cache_python_test.py BATOND"""
import bisect
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from local_fleet import (Checks, client_for, error_of, free_port, start_batond,  # noqa: E402
                         start_redis, stop_all, until)

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-cache-py-")
procs = []
check = Checks()
SETTLE = 0.05  # the time a GET waits after a write's reply before it must see it

CONFIG = (
    "cache:\n"
    "  namespaces:\n"
    "    - {name: users, ttl_ms: 60000, near_ttl_ms: 30000}\n"
    "    - {name: tiny, near_max_bytes: 2000}\n"
    "    - {name: direct, near_max_bytes: 0}\n"
    "    - {name: small, max_value_bytes: 100, ttl_ms: 10000, max_ttl_ms: 100000}\n"
    "    - {name: brief, near_ttl_ms: 300}\n"
    "redis: {dead_connection_ms: 600}\n")


def as_map(reply):
    """A map reply (RESP2's flat array) as a dict with str keys; None stays None."""
    if reply is None:
        return None
    if isinstance(reply, dict):
        items = reply.items()
    else:
        items = zip(reply[::2], reply[1::2])
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in items}


def get(c, ns, key):
    return as_map(c.execute_command("CACHE", "GET", ns, key))


def cset(c, ns, key, value, *extra):
    return c.execute_command("CACHE", "SET", ns, key, value, *extra)


def stats(c, ns):
    (one,) = c.execute_command("CACHE", "STATS", ns)
    return as_map(one)


def metrics(port):
    """/metrics as {"name{labels}": value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def following(port):
    return metrics(port).get("baton_cache_following") == 1


def warm(key, *clients, ns="users"):
    """GETs `key` on each client until its near cache serves it; the value each served."""
    values = []
    for cl in clients:
        got = until(f"{key} near", lambda: (lambda g: g if g and g["source"] == b"near" else None)(
            get(cl, ns, key)), limit=3)
        values.append(got["value"])
    return values


# -- the parts ------------------------------------------------------------------------------

def read_through():
    check("SET on a answers OK", cset(ca, "users", "basic:1", b"alice\x00\xff") == b"OK")
    first, second = get(cb, "users", "basic:1"), get(cb, "users", "basic:1")
    check("GET's map has value, ttl_ms, source, degraded",
          first is not None and set(first) == {"value", "ttl_ms", "source", "degraded"},
          repr(first))
    check("first GET on b: from Redis, the value SET on a, not degraded",
          first["source"] == b"redis" and first["value"] == b"alice\x00\xff"
          and first["degraded"] == 0, repr(first))
    check("first GET: ttl_ms is the namespace's ttl_ms 60000 less a little",
          55000 < first["ttl_ms"] <= 60000, repr(first))
    check("second GET on b: from the near cache, same value, not degraded",
          second["source"] == b"near" and second["value"] == b"alice\x00\xff"
          and second["degraded"] == 0 and 55000 < second["ttl_ms"] <= 60000, repr(second))
    got = get(ca, "users", "basic:1")
    check("the writer's own next GET reads Redis (its copy dropped)",
          got["source"] == b"redis" and got["value"] == b"alice\x00\xff", repr(got))
    cset(ca, "users", "basic:ttl", "x", "TTL", "5000")
    got = get(cb, "users", "basic:ttl")
    check("SET TTL 5000: ttl_ms in (4000, 5000]", 4000 < got["ttl_ms"] <= 5000, repr(got))
    check("TTL in Redis is the SET's", 4000 < raw.pttl("baton:cache:users:{basic:ttl}") <= 5000)
    check("GET of a key never set: nil (twice: a miss is not cached as a value)",
          get(cb, "users", "basic:none") is None and get(cb, "users", "basic:none") is None)
    cset(ca, "users", "basic:none", "late")
    time.sleep(SETTLE)
    got = get(cb, "users", "basic:none")
    check("... and a key SET after its miss is read", got is not None and got["value"] == b"late",
          repr(got))
    cset(ca, "users", "basic:empty", b"")
    got = [get(cb, "users", "basic:empty")]
    # Then near: with cache.strict a read goes to Redis while the event channel has bytes
    # unread (a busy machine), so the near hit is looked for over a few reads.
    for _ in range(50):
        got[1:] = [get(cb, "users", "basic:empty")]
        if got[1] and got[1]["source"] == b"near":
            break
        time.sleep(0.02)
    check("an empty value is a value (from Redis, then near), not nil",
          [(g or {}).get("value") for g in got] == [b"", b""]
          and [g["source"] for g in got] == [b"redis", b"near"], repr(got))
    odd = b"with space\x00and\xffbytes"
    cset(ca, "users", odd, "one")
    warm(odd, cb)
    cset(ca, "users", odd, "two")
    time.sleep(SETTLE)
    got = get(cb, "users", odd)
    check("a key with a space and binary bytes is invalidated on b too",
          got is not None and got["value"] == b"two", repr(got))


def lifetimes():
    cset(ca, "brief", "life:1", "fresh")
    warm("life:1", cb, ns="brief")
    time.sleep(0.35)
    got = get(cb, "brief", "life:1")
    check("near_ttl_ms 300: after 350 ms the entry is read from Redis again",
          got is not None and got["source"] == b"redis" and got["value"] == b"fresh", repr(got))
    cset(ca, "users", "life:2", "short", "TTL", "300")
    warm("life:2", cb)
    time.sleep(0.35)
    got = get(cb, "users", "life:2")
    check("an entry whose Redis TTL (300 ms) ended is not served near (near_ttl_ms 30000): nil",
          got is None, repr(got))


def invalidation_rounds():
    """4 threads x 50 rounds, a key each: b and c hold the key near; a writes a fresh value;
    GETs on b and c at once after the reply (stale counted), and 50 ms after it (never stale)."""
    rounds, threads_n = 50, 4
    totals = {"stale_b": 0, "stale_c": 0, "late_stale": 0, "not_near": 0, "odd": 0}
    late_details, odd_details = [], []
    lock = threading.Lock()
    errors = []

    def worker(n):
        try:
            a, b, c = client_for(sock_a), client_for(sock_b), client_for(sock_c)
            key = f"inv:{n}"
            mine = dict.fromkeys(totals, 0)
            old = b"v-%d-0" % n
            cset(a, "users", key, old)
            warm(key, b, c)
            for r in range(1, rounds + 1):
                for cl in (b, c):  # the precondition: both serve the old value from memory
                    got = get(cl, "users", key)
                    if got is None or got["source"] != b"near" or got["value"] != old:
                        mine["not_near"] += 1
                new = b"v-%d-%d-%s" % (n, r, os.urandom(4).hex().encode())
                cset(a, "users", key, new)
                replied = time.monotonic()
                for name, cl in (("stale_b", b), ("stale_c", c)):
                    got = get(cl, "users", key)
                    value = got and got["value"]
                    if value == old:
                        mine[name] += 1
                    elif value != new:
                        mine["odd"] += 1
                        odd_details.append((key, r, got))
                time.sleep(max(0.0, replied + SETTLE - time.monotonic()))
                for cl, who in ((b, "b"), (c, "c")):
                    got = get(cl, "users", key)
                    if got is None or got["value"] != new:
                        mine["late_stale"] += 1
                        late_details.append((who, key, r, got))
                old = new
            with lock:
                for k, v in mine.items():
                    totals[k] += v
        except Exception as e:  # reported below
            errors.append(traceback.format_exc() or repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    n = rounds * threads_n
    print(f"     (invalidation: {n} writes; GETs sent at once after the writer's reply that "
          f"answered the old value: b {totals['stale_b']}/{n}, c {totals['stale_c']}/{n}; "
          f"{time.monotonic() - began:.1f} s)")
    check("invalidation rounds ran without errors", not errors, "\n".join(errors[:2]))
    # A daemon goes to Redis instead while bytes wait unread on its invalidation channel (other
    # threads' writes here), so not every read before a write is a near one; most must be, or
    # the rounds would not test invalidation at all.
    check(f"before most of {n} writes, b and c served the old value from their near caches",
          totals["not_near"] < n // 4, repr(totals))
    check(f"a GET 50 ms after the writer's reply is never stale ({2 * n} GETs on b and c)",
          totals["late_stale"] == 0, repr((totals, late_details[:5])))
    check("a GET at once after the reply answers the old or the new value, nothing else",
          totals["odd"] == 0, repr(odd_details[:5]))


def deletes():
    cset(ca, "users", "del:1", "doomed")
    warm("del:1", cb, cc)
    check("DEL on a answers 1", ca.execute_command("CACHE", "DEL", "users", "del:1") == 1)
    time.sleep(SETTLE)
    check("after DEL: b and c GET nil",
          get(cb, "users", "del:1") is None and get(cc, "users", "del:1") is None)
    check("after DEL: a GETs nil and Redis has no entry",
          get(ca, "users", "del:1") is None and raw.exists("baton:cache:users:{del:1}") == 0)
    check("DEL of an absent key answers 0",
          ca.execute_command("CACHE", "DEL", "users", "del:1") == 0)

    keys = ["many:1", "many:2", "many:3", "many:keep"]
    for k in keys:
        cset(ca, "users", k, "value of " + k)
    for k in keys:
        warm(k, cb, cc)
    n = ca.execute_command("CACHE", "INVALIDATE", "users", "many:1", "many:2", "many:3",
                           "many:absent")
    check("INVALIDATE of 3 keys and an absent one answers 3", n == 3, repr(n))
    time.sleep(SETTLE)
    gone = [(who, k) for who, cl in (("b", cb), ("c", cc)) for k in keys[:3]
            if get(cl, "users", k) is not None]
    check("after INVALIDATE: b and c GET nil for each of the 3", gone == [], repr(gone))
    got = get(cb, "users", "many:keep")
    check("... and the key not named is still served from b's near cache",
          got is not None and got["source"] == b"near" and got["value"] == b"value of many:keep",
          repr(got))

    matching = ["user:1", "user:10", "user:15", "user:1x"]
    others = ["user:2", "user:21", "user:x1", "xuser:1"]
    for k in matching + others:
        cset(ca, "users", k, "v " + k)
    for k in matching + others:
        warm(k, cb, cc)
    n = ca.execute_command("CACHE", "INVALIDATE", "users", "PATTERN", "user:1*")
    check("INVALIDATE PATTERN 'user:1*' answers 4", n == 4, repr(n))
    time.sleep(SETTLE)
    still = [(who, k) for who, cl in (("a", ca), ("b", cb), ("c", cc)) for k in matching
             if get(cl, "users", k) is not None]
    check("after PATTERN: a, b and c GET nil for every match", still == [], repr(still))
    check("... and Redis has none of them",
          sorted(raw.keys("baton:cache:users:{user:1*")) == [], repr(raw.keys("*user:1*")))
    served = {k: get(cb, "users", k) for k in others}
    check("... the keys that do not match are still served near from b, unchanged",
          all(g is not None and g["source"] == b"near" and g["value"] == b"v " + k.encode()
              for k, g in served.items()), repr(served))
    served = {k: get(cc, "users", k) for k in others}
    check("... and from c", all(g is not None and g["source"] == b"near" for g in served.values()),
          repr(served))
    check("INVALIDATE PATTERN with nothing matching answers 0",
          ca.execute_command("CACHE", "INVALIDATE", "users", "PATTERN", "nothing:*") == 0)
    cset(ca, "users", "PATTERN", "a key named PATTERN")
    try:
        ca.execute_command("CACHE", "INVALIDATE", "users", "PATTERN")
        refused = ""
    except redis.ResponseError as e:
        refused = str(e)
    check("INVALIDATE ns PATTERN without a pattern is refused, not taken as a key",
          refused.startswith("ERR syntax error"), refused)
    check("... and CACHE DEL deletes a key named PATTERN",
          ca.execute_command("CACHE", "DEL", "users", "PATTERN") == 1
          and get(ca, "users", "PATTERN") is None)


def under_load():
    keys = [f"load:{i}" for i in range(20)]
    for k in keys:
        cset(ca, "users", k, "0")
    sets = {k: ([], []) for k in keys}  # key -> (reply times, values), in order
    reads = []
    errors = []
    stop = threading.Event()
    began = time.monotonic()

    def writer():
        try:
            a = client_for(sock_a)
            v = 0
            while not stop.is_set():
                v += 1
                for k in keys:
                    cset(a, "users", k, str(v))
                    times, values = sets[k]
                    times.append(time.monotonic())
                    values.append(v)
                time.sleep(0.002)
        except Exception:
            errors.append(traceback.format_exc())

    def reader(sock, seed):
        try:
            cl = client_for(sock)
            rng = random.Random(seed)
            mine = []
            while not stop.is_set():
                k = keys[rng.randrange(len(keys))]
                start = time.monotonic()
                got = get(cl, "users", k)
                mine.append((k, start, int(got["value"]), got["source"]))
            reads.extend(mine)
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(sock_b if n % 2 else sock_c, n))
                for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(3.0)
    stop.set()
    for t in threads:
        t.join(20)
    checked, bad, near = 0, [], 0
    for k, start, value, source in reads:
        near += source == b"near"
        times, values = sets[k]
        i = bisect.bisect_right(times, start - SETTLE)
        if i == 0:
            continue  # no SET of this key finished 50 ms before this GET began
        checked += 1
        if value < values[i - 1]:
            bad.append((k, value, values[i - 1], round(start - times[i - 1], 4)))
    writes = sum(len(v[1]) for v in sets.values())
    print(f"     (load: {writes} SETs on a, {len(reads)} GETs on b and c ({near} near), "
          f"{checked} checked against a SET 50 ms older; {time.monotonic() - began:.1f} s)")
    check("under load: no errors", not errors, "\n".join(errors[:2]))
    check("under load: thousands of GETs checked", checked >= 2000, repr(checked))
    check("under load: the near cache served some of them", near > 0, repr(near))
    check("under load: no GET began 50 ms after a SET of v completed and answered less than v",
          not bad, f"{len(bad)} e.g. {bad[:5]}")


def byte_budget():
    before = stats(cb, "tiny")
    values = {f"t:{i:02d}": (b"%02d" % i) * 100 for i in range(20)}  # 200 bytes each
    for k, v in values.items():
        cset(ca, "tiny", k, v)
    wrong = [k for k, v in values.items() if get(cb, "tiny", k)["value"] != v]
    after = stats(cb, "tiny")
    check("tiny: every GET answered its value", wrong == [], repr(wrong))
    check("tiny: 20 x 200-byte entries into 2000 bytes evict (evictions > 0)",
          after["evictions"] > before["evictions"], repr(after))
    check("tiny: bytes <= max_bytes (2000), and something is kept",
          after["max_bytes"] == 2000 and 0 < after["bytes"] <= 2000 and after["entries"] > 0,
          repr(after))
    last, first = get(cb, "tiny", "t:19"), get(cb, "tiny", "t:00")
    check("tiny: the last one read is served near, the first one was pushed out",
          last["source"] == b"near" and first["source"] == b"redis", repr((last, first)))
    big = b"B" * 3000
    cset(ca, "tiny", "t:big", big)
    got = [get(cb, "tiny", "t:big") for _ in range(3)]
    check("tiny: a value larger than the whole budget is never kept near",
          all(g["value"] == big and g["source"] == b"redis" for g in got),
          repr([g["source"] for g in got]))
    check("tiny: still within budget", stats(cb, "tiny")["bytes"] <= 2000)


def no_near_cache():
    cset(ca, "direct", "d:1", "straight")
    before = stats(cb, "direct")
    got = [get(cb, "direct", "d:1") for _ in range(5)]
    after = stats(cb, "direct")
    check("direct (near_max_bytes 0): every GET is source redis",
          all(g["source"] == b"redis" and g["value"] == b"straight" for g in got),
          repr([g["source"] for g in got]))
    check("direct: STATS shows 5 redis hits, no near hits, nothing held",
          after["redis_hits"] - before["redis_hits"] == 5 and after["near_hits"] == 0
          and after["entries"] == 0 and after["bytes"] == 0 and after["max_bytes"] == 0,
          repr(after))


def counters():
    before = stats(cb, "users")
    get(cb, "users", "stats:none")
    cset(ca, "users", "stats:k", "counted")
    time.sleep(SETTLE)
    g1, g2, g3 = (get(cb, "users", "stats:k") for _ in range(3))
    mid = stats(cb, "users")
    delta = {k: mid[k] - before[k] for k in ("near_hits", "redis_hits", "misses")}
    check("STATS: a GET of an absent key counts a miss, then redis 1 and near 2",
          delta == {"near_hits": 2, "redis_hits": 1, "misses": 1}
          and [g["source"] for g in (g1, g2, g3)] == [b"redis", b"near", b"near"],
          repr((delta, g1, g2, g3)))
    check("STATS: the entry is counted", mid["entries"] == before["entries"] + 1
          and mid["bytes"] > before["bytes"], repr((before, mid)))
    gets = mid["near_hits"] + mid["redis_hits"] + mid["misses"]
    check("STATS: near_hit_ratio is near_hits over GETs",
          abs(float(mid["near_hit_ratio"]) - mid["near_hits"] / gets) < 1e-6, repr(mid))
    cset(ca, "users", "stats:k", "changed")
    time.sleep(SETTLE)
    after = stats(cb, "users")
    check("STATS: a write on a counts an invalidation on b and drops the entry",
          after["invalidations"] == mid["invalidations"] + 1
          and after["entries"] == mid["entries"] - 1, repr((mid, after)))
    every = [as_map(s) for s in cb.execute_command("CACHE", "STATS")]
    check("STATS without a namespace: one map per namespace, in config order",
          [s["namespace"] for s in every] == [b"users", b"tiny", b"direct", b"small", b"brief"],
          repr(every))
    check("STATS maps have the documented fields",
          set(every[0]) == {"namespace", "near_hits", "redis_hits", "misses", "near_hit_ratio",
                            "evictions", "invalidations", "fills_refused", "entries", "bytes",
                            "max_bytes"}, repr(sorted(every[0])))

    m = metrics(http_b)
    s_users, s_tiny, s_direct = stats(cb, "users"), stats(cb, "tiny"), stats(cb, "direct")
    pairs = [("baton_cache_near_hits_total", "users", s_users["near_hits"]),
             ("baton_cache_redis_hits_total", "users", s_users["redis_hits"]),
             ("baton_cache_redis_misses_total", "users", s_users["misses"]),
             ("baton_cache_invalidations_total", "users", s_users["invalidations"]),
             ("baton_cache_near_entries", "users", s_users["entries"]),
             ("baton_cache_near_bytes", "users", s_users["bytes"]),
             ("baton_cache_evictions_total", "tiny", s_tiny["evictions"]),
             ("baton_cache_redis_hits_total", "direct", s_direct["redis_hits"])]
    wrong = [(name, ns, m.get(f'{name}{{namespace="{ns}"}}'), want) for name, ns, want in pairs
             if m.get(f'{name}{{namespace="{ns}"}}') != want]
    check("/metrics of b: baton_cache_*{namespace=...} equal CACHE STATS", wrong == [],
          repr(wrong))
    check("/metrics of b: near hits of users counted", m.get(
        'baton_cache_near_hits_total{namespace="users"}', 0) > 0)
    check("/metrics of b: baton_cache_following 1", m.get("baton_cache_following") == 1)
    check("/metrics of a: its own figures (its near hits of users are not b's)",
          metrics(http_a).get('baton_cache_near_hits_total{namespace="users"}')
          == stats(ca, "users")["near_hits"] != s_users["near_hits"])


def subscription_killed():
    for round_ in range(1, 4):
        key = f"sub:{round_}"
        cset(ca, "users", key, "before")
        warm(key, cb)
        killed = raw.client_kill_filter(_type="pubsub")
        cset(ca, "users", key, "after")  # b may not hear this one
        began = time.monotonic()
        got = get(cb, "users", key)
        while got["value"] != b"after" and time.monotonic() - began < 2.0:
            time.sleep(0.05)
            got = get(cb, "users", key)
        took = time.monotonic() - began
        later = []
        for _ in range(10):
            time.sleep(0.02)
            later.append(get(cb, "users", key))
        check(f"subscription killed ({killed} pubsub connections), round {round_}: b answers the "
              f"value written meanwhile (after {took:.3f} s) and keeps answering it",
              got["value"] == b"after" and all(g["value"] == b"after" for g in later),
              repr((got, [g["value"] for g in later if g["value"] != b"after"])))
        until("b to follow the channel again", lambda: following(http_b), limit=5)
        warm(key, cb)
        cset(ca, "users", key, "again")
        time.sleep(SETTLE)
        got = get(cb, "users", key)
        check(f"... round {round_}: once back, b caches again and hears invalidations",
              got["value"] == b"again", repr(got))


def subscription_silent():
    """Redis stopped (SIGSTOP): b's event connection stops answering its PINGs; it is noticed
    within dead_connection_ms (600), and what b holds is then answered only as degraded."""
    cset(ca, "users", "silent:k", "held")
    warm("silent:k", cb)
    redis_proc = procs[0]
    os.kill(redis_proc.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        noticed = until("b to notice the silent subscription", lambda: not following(http_b),
                        limit=5)
        took = time.monotonic() - began
        check(f"a silent subscription is noticed (following 0 after {took:.2f} s, "
              "dead_connection_ms 600)", noticed and took < 2.0, f"{took:.2f} s")
        began = time.monotonic()
        got = get(cb, "users", "silent:k")
        took = time.monotonic() - began
        check("... and then b's GET of a key it holds is answered degraded, promptly",
              got is not None and got["value"] == b"held" and got["degraded"] == 1
              and got["source"] == b"near" and took < 3, f"{got!r} {took:.2f} s")
    finally:
        os.kill(redis_proc.pid, signal.SIGCONT)
    until("b, a and c to follow again",
          lambda: following(http_b) and following(http_a) and following(http_c), limit=10)
    until("b to reach Redis", lambda: cb.info("redis").get("redis_reachable") == 1, limit=10)
    got = until("a GET not degraded",
                lambda: (lambda g: g if g["degraded"] == 0 else None)(get(cb, "users", "silent:k")),
                limit=5)
    check("after SIGCONT: b answers from Redis again, not degraded",
          got["value"] == b"held" and got["degraded"] == 0, repr(got))


def redis_down():
    cset(ca, "users", "down:k", "kept")
    warm("down:k", cb)
    cset(ca, "users", "down:short", "brief", "TTL", "1500")
    short_set = time.monotonic()
    warm("down:short", cb)
    redis_proc = procs[0]
    redis_proc.kill()
    redis_proc.wait()
    # b's near cache is trusted until b has seen its subscription go (at once: its socket closes)
    until("b to see its subscription go", lambda: not following(http_b), limit=3)

    def timed(c, *args):
        began = time.monotonic()
        try:
            out = ("ok", c.execute_command(*args))
        except redis.ResponseError as e:
            out = ("error", str(e))
        return out, time.monotonic() - began

    (kind, reply), took = timed(cb, "CACHE", "GET", "users", "down:k")
    got = as_map(reply) if kind == "ok" else reply
    check("Redis down at once: b's GET of a key it holds answers it, degraded 1, source near",
          kind == "ok" and got["value"] == b"kept" and got["degraded"] == 1
          and got["source"] == b"near" and took < 3, f"{got!r} {took:.2f} s")
    (kind, err), took = timed(cb, "CACHE", "GET", "users", "down:uncached")
    check("Redis down: GET of a key not held answers UNAVAILABLE, under 3 s",
          kind == "error" and err.startswith("UNAVAILABLE") and took < 3, f"{err!r} {took:.2f} s")
    (kind, err), took = timed(ca, "CACHE", "SET", "users", "down:k", "new")
    check("Redis down: SET answers UNAVAILABLE or UNKNOWN, under 3 s",
          kind == "error" and (err.startswith("UNAVAILABLE") or err.startswith("UNKNOWN"))
          and took < 3, f"{err!r} {took:.2f} s")
    (kind, err), took = timed(ca, "CACHE", "DEL", "users", "down:k")
    check("Redis down: DEL answers UNAVAILABLE or UNKNOWN, under 3 s",
          kind == "error" and (err.startswith("UNAVAILABLE") or err.startswith("UNKNOWN"))
          and took < 3, f"{err!r} {took:.2f} s")
    (kind, err), took = timed(ca, "CACHE", "INVALIDATE", "users", "PATTERN", "down:*")
    check("Redis down: INVALIDATE PATTERN answers an error (UNAVAILABLE or UNKNOWN), under 3 s",
          kind == "error" and (err.startswith("UNAVAILABLE") or err.startswith("UNKNOWN"))
          and took < 3, f"{err!r} {took:.2f} s")
    time.sleep(1.0)  # the pool has given Redis up by now
    (kind, reply), took = timed(cb, "CACHE", "GET", "users", "down:k")
    got = as_map(reply) if kind == "ok" else reply
    check("Redis down for a second: b still answers the key it holds, degraded",
          kind == "ok" and got["value"] == b"kept" and got["degraded"] == 1
          and got["source"] == b"near" and 0 < got["ttl_ms"] <= 60000 and took < 3,
          f"{got!r} {took:.2f} s")
    time.sleep(max(0.0, short_set + 1.6 - time.monotonic()))
    (kind, err), took = timed(cb, "CACHE", "GET", "users", "down:short")
    check("Redis down: an entry b holds is not served past its Redis TTL (1500 ms): UNAVAILABLE",
          kind == "error" and err.startswith("UNAVAILABLE"), f"{err!r} {took:.2f} s")
    (kind, err), took = timed(cc, "CACHE", "GET", "users", "down:k")
    check("Redis down: c, which never read it, answers UNAVAILABLE",
          kind == "error" and err.startswith("UNAVAILABLE") and took < 3, f"{err!r} {took:.2f} s")
    check("Redis down: CACHE STATS still answers", stats(cb, "users")["namespace"] == b"users")
    check("Redis down: a, b and c answer PING",
          ca.ping() is True and cb.ping() is True and cc.ping() is True)


def bad_input():
    cases = [
        ("unknown namespace on GET", ["CACHE", "GET", "nope", "k"], "unknown cache namespace"),
        ("unknown namespace on SET", ["CACHE", "SET", "nope", "k", "v"],
         "unknown cache namespace"),
        ("unknown namespace on DEL", ["CACHE", "DEL", "nope", "k"], "unknown cache namespace"),
        ("unknown namespace on INVALIDATE", ["CACHE", "INVALIDATE", "nope", "PATTERN", "*"],
         "unknown cache namespace"),
        ("unknown namespace on STATS", ["CACHE", "STATS", "nope"], "unknown cache namespace"),
        ("a value over max_value_bytes (100)", ["CACHE", "SET", "small", "k", b"x" * 101],
         "max_value_bytes"),
        ("TTL 0", ["CACHE", "SET", "small", "k", "v", "TTL", "0"], "TTL"),
        ("TTL over max_ttl_ms", ["CACHE", "SET", "small", "k", "v", "TTL", "100001"], "max_ttl"),
        ("TTL negative", ["CACHE", "SET", "small", "k", "v", "TTL", "-5"], "TTL"),
        ("TTL not a number", ["CACHE", "SET", "small", "k", "v", "TTL", "soon"], "TTL"),
        ("TTL without a number", ["CACHE", "SET", "small", "k", "v", "TTL"], "syntax"),
        ("unknown SET option", ["CACHE", "SET", "small", "k", "v", "EX", "10"], "syntax"),
        ("wrong arity: GET without a key", ["CACHE", "GET", "users"], "wrong number"),
        ("wrong arity: GET with two keys", ["CACHE", "GET", "users", "a", "b"], "wrong number"),
        ("wrong arity: SET without a value", ["CACHE", "SET", "users", "k"], "wrong number"),
        ("wrong arity: DEL without a key", ["CACHE", "DEL", "users"], "wrong number"),
        ("wrong arity: DEL with two keys", ["CACHE", "DEL", "users", "a", "b"], "wrong number"),
        ("wrong arity: INVALIDATE without keys", ["CACHE", "INVALIDATE", "users"],
         "wrong number"),
        ("a key over max_key_length (512)", ["CACHE", "SET", "users", "k" * 513, "v"],
         "max_key_length"),
        ("a key over max_key_length on GET", ["CACHE", "GET", "users", "k" * 513],
         "max_key_length"),
        ("a key over max_key_length in INVALIDATE", ["CACHE", "INVALIDATE", "users", "a",
                                                     "k" * 513], "max_key_length"),
        ("an empty key", ["CACHE", "GET", "users", ""], "key"),
        ("an empty pattern", ["CACHE", "INVALIDATE", "users", "PATTERN", ""], "pattern"),
        ("unknown subcommand", ["CACHE", "FETCH", "users", "k"], "unknown subcommand"),
    ]
    for name, args, words in cases:
        err = error_of(ca, *args)
        check(f"bad input, {name}: ERR", err is not None and err.startswith("ERR ")
              and words.lower() in err.lower(), repr(err))
    check("bad input wrote nothing", raw.keys("baton:cache:small:*") == [])
    check("a value of exactly max_value_bytes is written, and TTL = max_ttl_ms is taken",
          cset(ca, "small", "k", b"y" * 100, "TTL", "100000") == b"OK"
          and get(cb, "small", "k")["value"] == b"y" * 100
          and 99000 < get(cb, "small", "k")["ttl_ms"] <= 100000)
    check("a key of exactly max_key_length works",
          cset(ca, "users", "k" * 512, "long") == b"OK"
          and get(cb, "users", "k" * 512)["value"] == b"long")
    check("the daemon answers PING after the bad input", ca.ping() is True)


began = time.monotonic()
try:
    redis_sock = start_redis(work, procs)
    raw = redis.Redis(unix_socket_path=redis_sock, socket_timeout=10)
    http_a, http_b, http_c = free_port(), free_port(), free_port()
    _, sock_a, _ = start_batond(batond, work, procs, "a", redis_sock, http_a, CONFIG)
    _, sock_b, _ = start_batond(batond, work, procs, "b", redis_sock, http_b, CONFIG)
    _, sock_c, _ = start_batond(batond, work, procs, "c", redis_sock, http_c, CONFIG)
    ca, cb, cc = client_for(sock_a), client_for(sock_b), client_for(sock_c)
    until("a, b and c to follow the cache channel",
          lambda: following(http_a) and following(http_b) and following(http_c))
    for name, part in [("read through", read_through), ("lifetimes", lifetimes),
                       ("invalidation", invalidation_rounds),
                       ("DEL and INVALIDATE", deletes), ("under load", under_load),
                       ("byte budget", byte_budget), ("no near cache", no_near_cache),
                       ("STATS and /metrics", counters), ("bad input", bad_input),
                       ("subscription killed", subscription_killed),
                       ("silent subscription", subscription_silent),
                       ("Redis down", redis_down)]:
        check.section(name, part)
finally:
    stop_all(procs)
    shutil.rmtree(work, ignore_errors=True)

print(f"     ({time.monotonic() - began:.1f} s)")
sys.exit(check.exit_code())
