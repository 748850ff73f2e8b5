#!/usr/bin/python3
"""How fast a trip reaches every daemon: a client reports failures to a fleet breaker on the
first daemon until it trips; a subscriber on every other daemon (SUBSCRIBE breaker:<name>)
records when the `open` message arrives. A daemon publishes it as it applies the new state,
so arrival = that daemon's CHECK now denies. The delay is counted from the tripping REPORT's
reply. Then FORCE auto closes it everywhere, and the next trial begins.

Usage: breaker_propagation.py TRIALS SOCKET [SOCKET ...]
"""
import sys
import threading
import time

import redis

NAME = "bench-trip"


def listen(socket_path, arrivals, ready):
    sub = redis.Redis(unix_socket_path=socket_path).pubsub()
    sub.subscribe("breaker:" + NAME)
    sub.get_message(timeout=5)  # the subscribe confirmation
    ready.release()
    for message in sub.listen():
        if message["type"] != "message":
            continue
        state, generation, _ = message["data"].decode().split(" ")
        if state == "open":
            arrivals.setdefault(int(generation), time.monotonic())
        elif state == "forced-open":
            return


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    trials = int(sys.argv[1])
    sockets = sys.argv[2:]
    client = redis.Redis(unix_socket_path=sockets[0])
    arrivals = [dict() for _ in sockets[1:]]
    ready = threading.Semaphore(0)
    threads = [threading.Thread(target=listen, args=(s, a, ready), daemon=True)
               for s, a in zip(sockets[1:], arrivals)]
    for t in threads:
        t.start()
    for _ in threads:
        ready.acquire()
    delays = []
    for _ in range(trials):
        client.execute_command("BREAKER", "FORCE", NAME, "auto")
        time.sleep(0.02)  # the close reaches every daemon
        for _ in range(4):
            client.execute_command("BREAKER", "REPORT", NAME, "fail")
        client.execute_command("BREAKER", "REPORT", NAME, "fail")  # the tripping one
        tripped = time.monotonic()
        deadline = tripped + 5
        generation = None
        while time.monotonic() < deadline:
            seen = [a for a in arrivals if any(t >= tripped for t in a.values())]
            if len(seen) == len(arrivals):
                generation = max(max(a.keys()) for a in arrivals)
                break
            time.sleep(0.0005)
        if generation is None:
            print("a trip did not reach every daemon within 5 s")
            sys.exit(1)
        delays.append(max(max(t for t in a.values() if t >= tripped) for a in arrivals) - tripped)
    client.execute_command("BREAKER", "FORCE", NAME, "open")  # ends the listeners
    client.execute_command("BREAKER", "FORCE", NAME, "auto")
    ms = [d * 1000 for d in delays]
    print(f"trip propagation to {len(arrivals)} other daemons over {trials} trips: "
          f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
          f"max {max(ms):.1f} ms (target: p99 under 20 ms)")


if __name__ == "__main__":
    main()
