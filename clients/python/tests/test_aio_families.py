#!/usr/bin/python3
"""baton.aio's elections, circuit breakers and secret watcher against two real batonds (a, b)
on one private redis-server: `breaker().run()` (ok, fail, slow, an exception outside
`fails_on`, a trip, then Open without calling; an unknown breaker; a report that cannot be
sent is logged and the call's own result or exception stays); `async with campaign()` across
the two daemons (Denied after its timeout, the handover when the leader's block ends and
resigns, an observer on the other daemon hearing each change, the block cancelled and Lost
raised when Redis is paused with SIGSTOP, and when the watch connection goes silent); and
`watch_secret()` on b hearing a SECRET ROTATE made through a, a secret PUT for the first time,
and, after b restarts, a PUT made while it was away. Usage: test_aio_families.py BATOND"""
import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.dirname(HERE)  # clients/python
sys.path.insert(0, LIBRARY)
sys.path.insert(0, os.path.join(LIBRARY, "..", "..", "tests", "support"))
from local_fleet import Checks, free_port, start_batond, start_redis, stop_all  # noqa: E402

from baton import Denied, Lost, Open, OtherError  # noqa: E402
from baton._replies import as_fields, as_int  # noqa: E402
from baton.aio import AsyncBaton  # noqa: E402

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-aiofam-")
procs = []
check = Checks()
GROUP = "aio-group"


async def raised(awaitable):
    try:
        await awaitable
    except Exception as e:  # noqa: BLE001 (the caller checks which)
        return e
    return None


async def raised_or_value(awaitable):
    """What `awaitable` answers, or the exception it raises."""
    try:
        return await awaitable
    except Exception as e:  # noqa: BLE001
        return e


async def until(what, predicate, limit=30.0):
    """Awaits `predicate()` every 0.1 s until it answers something true; exceptions count as
    not yet. Answers None when it gives up, so that a check can report it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            found = await predicate()
            if found:
                return found
        except Exception:  # noqa: BLE001
            pass
        await asyncio.sleep(0.1)
    print(f"      (gave up waiting for {what})")
    return None


async def counts(client, name):
    """A host's window of a breaker: (calls, failures, slow)."""
    fields = as_fields(await client.command("BREAKER", "STATE", name))
    return tuple(as_int(fields[k]) for k in ("calls", "failures", "slow"))


