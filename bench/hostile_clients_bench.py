#!/usr/bin/python3
"""A well-behaved client's latency with and without hostile neighbours on the same daemon.

Starts a private redis-server and one batond (from BUILD), then measures a client that sends
PING and LEASE ACQUIRE/RELEASE one at a time, first alone (the baseline, same run), then while
hostile connections do their worst: slow-loris clients that trickle a request a byte at a time,
hoarders that send most of a 1 MiB argument and stop, and idle connections by the hundred.
Prints p50 and p99 side by side and their ratio, and what the daemon closed (its counters).
The issue's bar: the well-behaved p99 within 2x of the baseline.

Usage: hostile_clients_bench.py BUILD [REQUESTS] [HOSTILE]
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def call(self, *args):
        self.s.sendall(resp(*args))
        first = self.line()
        if first[:1] == b"*":  # a map is a flat array in RESP2: read its elements
            for _ in range(int(first[1:])):
                head = self.line()
                if head[:1] == b"$" and head != b"$-1":
                    self.line()
        return first


def measure(path, n):
    c = client(path)
    samples = []
    for i in range(n):
        t = time.perf_counter()
        c.call("PING")
        c.call("LEASE", "ACQUIRE", "bench-hostile", "5000")  # again: extends the same grant
        c.call("LEASE", "INFO", "bench-hostile")
        samples.append(time.perf_counter() - t)
    samples.sort()
    return samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6


def hostile(path, count, stop):
    conns = []
    for i in range(count):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            kind = i % 3
            if kind == 0:  # slow-loris
                s.sendall(b"*2\r\n$4\r\nECHO\r\n$100\r\n")
            elif kind == 1:  # hoarder
                s.sendall(b"*2\r\n$4\r\nECHO\r\n$1048576\r\n" + b"h" * 900000)
            conns.append((kind, s))
        except OSError:
            pass
    while not stop.is_set():
        for kind, s in conns:
            if kind == 0:
                try:
                    s.send(b"x")
                except OSError:
                    pass
        time.sleep(0.2)
    for _, s in conns:
        s.close()


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    d = tempfile.mkdtemp(prefix="baton-hostile-")
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", d + "/r.sock",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    while not os.path.exists(d + "/r.sock"):
        time.sleep(0.05)
    with open(d + "/c.yaml", "w") as f:
        f.write("socket: {request_timeout_ms: 2000, max_buffered_bytes: 67108864}\n")
    port = 19000 + os.getpid() % 1000
    batond = subprocess.Popen([build + "/batond", "--config", d + "/c.yaml", "--socket",
                               d + "/b.sock", "--redis", "unix://" + d + "/r.sock", "--http",
                               "127.0.0.1:%d" % port], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                client(d + "/b.sock").call("PING")
                break
            except OSError:
                time.sleep(0.05)
        measure(d + "/b.sock", 300)  # warm up
        base50, base99 = measure(d + "/b.sock", n)
        stop = threading.Event()
        t = threading.Thread(target=hostile, args=(d + "/b.sock", count, stop))
        t.start()
        time.sleep(1.0)
        hot50, hot99 = measure(d + "/b.sock", n)
        stop.set()
        t.join()
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port).read().decode()
        closed = {l.split()[0]: l.split()[1] for l in metrics.splitlines()
                  if l.startswith(("baton_slow_clients_closed_total",
                                   "baton_buffer_cap_closed_total",
                                   "baton_rejected_clients_total"))}
        print("well-behaved client, %d rounds of PING + LEASE ACQUIRE + LEASE INFO" % n)
        print("                         p50 us    p99 us")
        print("alone (baseline)      %8.0f  %8.0f" % (base50, base99))
        print("with %4d hostile      %8.0f  %8.0f" % (count, hot50, hot99))
        print("ratio                 %8.2f  %8.2f   (the bar: p99 ratio <= 2)" %
              (hot50 / base50, hot99 / base99))
        for k, v in sorted(closed.items()):
            print("%-40s %s" % (k, v))
    finally:
        batond.terminate()
        redis.terminate()
        batond.wait()
        redis.wait()


if __name__ == "__main__":
    main()
