"""What a DEDUP key costs an EVENTS PUBLISH. Starts a redis-server and one batond and, in
turns within the same run, publishes N events of 100 bytes through batond with and without
`DEDUP key` (a fresh key each), and XADDs them straight to Redis as the baseline; each with
`PIPELINE` requests in flight on each of `CONNECTIONS` threads' connections. Prints events
per second of each and the ratios, per round and the median over rounds.

Usage: bench/events_publish_bench.py BUILD_DIR [EVENTS_PER_ROUND] [ROUNDS]"""
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

CONNECTIONS = 8
PIPELINE = 16
PAYLOAD = "x" * 100


def run(make_client, command_of, total):
    """Events per second: `total` commands split over CONNECTIONS threads, each sending
    PIPELINE at a time."""
    per_thread = total // CONNECTIONS
    clients = [make_client() for _ in range(CONNECTIONS)]
    start_gate = threading.Barrier(CONNECTIONS + 1)

    def work(index, client):
        start_gate.wait()
        sent = 0
        while sent < per_thread:
            pipe = client.pipeline(transaction=False)
            for _ in range(min(PIPELINE, per_thread - sent)):
                pipe.execute_command(*command_of(index, sent))
                sent += 1
            pipe.execute()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    for c in clients:
        c.close()
    return per_thread * CONNECTIONS / took


def main():
    build = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    procs = []
    work = tempfile.mkdtemp(prefix="baton-events-bench-")
    try:
        redis_sock = start_redis(work, procs)
        _, sock, _ = start_batond(os.path.join(build, "batond"), work, procs, "a", redis_sock,
                                  free_port(), "events: {max_length: 1000000}\n")
        baton = lambda: redis.Redis(unix_socket_path=sock)  # noqa: E731
        direct = lambda: redis.Redis(unix_socket_path=redis_sock)  # noqa: E731
        rows = []
        for r in range(rounds):
            plain = run(baton, lambda i, n: ("EVENTS", "PUBLISH", "bench", PAYLOAD), total)
            dedup = run(baton, lambda i, n, r=r: ("EVENTS", "PUBLISH", "bench", PAYLOAD, "DEDUP",
                                                  f"r{r}-t{i}-n{n}"), total)
            xadd = run(direct, lambda i, n: ("XADD", "raw", "MAXLEN", "~", "1000000", "*", "p",
                                             PAYLOAD), total)
            rows.append((plain, dedup, xadd))
            print(f"round {r + 1}: PUBLISH {plain:8.0f}/s  PUBLISH DEDUP {dedup:8.0f}/s  "
                  f"XADD to Redis {xadd:8.0f}/s  DEDUP/plain {dedup / plain:.2f}x  "
                  f"plain/XADD {plain / xadd:.2f}x")
        med = [statistics.median(col) for col in zip(*rows)]
        print(f"median:  PUBLISH {med[0]:8.0f}/s  PUBLISH DEDUP {med[1]:8.0f}/s  "
              f"XADD to Redis {med[2]:8.0f}/s  DEDUP/plain {med[1] / med[0]:.2f}x  "
              f"plain/XADD {med[0] / med[2]:.2f}x")
    finally:
        stop_all(procs)


if __name__ == "__main__":
    main()
