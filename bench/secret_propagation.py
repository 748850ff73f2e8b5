#!/usr/bin/python3
"""How fast a rotation reaches every daemon: one client rotates a secret on the first daemon,
again and again; a watcher on every daemon (SECRET WATCH, a RESP2 connection in watch mode)
records when the push for each new version arrives. A push is sent only after that daemon's
cache serves the new version, so arrival = propagated. The delay is counted from just before
ROTATE is sent, so it includes the rotation itself (lease, fenced steps, promotion).

Usage: secret_propagation.py ROTATIONS SOCKET [SOCKET ...]
"""
import sys
import threading
import time

import redis


def watch(socket_path, arrivals, ready):
    conn = redis.Redis(unix_socket_path=socket_path).connection_pool.get_connection("watch")
    conn.send_command("SECRET", "WATCH", "bench-rotated")
    conn.read_response()
    ready.release()
    while True:
        push = conn.read_response()
        if isinstance(push, list) and len(push) == 5 and push[1] == b"rotated":
            arrivals.setdefault(int(push[3]), time.monotonic())
            if push[3] == -1:
                return


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    rotations = int(sys.argv[1])
    sockets = sys.argv[2:]
    client = redis.Redis(unix_socket_path=sockets[0])
    client.execute_command("SECRET", "PUT", "bench-rotated", "start")
    arrivals = [dict() for _ in sockets]
    ready = threading.Semaphore(0)
    for path, seen in zip(sockets, arrivals):
        threading.Thread(target=watch, args=(path, seen, ready), daemon=True).start()
    for _ in sockets:
        ready.acquire()
    sent = {}
    for _ in range(rotations):
        start = time.monotonic()
        reply = client.execute_command("SECRET", "ROTATE", "bench-rotated")
        fields = dict(zip(reply[::2], reply[1::2]))
        sent[int(fields[b"version"])] = start
        time.sleep(0.01)
    time.sleep(0.5)
    delays, missing = [], 0
    for seen in arrivals:
        for version, start in sent.items():
            if version in seen:
                delays.append((seen[version] - start) * 1000)
            else:
                missing += 1
    print("rotation propagation over %d daemons, %d rotations: p50 %.1f ms, p99 %.1f ms, "
          "max %.1f ms, missing %d (target p99 < 100 ms)"
          % (len(sockets), rotations, percentile(delays, 0.5), percentile(delays, 0.99),
             max(delays), missing))
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
