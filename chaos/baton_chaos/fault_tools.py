"""What fault injection needs from the machine: the workload's secret put back, libfaketime's
clock read as a daemon would, commands run, and waits for a condition with a limit.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import time

from .fleet import FAKETIME_LIB, Fleet
from .resp import Connection, Indefinite, ReplyError


async def put_workload_secret(fleet: Fleet, history=None, limit: float = 10.0):
    """Puts the secret the workload rotates, through the first daemon that can (at the start,
    and after a data loss emptied Redis: the daemons may still be reconnecting). Recorded in
    the history as the harness's own `rotate`, so the checkers know the version it made."""
    from .workloads.secret import NAME, WORKLOAD
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for name, d in fleet.daemons.items():
            inv = history.invoke("harness", WORKLOAD, "rotate", name, {"name": NAME}) \
                if history else None
            try:
                c = Connection(path=d.socket)
                await c.open(timeout=1.0)
                try:
                    r = await c.call("SECRET", "PUT", NAME, os.urandom(16).hex(), timeout=3.0)
                finally:
                    await c.aclose()
            except (Indefinite, ReplyError) as e:
                if inv:
                    definite = isinstance(e, ReplyError) and e.code != "UNAVAILABLE"
                    history.complete(inv, "fail" if definite else "info",
                                     {"name": NAME, "error": str(e)})
                continue
            if inv:
                m = dict(zip(r[::2], r[1::2])) if isinstance(r, list) else dict(r)
                history.complete(inv, "ok", {"name": NAME, "version": int(m["version"]),
                                             "previous": int(m.get("previous") or 0)})
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("no daemon could put the workload's secret")


def flat(reply) -> str:
    if isinstance(reply, dict):
        return " ".join(f"{k}={v}" for k, v in reply.items())
    if isinstance(reply, list):
        return " ".join(f"{reply[i]}={reply[i + 1]}" for i in range(0, len(reply) - 1, 2))
    return str(reply)


def write_atomically(path: str, text: str):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


async def fake_now(faketime_file: str) -> float:
    """The wall clock libfaketime gives a process reading `faketime_file` (the confirmation
    that the step is in effect)."""
    env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE=faketime_file,
               FAKETIME_NO_CACHE="1")
    proc = await asyncio.create_subprocess_exec("date", "+%s", env=env,
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return float(out.strip() or 0)


def run(args: list[str]):
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


async def until(pred, limit: float, what: str):
    deadline = time.monotonic() + limit
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not confirmed: {what}")
        await asyncio.sleep(0.01)


async def until_answers(fn, limit: float, what: str):
    deadline = time.monotonic() + limit
    while True:
        try:
            return await fn()
        except (Indefinite, ReplyError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not confirmed: {what}")
            await asyncio.sleep(0.05)
