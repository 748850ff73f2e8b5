#!/usr/bin/python3
"""STATE through Debian's python3-redis as a real client of batond, against a private
redis-server: SET/GET round trips (binary values, versions, TTLs, a namespace's default TTL and
value limit), compare-and-set between clients and under contention (IFVERSION retry loops,
racing IFABSENT writers), MSET/MGET/MDEL of 1000 keys, SCAN a page at a time (a prefix, glob
characters taken literally, nothing from another prefix or namespace), COUNT and CLEAR, a
namespace encrypted at rest (no plaintext in Redis; a ciphertext copied to another key does not
open), RESTORE, bad input answered with clear errors, RESP3's map and null, and a Redis outage
answered promptly. Usage: state_python_test.py BATOND"""
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from local_fleet import (Checks, client_for, error_of, free_port, start_batond,  # noqa: E402
                         start_redis, stop_all)

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-state-py-")
procs = []
check = Checks()
KEK_ID = "st1"
BINARY = b"\x00bin\xff\x00ary\xfe\r\n" + bytes(range(256))  # 268 bytes: over carts' 100


def as_entry(reply):
    """GET's entry as a dict {"value", "version", "ttl_ms"} from RESP2's flat array (or RESP3's
    map); None stays None."""
    if reply is None:
        return None
    if isinstance(reply, dict):
        items = reply.items()
    else:
        items = zip(reply[::2], reply[1::2])
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in items}


def scan_all(c, ns, prefix, count=50, limit=10000):
    """Every key a full SCAN of `ns` with `prefix` pages through; (set of keys, pages, repeats)."""
    keys, pages, seen = set(), 0, 0
    cursor = b"0"
    while True:
        args = ["STATE", "SCAN", ns] + ([prefix] if prefix is not None else [])
        args += ["CURSOR", cursor, "COUNT", str(count)]
        cursor, page = c.execute_command(*args)
        pages += 1
        seen += len(page)
        keys.update(page)
        if cursor == b"0" or pages >= limit:
            return keys, pages, seen - len(keys)


# -- RESP3 on a raw socket (python3-redis before 5.0 speaks RESP2 only) -------------------------

class Resp3:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+",):
            return rest
        if kind == b"-":
            return ("error", rest)
        if kind in (b":", b"("):
            return int(rest)
        if kind == b"_":
            return None
        if kind == b"#":
            return rest == b"t"
        if kind == b",":
            return float(rest)
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if kind in (b"%", b"|"):
            return {self.read(): self.read() for _ in range(int(rest))}
        raise ValueError(f"unknown RESP3 type {line!r}")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()


# -- the parts ------------------------------------------------------------------------------