class Kept(logging.Handler):
    """Keeps the warnings logged, to check that a report that failed was told."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


# -- breakers -------------------------------------------------------------------------------

async def breakers():
    pay = a.breaker("aio-pay")

    async def paid():
        return "paid"
    check("run() of a closed breaker answers the call's result and reports ok",
          await pay.run(paid) == "paid" and await counts(a, "aio-pay") == (1, 0, 0),
          repr(await counts(a, "aio-pay")))

    async def failing():
        raise ConnectionRefusedError("the dependency is down")
    error = await raised(pay.run(failing))
    check("a call that raises: its exception propagates, reported as a failure",
          isinstance(error, ConnectionRefusedError)
          and await counts(a, "aio-pay") == (2, 1, 0), repr(error))

    async def slow():
        await asyncio.sleep(0.35)
        return 7
    check("a call past slow_call_ms (300) is reported with its duration: slow",
          await pay.run(slow) == 7 and await counts(a, "aio-pay") == (3, 1, 1),
          repr(await counts(a, "aio-pay")))

    async def missing_key():
        return {}["missing"]
    picky = a.breaker("aio-pay", fails_on=(ConnectionError,))
    error = await raised(picky.run(missing_key))
    check("an exception outside fails_on propagates and counts as ok (the dependency "
          "answered)", isinstance(error, KeyError) and await counts(a, "aio-pay") == (4, 1, 1),
          repr(error))
    for _ in range(3):
        await raised(pay.run(failing))
    ran = []

    async def must_not_run():
        ran.append(1)
    refused = await raised(pay.run(must_not_run))
    check("failures in a window of 4 trip it: run() raises baton.Open and does not call",
          isinstance(refused, Open) and not ran and refused.name == "aio-pay"
          and refused.decision.state == "open" and not refused.decision.allowed
          and refused.decision.next_probe_ms > 0, repr((refused, ran)))
    decision = await b.breaker_check("aio-pay")
    check("a local breaker is open on its own host only",
          decision.allowed and decision.state == "closed" and not decision.fleet,
          repr(decision))
    unknown = await raised(a.breaker("aio-none").run(must_not_run))
    check("a breaker no policy names: OtherError (ERR), nothing run",
          isinstance(unknown, OtherError) and "unknown breaker" in str(unknown) and not ran,
          repr(unknown))

    # A report that cannot be sent: the daemon hangs (SIGSTOP) during the call, so the
    # REPORT times out (0.5 s); run() logs it and answers the call's own result or error.
    kept = Kept()
    logging.getLogger("baton.breakers").addHandler(kept)
    quick = AsyncBaton(sock_b, timeout_s=0.5)
    quiet = quick.breaker("aio-quiet")

    async def hang_then_answer():
        batond_b.send_signal(signal.SIGSTOP)
        return "answer"

    async def hang_then_fail():
        batond_b.send_signal(signal.SIGSTOP)
        raise ValueError("the call's own error")
    try:
        answer = await raised_or_value(quiet.run(hang_then_answer))
        batond_b.send_signal(signal.SIGCONT)
        await until("b after SIGCONT", b.ping)
        own = await raised(quiet.run(hang_then_fail))
    finally:
        batond_b.send_signal(signal.SIGCONT)
        logging.getLogger("baton.breakers").removeHandler(kept)
    await quick.close()
    check("a REPORT that cannot be sent is logged; run() answers the call's result",
          answer == "answer" and any("aio-quiet ok" in r for r in kept.records),
          repr((answer, kept.records)))
    check("... and raises the call's own exception, not the report's",
          isinstance(own, ValueError) and any("aio-quiet fail" in r for r in kept.records),
          repr((own, kept.records)))
    await until("b after SIGCONT", b.ping)


# -- elections ------------------------------------------------------------------------------

async def lead_until_cancelled(client, group, candidate, ttl_ms, on_leading):
    """`async with client.campaign(...)` whose block awaits `on_leading(leadership)`, then
    waits forever. Answers what it saw: the leadership, when the block was cancelled, what the
    `async with` raised, and the task's pending cancels afterwards."""
    seen = {}

    async def body():
        try:
            async with client.campaign(group, candidate, ttl_ms=ttl_ms,
                                       timeout_ms=30_000) as leading:
                seen["leading"] = leading
                try:
                    await on_leading(leading)
                    await asyncio.sleep(120)
                except asyncio.CancelledError:
                    seen["cancelled_at"] = time.monotonic()
                    raise
        except BaseException as e:  # noqa: BLE001 (CancelledError too: the check says which)
            seen["raised"] = e
        task = asyncio.current_task()
        seen["cancelling"] = task.cancelling() if hasattr(task, "cancelling") else 0

    await asyncio.wait_for(body(), 60)
    return seen


async def waited(event, limit):
    """Whether `event` was set within `limit` s."""
    try:
        await asyncio.wait_for(event.wait(), limit)
    except asyncio.TimeoutError:
        return False
    return True


async def events_until(observer, predicate, limit=20.0):
    """Events from `observer` up to and including the first that `predicate` accepts."""
    heard = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        event = await observer.next_event(timeout_s=max(0.1, deadline - time.monotonic()))
        if event is None:
            break
        heard.append(event)
        if predicate(event):
            break
    return heard


