"""Starting and stopping the run's processes: every child dies with the harness, runs in its
own session (a terminal's Ctrl-C reaches only the harness, which stops them in order), and is
stopped by its process group. Shared by fleet.py (redis-server, batond), sentinel_group.py and
cluster_group.py.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess


def die_with_parent():
    """In the child before exec: SIGKILL when the harness dies, however it dies (its own
    kill -9 included), so no redis-server or batond outlives a run. Children run in their own
    session, so a terminal's Ctrl-C reaches only the harness, which stops them in order."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(args: list[str], log_path: str = "", env=None) -> subprocess.Popen:
    """Starts `args` as a child of the harness (its output to `log_path`, or nowhere)."""
    out = open(log_path, "a") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(args, stdout=out, stderr=out, env=env, start_new_session=True,
                                preexec_fn=die_with_parent)
    finally:
        if log_path:
            out.close()


def kill_group(p: subprocess.Popen):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                p.kill()
            except ProcessLookupError:
                pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def free_port(taken=()) -> int:
    """A free loopback port not in `taken` (the port is released, so two calls could give the
    same one: pass the ones already chosen)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


# -- a server of a replication group or a cluster, by its record ---------------------------
# The record (sentinel_group.Server, cluster_group.Node) has `port`, `args`, `proc` and
# `stopped`; the groups share how a fault starts, kills and signals one.

def start_server(record):
    """Starts the server with the arguments it first had."""
    if record.proc is not None and record.proc.poll() is None:
        raise RuntimeError(f"redis-server on port {record.port} is running")
    record.proc = spawn(record.args)
    record.stopped = False


def kill_server(record) -> int:
    """SIGKILL, like a crash; returns the pid it had."""
    pid = record.proc.pid
    if record.proc.poll() is None:
        record.proc.kill()
        record.proc.wait()
    return pid


def signal_server(record, sig: int):
    """SIGSTOP or SIGCONT (or another signal) to a running server, noting whether it is
    stopped."""
    if record.proc is None or record.proc.poll() is not None:
        return
    os.kill(record.proc.pid, sig)
    if sig == signal.SIGSTOP:
        record.stopped = True
    elif sig == signal.SIGCONT:
        record.stopped = False