def round_trips():
    v1 = c.execute_command("STATE", "SET", "orders", "rt:bin", BINARY)
    got = as_entry(c.execute_command("STATE", "GET", "orders", "rt:bin"))
    check("SET answers a positive version", isinstance(v1, int) and v1 > 0, repr(v1))
    check("GET round-trips a binary value (\\x00, \\xff, CRLF)",
          got is not None and got["value"] == BINARY, repr(got)[:200])
    check("GET: version is SET's, ttl_ms -1 without TTL",
          got is not None and got["version"] == v1 and got["ttl_ms"] == -1, repr(got)[:200])
    v2 = c.execute_command("STATE", "SET", "orders", "rt:bin", b"second\x00")
    v3 = c.execute_command("STATE", "SET", "orders", "rt:bin", b"third\xff")
    check("each SET's version is higher", v1 < v2 < v3, repr((v1, v2, v3)))
    got = as_entry(c.execute_command("STATE", "GET", "orders", "rt:bin"))
    check("GET shows the last SET", got["value"] == b"third\xff" and got["version"] == v3,
          repr(got))
    check("GET of a missing key is nil",
          c.execute_command("STATE", "GET", "orders", "rt:missing") is None)
    check("EXISTS 1 / 0", c.execute_command("STATE", "EXISTS", "orders", "rt:bin") == 1
          and c.execute_command("STATE", "EXISTS", "orders", "rt:missing") == 0)
    check("TTL -1 without expiry, -2 without the entry",
          c.execute_command("STATE", "TTL", "orders", "rt:bin") == -1
          and c.execute_command("STATE", "TTL", "orders", "rt:missing") == -2)

    c.execute_command("STATE", "SET", "orders", "rt:ttl", "x", "TTL", "5000")
    got = as_entry(c.execute_command("STATE", "GET", "orders", "rt:ttl"))
    ttl = c.execute_command("STATE", "TTL", "orders", "rt:ttl")
    check("SET TTL 5000: GET's ttl_ms is in (4000, 5000]", 4000 < got["ttl_ms"] <= 5000, repr(got))
    check("SET TTL 5000: STATE TTL is in (4000, 5000]", 4000 < ttl <= 5000, repr(ttl))
    c.execute_command("STATE", "SET", "orders", "rt:ttl", "y")
    check("SET without TTL in a namespace without default_ttl_ms: no expiry",
          c.execute_command("STATE", "TTL", "orders", "rt:ttl") == -1)

    c.execute_command("STATE", "SET", "carts", "rt:cart", "apples")
    got = as_entry(c.execute_command("STATE", "GET", "carts", "rt:cart"))
    check("carts' default_ttl_ms 60000 applies to SET", 55000 < got["ttl_ms"] <= 60000, repr(got))
    c.execute_command("STATE", "MSET", "carts", "rt:cart2", "a", "rt:cart3", "b")
    ttl = c.execute_command("STATE", "TTL", "carts", "rt:cart3")
    check("carts' default_ttl_ms 60000 applies to MSET", 55000 < ttl <= 60000, repr(ttl))
    c.execute_command("STATE", "SET", "carts", "rt:cart", "pears", "TTL", "3000")
    ttl = c.execute_command("STATE", "TTL", "carts", "rt:cart")
    check("an explicit TTL overrides the default", 2000 < ttl <= 3000, repr(ttl))

    exactly = b"\xff" * 100
    check("a value of exactly max_value_bytes (100) is written",
          isinstance(c.execute_command("STATE", "SET", "carts", "rt:full", exactly), int)
          and as_entry(c.execute_command("STATE", "GET", "carts", "rt:full"))["value"] == exactly)
    err = error_of(c, "STATE", "SET", "carts", "rt:big", b"x" * 101)
    check("a value over max_value_bytes: ERR naming the limit",
          err is not None and err.startswith("ERR ") and "max_value_bytes" in err, repr(err))
    check("... and nothing is written",
          c.execute_command("STATE", "EXISTS", "carts", "rt:big") == 0
          and c.execute_command("STATE", "GET", "carts", "rt:big") is None)
    err = error_of(c, "STATE", "MSET", "carts", "rt:ok", "small", "rt:big2", b"y" * 101)
    check("MSET with one value over the limit: ERR, and none of its keys written",
          err is not None and err.startswith("ERR ")
          and c.execute_command("STATE", "MGET", "carts", "rt:ok", "rt:big2") == [None, None],
          repr(err))

    got = as_entry(c.execute_command("STATE", "GETDEL", "orders", "rt:ttl"))
    check("GETDEL answers the entry and deletes it",
          got is not None and got["value"] == b"y"
          and c.execute_command("STATE", "EXISTS", "orders", "rt:ttl") == 0, repr(got))
    err = error_of(c, "STATE", "DEL", "orders", "rt:bin", "IFVERSION", str(v2))
    check("DEL IFVERSION of an old version: CONFLICT naming the current one, not deleted",
          err is not None and err.startswith("CONFLICT") and str(v3) in err
          and c.execute_command("STATE", "EXISTS", "orders", "rt:bin") == 1, repr(err))
    check("DEL IFVERSION of the current version deletes",
          c.execute_command("STATE", "DEL", "orders", "rt:bin", "IFVERSION", str(v3)) == 1
          and c.execute_command("STATE", "EXISTS", "orders", "rt:bin") == 0)
    check("DEL of a missing key answers 0",
          c.execute_command("STATE", "DEL", "orders", "rt:bin") == 0)
    v4 = c.execute_command("STATE", "SET", "orders", "rt:bin", "again")
    check("a key deleted and written again does not go back to an old version", v4 > v3,
          repr((v3, v4)))