async def elections():
    check("leader() of a group nobody leads is None", await a.leader(GROUP) is None)
    observer = await b.observe_leaders(GROUP)  # on the other daemon
    first = await observer.next_event(timeout_s=15)
    check("an observer first hears the leader now: vacant, term 0",
          first is not None and first.event == "vacant" and first.term == 0
          and first.group == GROUP, repr(first))

    moments = {}
    beta_leading = asyncio.Event()

    async def beta_leads(leading):
        moments["beta_led"] = time.monotonic()
        moments["beta"] = leading
        beta_leading.set()

    async with a.campaign(GROUP, "alpha", ttl_ms=3000) as alpha:
        check("campaign yields a leadership with a term, not lost",
              alpha.term > 0 and alpha.candidate == "alpha" and not alpha.lost.is_set(),
              repr(alpha))
        leader = await b.leader(GROUP)
        check("leader() on the other daemon names it", leader is not None
              and leader.candidate == "alpha" and leader.node == "aio-a"
              and leader.term == alpha.term and leader.remaining_ms > 0, repr(leader))
        heard = await events_until(observer, lambda e: e.event == "leader")
        check("the observer on the other daemon hears alpha lead under its term",
              [(e.event, e.candidate, e.term, e.node) for e in heard]
              == [("leader", "alpha", alpha.term, "aio-a")], repr(heard))
        ran = []

        async def gamma():
            async with b.campaign(GROUP, "gamma", timeout_ms=300):
                ran.append(1)
        began = time.monotonic()
        denied = await raised(gamma())
        check("a second candidate on the other daemon is Denied after its timeout, its "
              "block never run", isinstance(denied, Denied) and not ran
              and time.monotonic() - began >= 0.25, repr(denied))
        beta = asyncio.create_task(lead_until_cancelled(b, GROUP, "beta", 5000, beta_leads))
        await asyncio.sleep(0.3)  # not an assertion: lets beta's JOIN queue behind alpha
        check("while alpha leads, the waiting candidate does not lead",
              not beta_leading.is_set() and not beta.done())
        moments["alpha_resigns"] = time.monotonic()
    if not await waited(beta_leading, 20):
        beta.cancel()
        beta_seen = (await asyncio.gather(beta, return_exceptions=True))[0]
        check("after alpha's block ends (resign), the waiting candidate leads", False,
              repr(beta_seen))
        await observer.close()
        return
    leadership = moments["beta"]
    check("after alpha's block ends (resign), the waiting candidate leads under a later "
          "term; alpha was not lost",
          leadership.term > alpha.term and moments["beta_led"] > moments["alpha_resigns"]
          and not alpha.lost.is_set(), repr((leadership, alpha)))
    now = await a.leader(GROUP)
    check("leader() names the new leader", now is not None and now.candidate == "beta"
          and now.term == leadership.term and now.node == "aio-b", repr(now))
    heard = await events_until(observer, lambda e: e.candidate == "beta")
    check("the observer hears alpha's term end (vacant), then beta lead",
          [(e.event, e.candidate) for e in heard] == [("vacant", "alpha"), ("leader", "beta")],
          repr(heard))

    # Redis hangs: batond b cannot renew beta's leadership and says so on elect:<group>;
    # the block is cancelled within the TTL and the async with raises Lost.
    redis_proc.send_signal(signal.SIGSTOP)
    paused_at = time.monotonic()
    try:
        beta_seen = await asyncio.wait_for(beta, 30)
    finally:
        redis_proc.send_signal(signal.SIGCONT)
    took = beta_seen.get("cancelled_at", float("inf")) - paused_at
    print(f"      (cancelled {took:.2f} s after Redis was paused)")
    lost = beta_seen.get("raised")
    check("Redis paused: the leader's block is cancelled while it runs, within the TTL (5 s)",
          0 < took < 5.0, f"after {took:.2f} s: {beta_seen!r}")
    check("... the async with raises Lost (not CancelledError) naming the group and why "
          "(batond could not renew it), nothing left cancelling",
          isinstance(lost, Lost) and GROUP in str(lost) and "could not renew" in str(lost)
          and beta_seen.get("cancelling") == 0, repr(beta_seen))
    check("... and the leadership's lost event is set, with its reason",
          leadership.lost.is_set() and bool(leadership.lost_reason)
          and isinstance(check_raises(leadership), Lost), repr(leadership))
    await observer.close()
    check("a closed observer stops", not observer.alive)
    # Redis is back: batond's link recovers before the next part campaigns.
    await until("elections after Redis resumed", lambda: _leader_gone(beta_seen), limit=40)


def check_raises(leadership):
    try:
        leadership.check()
    except Exception as e:  # noqa: BLE001
        return e
    return None


async def _leader_gone(seen):
    leader = await a.leader(GROUP)
    leading = seen.get("leading")
    return leader is None or (leading is not None and leader.term != leading.term)


async def silent_watch():
    """batond hangs (SIGSTOP): the watch connection answers no PING, which counts as lost
    (half the TTL, at least 1 s), and the block is cancelled within the TTL."""
    ttl_ms = 3000
    moments = {}

    async def pause_batond(leading):
        moments["paused"] = time.monotonic()
        batond_a.send_signal(signal.SIGSTOP)
    try:
        seen = await lead_until_cancelled(a, "aio-silent", "delta", ttl_ms, pause_batond)
    finally:
        batond_a.send_signal(signal.SIGCONT)
    took = seen.get("cancelled_at", float("inf")) - moments.get("paused", 0)
    print(f"      (cancelled {took:.2f} s after batond was paused)")
    check("batond paused (silent watch connection): the block is cancelled within the TTL "
          "and Lost says batond answered nothing",
          0 < took < ttl_ms / 1000 and isinstance(seen.get("raised"), Lost)
          and "answered nothing" in str(seen.get("raised")), f"after {took:.2f} s: {seen!r}")
    await until("a after SIGCONT", a.ping)


# -- the secret watcher ---------------------------------------------------------------------

