"""How long after a CACHE SET's reply another daemon may still serve the old value from its
near cache: the bound the near cache documents. Starts a redis-server and three daemons; for
each round the key is put in b's and c's near caches, a writes a new value, and right after
a's reply b and c read the key again and again until they answer the new value. Prints, per
reader, how many first reads were still old and the p50, p99 and max of the time from a's
reply to the first read that answered the new value; once idle and once with a load of
near-cache GETs on b (64 threads' worth of connections, the CACHE GET bench's shape).

Usage: bench/cache_propagation.py BUILD_DIR [ROUNDS]"""
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "support"))
from local_fleet import free_port, start_batond, start_redis, stop_all  # noqa: E402

import redis  # noqa: E402

CONFIG = """cache:
  namespaces:
    - {name: users, ttl_ms: 600000}
"""


def value_of(reply):
    return dict(zip(reply[::2], reply[1::2]))[b"value"] if reply else None


def measure(writer, readers, rounds):
    out = {name: {"stale_first": 0, "lags": []} for name in readers}
    for i in range(rounds):
        old, new = f"v{i}".encode(), f"v{i + 1}".encode()
        writer.execute_command("CACHE", "SET", "users", "u", old)
        for c in readers.values():  # into the near caches
            while value_of(c.execute_command("CACHE", "GET", "users", "u")) != old:
                pass
            c.execute_command("CACHE", "GET", "users", "u")
        writer.execute_command("CACHE", "SET", "users", "u", new)
        replied = time.monotonic()
        for name, c in readers.items():
            first = True
            while True:
                got = value_of(c.execute_command("CACHE", "GET", "users", "u"))
                if got == new:
                    out[name]["lags"].append(time.monotonic() - replied)
                    break
                if first:
                    out[name]["stale_first"] += 1
                first = False
    return out


def report(title, out, rounds):
    print(title)
    for name, r in out.items():
        lags = sorted(r["lags"])
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        print(f"  reader {name}: first read still old in {r['stale_first']} of {rounds} rounds; "
              f"reply -> new value p50 {statistics.median(lags) * 1e6:.0f} us, "
              f"p99 {p99 * 1e6:.0f} us, max {lags[-1] * 1e6:.0f} us")


def main():
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    procs = []
    work = tempfile.mkdtemp(prefix="baton-cache-propagation-")
    try:
        sock = start_redis(work, procs)
        clients = {}
        for name in ("a", "b", "c"):
            _, _, clients[name] = start_batond(os.path.join(build, "batond"), work, procs, name,
                                               sock, free_port(), CONFIG)
        readers = {"b": clients["b"], "c": clients["c"]}
        report("idle", measure(clients["a"], readers, rounds), rounds)

        stop = threading.Event()
        b_sock = os.path.join(work, "b.sock")

        def load():
            c = redis.Redis(unix_socket_path=b_sock)
            c.execute_command("CACHE", "SET", "users", "hot", "x" * 100)
            while not stop.is_set():
                c.execute_command("CACHE", "GET", "users", "hot")

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        try:
            report("with 8 clients reading b's near cache as fast as they can",
                   measure(clients["a"], readers, rounds), rounds)
        finally:
            stop.set()
            for t in threads:
                t.join()
    finally:
        stop_all(procs)


if __name__ == "__main__":
    main()