def compare_and_set():
    base = c.execute_command("STATE", "SET", "orders", "cas:doc", "v0")
    a, b = client_for(sock), client_for(sock)
    seen_a = as_entry(a.execute_command("STATE", "GET", "orders", "cas:doc"))
    seen_b = as_entry(b.execute_command("STATE", "GET", "orders", "cas:doc"))
    check("two clients read the same version",
          seen_a["version"] == seen_b["version"] == base, repr((seen_a, seen_b)))
    won = a.execute_command("STATE", "SET", "orders", "cas:doc", "from-a",
                            "IFVERSION", seen_a["version"])
    err = error_of(b, "STATE", "SET", "orders", "cas:doc", "from-b", "IFVERSION", seen_b["version"])
    check("the first IFVERSION wins with a higher version", isinstance(won, int) and won > base,
          repr(won))
    check("the second gets CONFLICT naming the current version",
          err is not None and err.startswith("CONFLICT ") and str(won) in err, repr(err))
    got = as_entry(c.execute_command("STATE", "GET", "orders", "cas:doc"))
    check("the winner's value stays", got["value"] == b"from-a" and got["version"] == won,
          repr(got))
    err = error_of(c, "STATE", "SET", "orders", "cas:new", "x", "IFVERSION", "0")
    check("IFVERSION 0 writes an absent key", err is None, repr(err))
    err = error_of(c, "STATE", "SET", "orders", "cas:new", "y", "IFVERSION", "0")
    check("IFVERSION 0 on a present key: CONFLICT", err is not None and err.startswith("CONFLICT"),
          repr(err))
    err = error_of(c, "STATE", "SET", "orders", "cas:none", "y", "IFVERSION", str(base))
    check("IFVERSION on an absent key: CONFLICT, nothing written",
          err is not None and err.startswith("CONFLICT")
          and c.execute_command("STATE", "EXISTS", "orders", "cas:none") == 0, repr(err))

    # A counter four threads increment 50 times each, GET then SET IFVERSION, retrying on
    # CONFLICT: no increment may be lost.
    c.execute_command("STATE", "SET", "orders", "cas:counter", "0")
    conflicts = [0] * 4
    errors = []
    start = threading.Barrier(4)

    def worker(n):
        mine = client_for(sock)
        try:
            start.wait()
            done = 0
            while done < 50:
                e = as_entry(mine.execute_command("STATE", "GET", "orders", "cas:counter"))
                try:
                    mine.execute_command("STATE", "SET", "orders", "cas:counter",
                                         str(int(e["value"]) + 1), "IFVERSION", e["version"])
                    done += 1
                except redis.ResponseError as err:
                    if not str(err).startswith("CONFLICT"):
                        raise
                    conflicts[n] += 1
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    final = as_entry(c.execute_command("STATE", "GET", "orders", "cas:counter"))
    print(f"     (counter: {sum(conflicts)} conflicts retried, "
          f"{time.monotonic() - began:.2f} s)")
    check("4 threads x 50 IFVERSION increments end at exactly 200",
          not errors and final["value"] == b"200", repr((final, errors)))


def if_absent_race():
    writers = 8
    for round_ in range(5):
        key = f"race:{round_}"
        results = [None] * writers
        start = threading.Barrier(writers)
        clients = [client_for(sock) for _ in range(writers)]
        for cl in clients:
            cl.ping()  # connected before the race starts

        def writer(n):
            start.wait()
            try:
                results[n] = ("ok", clients[n].execute_command(
                    "STATE", "SET", "orders", key, f"writer-{n}", "IFABSENT"))
            except redis.ResponseError as e:
                results[n] = ("error", str(e))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        wins = [(n, r[1]) for n, r in enumerate(results) if r and r[0] == "ok"]
        losses = [r[1] for r in results if r and r[0] == "error"]
        got = as_entry(c.execute_command("STATE", "GET", "orders", key))
        ok = (len(wins) == 1 and len(losses) == writers - 1
              and all(m.startswith("CONFLICT") and str(wins[0][1]) in m for m in losses)
              and got["value"] == f"writer-{wins[0][0]}".encode()
              and got["version"] == wins[0][1])
        check(f"IFABSENT race {round_ + 1}/5: one of {writers} wins, the others CONFLICT naming "
              "its version", ok, repr((results, got)))