async def secret_watcher():
    global b, batond_b
    await a.command("SECRET", "PUT", "aio/api-key", "first")  # tests run as root (admin)
    rotations = []
    heard = asyncio.Event()

    async def on_rotated(secret):  # a coroutine function, awaited by the watcher
        rotations.append(secret)
        heard.set()

    watcher = await b.watch_secret("aio/api-key", on_rotated=on_rotated)
    async with watcher:
        check("watch_secret holds the current value at once, without a callback",
              watcher.value == b"first" and watcher.current is not None
              and watcher.current.state == "current" and not rotations,
              repr((watcher.current, rotations)))
        rotated = as_fields(await a.command("SECRET", "ROTATE", "aio/api-key"))
        served = await a.secret_get("aio/api-key")
        await waited(heard, 20)
        check("a SECRET ROTATE through the other daemon reaches the watcher: on_rotated "
              "with the new version, and the value is kept",
              len(rotations) == 1 and served is not None
              and rotations[0].version == as_int(rotated["version"]) == served.version
              and rotations[0].value == served.value != b"first"
              and watcher.value == served.value, repr((rotations, watcher.current, rotated)))

        later = []  # a plain callable this time
        async with await b.watch_secret("aio/later", on_rotated=later.append) as absent:
            check("a watcher of a secret not PUT yet holds None", absent.current is None)
            await a.command("SECRET", "PUT", "aio/later", "now")
            got = await until("the first PUT", lambda: _true(absent.value == b"now"), 20)
            check("... and its first PUT once it comes, told to a plain callback",
                  got is not None and [s.value for s in later] == [b"now"],
                  repr((absent.current, later)))
        check("a closed watcher stops", not absent.alive)

        # b restarts; a PUT made meanwhile reaches the watcher, which watches again and
        # reads again once b is back.
        heard.clear()
        batond_b.terminate()
        batond_b.wait(15)
        await a.command("SECRET", "PUT", "aio/api-key", "while-away")
        await b.close()
        batond_b, _, _ = start_batond(batond, work, procs, "aio-b", redis_sock, free_port(),
                                      config)
        b = AsyncBaton(sock_b)
        caught = await until("the watcher to read again after b restarted",
                             lambda: _true(watcher.value == b"while-away"), limit=30)
        check("after its daemon restarts, the watcher watches and reads again: the value "
              "PUT while it was away, told to on_rotated",
              caught is not None and watcher.alive
              and rotations[-1].value == b"while-away", repr((watcher.current, rotations)))
        await a.command("SECRET", "PUT", "aio/api-key", "after")
        got = await until("a rotation after the restart",
                          lambda: _true(watcher.value == b"after"), limit=20)
        check("... and hears the rotations after it", got is not None
              and rotations[-1].value == b"after", repr((watcher.current, rotations)))
    check("async with closes the watcher", not watcher.alive)


async def _true(value):
    return value


# -- running them ---------------------------------------------------------------------------

async def main():
    global a, b
    a, b = AsyncBaton(sock_a), AsyncBaton(sock_b)
    for name, part in [("breakers", breakers), ("elections", elections),
                       ("silent watch", silent_watch), ("secret watcher", secret_watcher)]:
        try:
            await asyncio.wait_for(part(), 90)
        except Exception:
            check(f"{name}: ran without an exception", False, traceback.format_exc())
    await a.close()
    await b.close()


began = time.monotonic()
try:
    kek_file = os.path.join(work, "aiofam.kek")
    with open(kek_file, "w") as f:
        f.write("c1" * 32 + "\n")
    redis_sock = start_redis(work, procs)
    redis_proc = procs[0]
    config = (f"secrets:\n  keks:\n    - {{id: c1, file: {kek_file}}}\n"
              "breakers:\n  policies:\n"
              "    - {name: aio-pay, window: {calls: 4}, minimum_calls: 4, open_ms: 60000,"
              " slow_call_ms: 300, scope: local}\n"
              "    - {name: aio-quiet, scope: local}\n")
    batond_a, sock_a, _ = start_batond(batond, work, procs, "aio-a", redis_sock, free_port(),
                                       config)
    batond_b, sock_b, _ = start_batond(batond, work, procs, "aio-b", redis_sock, free_port(),
                                       config)
    asyncio.run(main())
finally:
    for proc in procs:  # none left paused by a failed part
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
    stop_all(procs)
    shutil.rmtree(work, ignore_errors=True)

print(f"     ({time.monotonic() - began:.1f} s)")
sys.exit(check.exit_code())
