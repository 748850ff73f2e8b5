"""What the Python tests and benches that start their own servers share: a free loopback
port, a private redis-server on a Unix socket, batond processes waited for until their link to
Redis is up, stopping them all, and a check counter. python3-redis as the client, with a
parser that keeps baton's error codes whole (client_for, error_of)."""
import os
import socket
import subprocess
import traceback
import time

import redis
from redis.connection import PythonParser


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(what, predicate, limit=20.0):
    """Polls `predicate` until it answers something true; returns that. Exceptions count as
    not yet (a server still starting)."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"gave up waiting for {what} (last: {last!r})")


def start_redis(work, procs):
    """A redis-server without persistence on `work`/redis.sock; returns the socket's path."""
    sock = os.path.join(work, "redis.sock")
    procs.append(subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock,
                                   "--save", "", "--appendonly", "no",
                                   "--logfile", os.path.join(work, "redis.log")]))
    until("redis-server", lambda: redis.Redis(unix_socket_path=sock).ping())
    return sock


def start_batond(batond, work, procs, name, redis_sock, http_port, config_text):
    """batond `name` with `config_text` as its config, on `work`/`name`.sock, HTTP on
    127.0.0.1:`http_port`, logging to `work`/`name`.log; waits until it reaches Redis.
    Returns (its process, its socket's path, a client)."""
    config = os.path.join(work, f"{name}.yaml")
    with open(config, "w") as f:
        f.write(config_text)
    sock = os.path.join(work, f"{name}.sock")
    proc = subprocess.Popen(
        [batond, "--config", config, "--socket", sock, "--redis", "unix://" + redis_sock,
         "--http", f"127.0.0.1:{http_port}", "--node-id", name],
        stderr=open(os.path.join(work, f"{name}.log"), "w"))
    procs.append(proc)
    client = redis.Redis(unix_socket_path=sock, socket_timeout=10)
    until(f"{name} to serve", lambda: client.info("redis").get("redis_reachable") == 1)
    return proc, sock, client


def stop_all(procs):
    """SIGTERM to every process, then SIGKILL to any not gone within 15 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


class FullErrors(PythonParser):
    """redis-py strips a leading "ERR " from error texts (and maps some codes to classes); this
    parser keeps every error whole, as a ResponseError, so the code can be checked."""
    EXCEPTION_CLASSES = {}


def client_for(sock):
    pool = redis.ConnectionPool(connection_class=redis.UnixDomainSocketConnection, path=sock,
                                parser_class=FullErrors, socket_timeout=10)
    return redis.Redis(connection_pool=pool)


def error_of(c, *args):
    """The whole error text a command answers, or None when it succeeds."""
    try:
        c.execute_command(*args)
    except redis.ResponseError as e:
        return str(e)
    return None


def raised(call):
    """The exception `call` raises, or None."""
    try:
        call()
    except BaseException as e:  # noqa: BLE001 (the caller checks which)
        return e
    return None


class Checks:
    """Prints each check as ok or FAIL and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def __call__(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print("ok  ", name)
        else:
            self.failed.append(name)
            print("FAIL", name, detail)

    def section(self, name, body):
        """Runs one part; an exception fails that part (with its traceback) and the rest go
        on."""
        try:
            body()
        except Exception:
            self(f"{name}: ran without an exception", False, traceback.format_exc())

    def exit_code(self):
        print(f"{self.passed} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0