def batches():
    keys = [f"batch:{i:04d}" for i in range(1000)]
    values = [b"v\x00%d\xff" % i + b"." * (i % 37) for i in range(1000)]
    args = []
    for k, v in zip(keys, values):
        args += [k, v]
    versions = c.execute_command("STATE", "MSET", "orders", *args)
    check("MSET of 1000 keys answers 1000 positive versions",
          len(versions) == 1000 and all(isinstance(v, int) and v > 0 for v in versions),
          repr(versions[:3]))
    got = c.execute_command("STATE", "MGET", "orders", *keys)
    entries = [as_entry(e) for e in got]
    check("MGET of the 1000 answers every value",
          len(entries) == 1000 and all(e is not None and e["value"] == v
                                       for e, v in zip(entries, values)),
          repr(entries[:2]))
    check("MGET's versions are MSET's",
          all(e["version"] == v for e, v in zip(entries, versions)))
    mixed = c.execute_command("STATE", "MGET", "orders", keys[0], "batch:absent", keys[999])
    check("MGET answers nil in place for a missing key",
          len(mixed) == 3 and mixed[1] is None and as_entry(mixed[0])["value"] == values[0]
          and as_entry(mixed[2])["value"] == values[999], repr(mixed)[:200])
    err = error_of(c, "STATE", "MGET", "orders", *(keys + ["batch:1000"]))
    check("1001 keys in one MGET: ERR (state.max_batch_keys)",
          err is not None and err.startswith("ERR ") and "max_batch_keys" in err, repr(err))
    check("MDEL of the 1000 answers 1000", c.execute_command("STATE", "MDEL", "orders", *keys)
          == 1000)
    check("after MDEL, MGET answers 1000 nils",
          c.execute_command("STATE", "MGET", "orders", *keys) == [None] * 1000)
    check("MDEL again answers 0", c.execute_command("STATE", "MDEL", "orders", *keys[:10]) == 0)


def scanning():
    wanted = {f"scan:user:{i:04d}".encode() for i in range(1000)}
    args = []
    for k in sorted(wanted):
        args += [k, "u"]
    c.execute_command("STATE", "MSET", "orders", *args)
    others = []
    for i in range(300):
        others += [f"scan:other:{i}", "o"]
    others += ["scan:userX1", "d", "scan:user", "d", "scan:use", "d", "Scan:user:0001", "d"]
    c.execute_command("STATE", "MSET", "orders", *others)
    elsewhere = []
    for i in range(100):
        elsewhere += [f"scan:user:c{i}", "c"]
    c.execute_command("STATE", "MSET", "carts", *elsewhere)
    c.execute_command("STATE", "MSET", "vault", "scan:user:v1", "v")
    # A raw Redis key under orders' prefix but not an entry's shape must not surface either.
    raw.set("baton:state:orders:scan:user:raw", "x")

    found, pages, repeats = scan_all(c, "orders", "scan:user:", count=50)
    print(f"     (SCAN: {pages} pages, {repeats} repeats)")
    check("SCAN prefix COUNT 50 finds every key of the prefix", wanted <= found,
          f"missing {sorted(wanted - found)[:5]}")
    check("SCAN finds nothing else: no other prefix, no other namespace",
          found <= wanted, f"extra {sorted(found - wanted)[:10]}")
    check("SCAN pages (COUNT 50 over 1300 keys is more than a page)", pages > 1, repr(pages))
    found, _, _ = scan_all(c, "orders", None, count=500)
    check("SCAN without a prefix lists the namespace's keys, none of carts' or vault's",
          wanted <= found and not any(k.startswith(b"scan:user:c") or k == b"scan:user:v1"
                                      for k in found), repr(len(found)))
    cursor, page = c.execute_command("STATE", "SCAN", "orders", "nope:", "COUNT", "10000")
    check("SCAN of a prefix nothing has: cursor 0 and no keys (a single big page)",
          page == [] and cursor == b"0", repr((cursor, page)))

    # Glob characters in the prefix are literal.
    glob_keys = ["g*1", "g*2", "gx1", "g?1", "gy1", "g[ab]1", "ga1", "gb1", "g]1", "g\\1", "gz"]
    args = []
    for k in glob_keys:
        args += ["glob:" + k, "g"]
    c.execute_command("STATE", "MSET", "orders", *args)
    for prefix, expected in [("g*", {"g*1", "g*2"}), ("g?", {"g?1"}), ("g[", {"g[ab]1"}),
                             ("g[ab]", {"g[ab]1"}), ("g]", {"g]1"}), ("g\\", {"g\\1"}),
                             ("g", set(glob_keys))]:
        found, _, _ = scan_all(c, "orders", "glob:" + prefix, count=1000)
        expected = {("glob:" + k).encode() for k in expected}
        check(f"SCAN prefix {prefix!r} matches literally", found == expected,
              repr(sorted(found)))


def sealed():
    plain = b"4111-1111-1111-1111 card\x00\xffSECRET-PLAINTEXT"
    version = c.execute_command("STATE", "SET", "vault", "card", plain)
    got = as_entry(c.execute_command("STATE", "GET", "vault", "card"))
    check("vault: the value reads back equal", got is not None and got["value"] == plain
          and got["version"] == version, repr(got))
    fields = raw.hgetall("baton:state:vault:{card}")
    check("vault: the Redis hash has ver, kek, wkey and ct",
          all(f in fields for f in (b"ver", b"kek", b"wkey", b"ct")) and fields[b"ct"]
          and fields[b"kek"] == KEK_ID.encode() and int(fields[b"ver"]) == version,
          repr(sorted(fields)))
    check("vault: v is empty", fields.get(b"v", b"") == b"", repr(fields.get(b"v")))
    leaks = [f for f, v in fields.items() if plain in v or b"SECRET-PLAINTEXT" in v
             or b"4111-1111" in v]
    check("vault: no field holds the plaintext", not leaks, repr(leaks))
    dump = raw.dump("baton:state:vault:{card}") or b""
    check("vault: not even the serialized key holds it", b"SECRET-PLAINTEXT" not in dump)
    c.execute_command("STATE", "SET", "orders", "card", plain)
    check("the same value in a plain namespace is stored plain (the check above can fail)",
          raw.hget("baton:state:orders:{card}", "v") == plain)

    c.execute_command("STATE", "MSET", "vault", "m1", b"first-sealed", "m2", b"second-sealed")
    got = [as_entry(e) for e in c.execute_command("STATE", "MGET", "vault", "m1", "m2")]
    check("vault: MSET/MGET round trip", [e["value"] for e in got]
          == [b"first-sealed", b"second-sealed"], repr(got))
    check("vault: MSET's values are sealed too",
          raw.hget("baton:state:vault:{m1}", "v") == b""
          and b"first-sealed" not in b"".join(raw.hgetall("baton:state:vault:{m1}").values()))

    # A ciphertext copied to another key must not open as that key's value.
    raw.hset("baton:state:vault:{stolen}", mapping=fields)
    err = error_of(c, "STATE", "GET", "vault", "stolen")
    check("vault: a sealed value copied to another key does not open (ERR)",
          err is not None and err.startswith("ERR") and "SECRET-PLAINTEXT" not in err, repr(err))
    check("... and the daemon still serves the original",
          as_entry(c.execute_command("STATE", "GET", "vault", "card"))["value"] == plain)


def restoring():
    n = c.execute_command("STATE", "RESTORE", "orders", "rs:a", b"alpha\x00", "42", "0",
                          "rs:b", "beta", "7", "30000")
    check("RESTORE answers the entries written", n == 2, repr(n))
    a = as_entry(c.execute_command("STATE", "GET", "orders", "rs:a"))
    b = as_entry(c.execute_command("STATE", "GET", "orders", "rs:b"))
    check("RESTORE: exact version, ttl 0 is no expiry",
          a == {"value": b"alpha\x00", "version": 42, "ttl_ms": -1}, repr(a))
    check("RESTORE: exact version and ttl_ms", b["value"] == b"beta" and b["version"] == 7
          and 25000 < b["ttl_ms"] <= 30000, repr(b))
    err = error_of(c, "STATE", "SET", "orders", "rs:a", "x", "IFVERSION", "41")
    check("IFVERSION against a restored version: CONFLICT naming 42",
          err is not None and err.startswith("CONFLICT") and "42" in err, repr(err))
    check("IFVERSION 42 after RESTORE writes",
          c.execute_command("STATE", "SET", "orders", "rs:a", "x", "IFVERSION", "42") > 42)
    check("RESTORE into the encrypted namespace: exact version, sealed in Redis",
          c.execute_command("STATE", "RESTORE", "vault", "rs:v", b"restored-plain", "5", "0") == 1
          and as_entry(c.execute_command("STATE", "GET", "vault", "rs:v"))
          == {"value": b"restored-plain", "version": 5, "ttl_ms": -1}
          and raw.hget("baton:state:vault:{rs:v}", "v") == b""
          and b"restored-plain" not in b"".join(raw.hgetall("baton:state:vault:{rs:v}").values()))
    err = error_of(c, "STATE", "RESTORE", "orders", "rs:c", "v", "0", "0")
    check("RESTORE version 0: ERR", err is not None and err.startswith("ERR "), repr(err))
    err = error_of(c, "STATE", "RESTORE", "orders", "rs:c", "v", "3", "0", "rs:d")
    check("RESTORE with a partial entry: ERR, nothing written",
          err is not None and err.startswith("ERR ")
          and c.execute_command("STATE", "EXISTS", "orders", "rs:c") == 0, repr(err))


def bad_input():
    cases = [
        ("unknown namespace", ["STATE", "GET", "nope", "k"], "unknown state namespace"),
        ("unknown namespace on SET", ["STATE", "SET", "nope", "k", "v"], "unknown state namespace"),
        ("wrong arity: GET without a key", ["STATE", "GET", "orders"], "wrong number"),
        ("wrong arity: SET without a value", ["STATE", "SET", "orders", "k"], "wrong number"),
        ("wrong arity: GET with two keys", ["STATE", "GET", "orders", "a", "b"], "wrong number"),
        ("wrong arity: MSET with a key and no value", ["STATE", "MSET", "orders", "a", "1", "b"],
         "wrong number"),
        ("IFVERSION not a number", ["STATE", "SET", "orders", "bad:k", "v", "IFVERSION", "abc"],
         "IFVERSION"),
        ("IFVERSION negative", ["STATE", "SET", "orders", "bad:k", "v", "IFVERSION", "-1"],
         "IFVERSION"),
        ("IFVERSION without a version", ["STATE", "SET", "orders", "bad:k", "v", "IFVERSION"],
         "syntax"),
        ("IFABSENT and IFVERSION together",
         ["STATE", "SET", "orders", "bad:k", "v", "IFABSENT", "IFVERSION", "1"], "syntax"),
        ("TTL 0", ["STATE", "SET", "orders", "bad:k", "v", "TTL", "0"], "TTL"),
        ("TTL not a number", ["STATE", "SET", "orders", "bad:k", "v", "TTL", "soon"], "TTL"),
        ("unknown SET option", ["STATE", "SET", "orders", "bad:k", "v", "NX"], "syntax"),
        ("DEL IFVERSION not a number", ["STATE", "DEL", "orders", "bad:k", "IFVERSION", "x"],
         "IFVERSION"),
        ("SCAN junk cursor", ["STATE", "SCAN", "orders", "CURSOR", "junk"], "cursor"),
        ("SCAN negative cursor", ["STATE", "SCAN", "orders", "CURSOR", "-1"], "cursor"),
        ("SCAN COUNT 0", ["STATE", "SCAN", "orders", "COUNT", "0"], "COUNT"),
        ("SCAN COUNT junk", ["STATE", "SCAN", "orders", "p", "COUNT", "many"], "COUNT"),
        ("SCAN unknown option", ["STATE", "SCAN", "orders", "MATCH", "*"], "syntax"),
        ("duplicate key in MSET", ["STATE", "MSET", "orders", "bad:d", "1", "bad:e", "2",
                                   "bad:d", "3"], "twice"),
        ("empty key in GET", ["STATE", "GET", "orders", ""], "key"),
        ("empty key in SET", ["STATE", "SET", "orders", "", "v"], "key"),
        ("empty key in MGET", ["STATE", "MGET", "orders", "a", ""], "key"),
        ("empty key in MSET", ["STATE", "MSET", "orders", "bad:f", "1", "", "2"], "key"),
        ("a key over max_key_length", ["STATE", "SET", "orders", "k" * 513, "v"],
         "max_key_length"),
    ]
    for name, args, words in cases:
        err = error_of(c, *args)
        check(f"bad input, {name}: ERR", err is not None and err.startswith("ERR ")
              and words.lower() in err.lower(), repr(err))
    check("bad input wrote nothing",
          c.execute_command("STATE", "MGET", "orders", "bad:k", "bad:d", "bad:e", "bad:f")
          == [None] * 4)
    check("the daemon answers PING after the bad input", c.ping() is True)
    check("... and STATE still works", c.execute_command("STATE", "EXISTS", "orders", "cas:doc")
          == 1)


def resp3():
    major_minor = tuple(int(p) for p in redis.__version__.split(".")[:2])
    if major_minor >= (5, 0):
        r3 = redis.Redis(unix_socket_path=sock, protocol=3, socket_timeout=10)
        version = r3.execute_command("STATE", "SET", "orders", "r3:py", b"\x00three")
        got = as_entry(r3.execute_command("STATE", "GET", "orders", "r3:py"))
        check("redis-py protocol=3: GET round trip",
              got == {"value": b"\x00three", "version": version, "ttl_ms": -1}, repr(got))
        check("redis-py protocol=3: missing is None",
              r3.execute_command("STATE", "GET", "orders", "r3:none") is None)
    else:
        print(f"skip  redis-py protocol=3 (python3-redis {redis.__version__} speaks RESP2 "
              "only); RESP3 checked on a raw socket instead")
    conn = Resp3(sock)
    hello = conn.call("HELLO", "3")
    check("raw RESP3: HELLO 3 answers a map with proto 3",
          isinstance(hello, dict) and hello.get(b"proto") == 3, repr(hello)[:200])
    version = conn.call("STATE", "SET", "orders", "r3:raw", b"\xffraw\x00")
    got = conn.call("STATE", "GET", "orders", "r3:raw")
    check("raw RESP3: STATE GET answers a map {value, version, ttl_ms}",
          got == {b"value": b"\xffraw\x00", b"version": version, b"ttl_ms": -1}, repr(got))
    check("raw RESP3: STATE GET of a missing key answers null",
          conn.call("STATE", "GET", "orders", "r3:none") is None)
    many = conn.call("STATE", "MGET", "orders", "r3:raw", "r3:none")
    check("raw RESP3: MGET answers [map, null]",
          isinstance(many, list) and len(many) == 2 and isinstance(many[0], dict)
          and many[1] is None, repr(many))
    err = conn.call("STATE", "SET", "orders", "r3:raw", "x", "IFABSENT")
    check("raw RESP3: CONFLICT is an error reply",
          isinstance(err, tuple) and err[1].startswith(b"CONFLICT"), repr(err))
    conn.sock.close()


def count_and_clear():
    c.execute_command("STATE", "CLEAR", "orders")
    check("after CLEAR, COUNT orders is 0", c.execute_command("STATE", "COUNT", "orders") == 0)
    carts_before = c.execute_command("STATE", "COUNT", "carts")
    vault_before = c.execute_command("STATE", "COUNT", "vault")
    args = []
    for i in range(250):
        args += [f"cnt:{i}", "x"]
    c.execute_command("STATE", "MSET", "orders", *args)
    c.execute_command("STATE", "SET", "orders", "cnt:*[?", "glob-looking")
    check("COUNT equals the number of keys (251)",
          c.execute_command("STATE", "COUNT", "orders") == 251)
    check("COUNT of carts and vault: their own keys",
          carts_before > 100 and vault_before >= 4, repr((carts_before, vault_before)))
    deleted = c.execute_command("STATE", "CLEAR", "orders")
    check("CLEAR answers the number deleted (251)", deleted == 251, repr(deleted))
    check("COUNT after CLEAR is 0", c.execute_command("STATE", "COUNT", "orders") == 0)
    left = list(raw.scan_iter(match="baton:state:orders:{*", count=1000))
    check("no entry of orders is left in Redis", left == [], repr(left[:5]))
    check("CLEAR left the raw non-entry key under orders' prefix alone",
          raw.exists("baton:state:orders:scan:user:raw") == 1)
    check("other namespaces untouched by CLEAR",
          c.execute_command("STATE", "COUNT", "carts") == carts_before
          and c.execute_command("STATE", "COUNT", "vault") == vault_before
          and as_entry(c.execute_command("STATE", "GET", "vault", "m1"))["value"]
          == b"first-sealed")
    check("CLEAR of an empty namespace answers 0",
          c.execute_command("STATE", "CLEAR", "orders") == 0)


def redis_down():
    redis_proc = procs[0]
    redis_proc.kill()
    redis_proc.wait()
    fresh = client_for(sock)
    began = time.monotonic()
    err = error_of(fresh, "STATE", "SET", "orders", "down:k", "v")
    took = time.monotonic() - began
    check("Redis down: SET answers UNAVAILABLE or UNKNOWN",
          err is not None and (err.startswith("UNAVAILABLE") or err.startswith("UNKNOWN")),
          repr(err))
    check("Redis down: ... within 5 s", took < 5, f"{took:.2f} s")
    began = time.monotonic()
    err = error_of(fresh, "STATE", "GET", "orders", "down:k")
    took = time.monotonic() - began
    check("Redis down: GET answers UNAVAILABLE within 5 s",
          err is not None and err.startswith("UNAVAILABLE") and took < 5, f"{err!r} {took:.2f} s")
    for args in (["STATE", "MGET", "orders", "a", "b"], ["STATE", "EXISTS", "orders", "a"],
                 ["STATE", "SCAN", "orders"], ["STATE", "COUNT", "orders"]):
        err = error_of(fresh, *args)
        check(f"Redis down: {' '.join(args[:2])} answers UNAVAILABLE",
              err is not None and err.startswith("UNAVAILABLE"), repr(err))
    check("Redis down: the daemon still answers PING", fresh.ping() is True
          and client_for(sock).ping() is True)


began = time.monotonic()
try:
    kek_file = os.path.join(work, "state.kek")
    with open(kek_file, "w") as f:
        f.write("5a" * 32 + "\n")
    redis_sock = start_redis(work, procs)
    raw = redis.Redis(unix_socket_path=redis_sock, socket_timeout=10)
    _, sock, _ = start_batond(
        batond, work, procs, "state-py", redis_sock, free_port(),
        f"secrets:\n  keks:\n    - {{id: {KEK_ID}, file: {kek_file}}}\n"
        "state:\n  namespaces:\n"
        "    - {name: orders}\n"
        "    - {name: carts, default_ttl_ms: 60000, max_value_bytes: 100}\n"
        "    - {name: vault, encrypt: true}\n")
    c = client_for(sock)
    for name, part in [("round trips", round_trips), ("compare-and-set", compare_and_set),
                       ("IFABSENT race", if_absent_race), ("batches", batches),
                       ("SCAN", scanning), ("encrypted namespace", sealed),
                       ("RESTORE", restoring), ("bad input", bad_input), ("RESP3", resp3),
                       ("COUNT and CLEAR", count_and_clear), ("Redis down", redis_down)]:
        check.section(name, part)
finally:
    stop_all(procs)
    shutil.rmtree(work, ignore_errors=True)

print(f"     ({time.monotonic() - began:.1f} s)")
sys.exit(check.exit_code())
