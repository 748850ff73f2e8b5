#!/usr/bin/python3
"""baton.aio and baton.asgi against a real batond and a private redis-server: AsyncBaton's
families (leases, rate, dedup and once(), secrets, state, cache, events and the async
iterator follow(), sessions); `async with lock()` whose block is cancelled, and Lost raised,
when the lease is lost (an admin's FORCE release; Redis paused with SIGSTOP, within the TTL;
batond paused, its watch connection silent), and not cancelled while batond renews it; then
RateLimitMiddleware and IdempotencyMiddleware in a FastAPI app served by real uvicorn on a
loopback port, called over HTTP by httpx. (The wheel, baton.aio and baton.asgi in it, and
`mypy --strict` of the whole package: test_baton_client.py.) Usage: test_async_and_asgi.py
BATOND"""
import asyncio
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

import redis  # noqa: E402

from baton import (BatonError, Conflict, Denied, InProgress, Lost, NotHeld,  # noqa: E402
                   OtherError, Refused)
from baton.aio import AsyncBaton  # noqa: E402

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-aio-")
procs = []
check = Checks()


async def raised(awaitable):
    try:
        await awaitable
    except Exception as e:  # noqa: BLE001 (the caller checks which)
        return e
    return None


async def until(what, predicate, limit=30.0):
    """Awaits `predicate()` every 0.1 s until it answers something true; exceptions count as
    not yet."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        try:
            last = await predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001
            last = e
        await asyncio.sleep(0.1)
    raise RuntimeError(f"gave up waiting for {what} (last: {last!r})")


# -- the parts ------------------------------------------------------------------------------

async def basics():
    check("ping", await a.ping())
    missing = AsyncBaton(os.path.join(work, "nobody.sock"))
    error = await raised(missing.ping())
    check("no daemon on the socket: python3-redis' ConnectionError, not a BatonError",
          isinstance(error, redis.ConnectionError) and not isinstance(error, BatonError),
          repr(error))
    await missing.close()
    error = await raised(a.command("NOPE"))
    check("command() maps errors (ERR is OtherError, the text whole)",
          isinstance(error, OtherError) and error.code == "ERR", repr(error))
    slow = AsyncBaton(sock, timeout_s=0.5)
    began = time.monotonic()
    empty = await slow.read("aio/orders", "0", block_ms=1500)
    took = time.monotonic() - began
    check("a BLOCK longer than the timeout waits it out and answers []",
          empty == [] and 1.3 < took < 5, f"{empty!r} after {took:.2f} s")
    await slow.close()


async def leases():
    lease = await a.acquire("aio/lease", 5000, meta="job 1")
    check("acquire: a token, validity within the TTL",
          lease.token > 0 and 0 < lease.validity_ms <= 5000, repr(lease))
    denied = await raised(b.acquire("aio/lease", 5000))
    check("another client's acquire raises Denied with the holder's token",
          isinstance(denied, Denied) and denied.token == lease.token, repr(denied))
    info = await a.lease_info("aio/lease")
    check("lease_info: held, the token, the meta",
          info is not None and info.token == lease.token and info.meta == "job 1", repr(info))
    renewed = await a.renew("aio/lease", lease.token, 8000)
    check("renew keeps the token and extends", renewed.token == lease.token
          and renewed.validity_ms > 5000, repr(renewed))
    check("a wrong token's release raises NotHeld",
          isinstance(await raised(a.release("aio/lease", 1)), NotHeld))
    await a.release("aio/lease", lease.token)
    check("release frees it", await a.lease_info("aio/lease") is None)


async def locks():
    async with a.lock("aio/lock", ttl_ms=3000) as first:
        check("lock() yields a token", first > 0, repr(first))
        check("while held, another client is denied",
              isinstance(await raised(b.acquire("aio/lock", 1000)), Denied))
    check("released on exit", await a.lease_info("aio/lock") is None)

    class Boom(Exception):
        pass

    async def boom():
        async with a.lock("aio/lock"):
            raise Boom()
    check("an exception in the block propagates as it is", isinstance(await raised(boom()), Boom))
    check("... and the lease is released", await a.lease_info("aio/lock") is None)

    holder = await b.acquire("aio/lock-busy", 5000)
    ran = []

    async def never():
        async with a.lock("aio/lock-busy"):
            ran.append(1)
    error = await raised(never())
    check("lock() of a held lease raises Denied; the block never runs",
          isinstance(error, Denied) and not ran, repr(error))
    asyncio.get_running_loop().call_later(
        0.3, lambda: asyncio.ensure_future(b.release("aio/lock-busy", holder.token)))
    async with a.lock("aio/lock-busy", wait_ms=5000) as token:
        check("lock(wait_ms=...) waits for the holder's release", token > holder.token)

    # Not cancelled while batond renews it: the block outlives the TTL and the watch's
    # silence limit (1.5 s at this TTL) and ends normally.
    began = time.monotonic()
    async with a.lock("aio/lock-long", ttl_ms=3000) as token:
        await asyncio.sleep(4.0)
        info = await a.lease_info("aio/lock-long")
    check("a block longer than the TTL runs to its end, renewed (KEEP), not cancelled",
          info is not None and info.token == token and time.monotonic() - began >= 4.0,
          repr(info))


async def _block_until_cancelled(name, ttl_ms, on_running):
    """Runs `async with lock(name)` whose block waits forever; `on_running(token)` is called
    inside it. Answers (what the async with raised, what the block saw, when it was cancelled,
    the task's pending cancels afterwards)."""
    seen = {}

    async def body():
        try:
            async with a.lock(name, ttl_ms=ttl_ms) as token:
                seen["token"] = token
                try:
                    await on_running(token)
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


async def lock_lost_by_force():
    async def force_release(token):
        asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(
            b.command("LEASE", "RELEASE", "aio/forced", token, "FORCE")))
    seen = await _block_until_cancelled("aio/forced", 10_000, force_release)
    check("an admin's FORCE release cancels the running block, which sees CancelledError",
          "cancelled_at" in seen, repr(seen))
    check("... and the async with raises Lost, not CancelledError; nothing left cancelling",
          isinstance(seen.get("raised"), Lost) and seen["cancelling"] == 0, repr(seen))


async def lock_lost_with_redis_paused():
    # batond declares a KEEP lease lost a notice (a tenth of the TTL) before its safe validity
    # ends, counted from the acquire here (Redis is paused as the block begins): at about
    # 0.89 of the TTL. 5 s leaves half a second for the push to reach the block under load.
    ttl_ms = 5000
    moments = {}

    async def pause_redis(token):
        moments["paused"] = time.monotonic()
        redis_proc.send_signal(signal.SIGSTOP)
    try:
        seen = await _block_until_cancelled("aio/paused", ttl_ms, pause_redis)
    finally:
        redis_proc.send_signal(signal.SIGCONT)
    took = seen.get("cancelled_at", float("inf")) - moments.get("paused", 0)
    print(f"      (cancelled {took:.2f} s after Redis was paused)")
    check(f"Redis paused: the block is cancelled while it runs, within the TTL ({ttl_ms} ms)",
          0 < took < ttl_ms / 1000, f"after {took:.2f} s: {seen!r}")
    check("... and the async with raises Lost naming the loss",
          isinstance(seen.get("raised"), Lost) and "aio/paused" in str(seen.get("raised")),
          repr(seen.get("raised")))
    # Redis is back: batond's link and breaker recover before the next part uses leases.
    await until("leases after Redis resumed",
                lambda: a.acquire("aio/after-pause", 1000), limit=40)


async def lock_lost_with_batond_paused():
    ttl_ms = 3000
    moments = {}

    async def pause_batond(token):
        moments["paused"] = time.monotonic()
        batond_proc.send_signal(signal.SIGSTOP)
    try:
        seen = await _block_until_cancelled("aio/silent", ttl_ms, pause_batond)
    finally:
        batond_proc.send_signal(signal.SIGCONT)
    took = seen.get("cancelled_at", float("inf")) - moments.get("paused", 0)
    check("batond paused (silent watch connection): the block is cancelled within the TTL",
          0 < took < ttl_ms / 1000 and isinstance(seen.get("raised"), Lost)
          and "answered nothing" in str(seen.get("raised")), f"after {took:.2f} s: {seen!r}")
    await until("batond after SIGCONT", a.ping)


async def rate_limits():
    decisions = [await a.check("api", "aio:1") for _ in range(3)]
    check("check: 3 allowed, remaining counts down",
          [d.allowed for d in decisions] == [True] * 3
          and [d.remaining for d in decisions] == [2, 1, 0], repr(decisions))
    fourth = await a.check("api", "aio:1")
    check("the 4th is refused with retry_after_ms", not fourth.allowed
          and fourth.retry_after_ms > 0, repr(fourth))
    peek = await a.rate_peek("api", "aio:2")
    check("rate_peek charges nothing", peek.allowed
          and (await a.rate_peek("api", "aio:2")).remaining == peek.remaining)


async def idempotency():
    runs = []

    async def work():
        runs.append(1)
        await asyncio.sleep(0)
        return f"run {len(runs)}"
    one = await a.once("aio:once", work)
    two = await b.once("aio:once", work)
    check("once() runs the coroutine once across two clients, both get its result",
          len(runs) == 1 and one == two == b"run 1", repr((runs, one, two)))

    async def failing():
        raise RuntimeError("first attempt")
    check("once(): the work's exception propagates",
          isinstance(await raised(a.once("aio:retry", failing)), RuntimeError))

    async def second():
        return b"second"
    check("... and frees the key at once: a retry runs", await b.once("aio:retry", second)
          == b"second")

    started, finish = asyncio.Event(), asyncio.Event()

    async def slow():
        started.set()
        await finish.wait()
        return b"slow result"

    async def must_not_run():
        raise AssertionError("ran twice")
    first = asyncio.create_task(a.once("aio:slow", slow))
    await asyncio.wait_for(started.wait(), 10)
    during = await raised(b.once("aio:slow", must_not_run))
    check("a repeat during the run raises InProgress", isinstance(during, InProgress),
          repr(during))
    asyncio.get_running_loop().call_later(0.3, finish.set)
    waited = await b.once("aio:slow", must_not_run, wait_ms=10_000)
    check("a repeat with wait_ms gets the first run's result",
          waited == b"slow result" and await first == b"slow result", repr(waited))

    cancel_me = asyncio.create_task(a.once("aio:cancelled", lambda: asyncio.sleep(60)))
    await until("the cancelled run's claim", lambda: a.dedup_get("aio:cancelled"))
    cancel_me.cancel()
    await asyncio.gather(cancel_me, return_exceptions=True)
    check("a cancelled once() frees the key: a retry runs",
          await b.once("aio:cancelled", second) == b"second")


async def secrets():
    await a.command("SECRET", "PUT", "aio/db", "hunter2")  # tests run as root (admin)
    got = await a.secret_get("aio/db")
    check("secret_get: the value, current", got is not None and got.value == b"hunter2"
          and got.state == "current", repr(got))
    check("secret_get of an unknown secret is None", await a.secret_get("aio/none") is None)
    match = await a.secret_verify("aio/db", "hunter2")
    miss = await a.secret_verify("aio/db", "nope")
    check("secret_verify: match with its version, a mismatch without",
          match.match and match.version == got.version and not miss.match
          and miss.version is None, repr((match, miss)))


async def state_and_cache():
    check("state_get of a missing key is None", await a.state_get("orders", "aio:none") is None)
    version = await a.state_set("orders", "aio:k", b"one")
    entry = await b.state_get("orders", "aio:k")
    check("state_set's version is what state_get shows", entry is not None
          and entry.version == version and entry.value == b"one", repr(entry))
    newer = await a.state_set("orders", "aio:k", "two", if_version=version)
    conflict = await raised(b.state_set("orders", "aio:k", "three", if_version=version))
    check("a stale if_version raises Conflict with the winning version",
          isinstance(conflict, Conflict) and conflict.version == newer, repr(conflict))
    check("state_delete", await a.state_delete("orders", "aio:k")
          and not await a.state_delete("orders", "aio:k"))
    await a.cache_set("users", "aio:u", "alice", ttl_ms=5000)
    got = await b.cache_get("users", "aio:u")
    check("cache_set then cache_get", got is not None and got.value == b"alice"
          and 0 < got.ttl_ms <= 5000, repr(got))
    check("cache_invalidate", await a.cache_invalidate("users", "aio:u", "aio:absent") == 1
          and await b.cache_get("users", "aio:u") is None)


async def events():
    ids = [await a.publish("aio/orders", f"before {i}") for i in range(3)]
    check("publish answers growing ids", ids == sorted(ids) and len(set(ids)) == 3, repr(ids))
    again = await a.publish("aio/orders", "once", dedup="aio-order-1")
    check("publish with dedup again answers the first id",
          await b.publish("aio/orders", "once", dedup="aio-order-1") == again)
    got = await a.read("aio/orders", "0")
    check("read from 0: all, in order", [e.id for e in got] == ids + [again], repr(got))

    async def publish_later():
        await asyncio.sleep(0.5)
        return [await b.publish("aio/orders", f"after {i}") for i in range(3)]
    publisher = asyncio.create_task(publish_later())
    followed = []
    async for event in a.follow("aio/orders", after="0", block_ms=2000):
        followed.append(event)
        if len(followed) == 7:
            break
    later = await publisher
    check("async for over follow(after='0'): what was there, then what came, in order",
          [e.id for e in followed] == ids + [again] + later
          and followed[-1].payload == b"after 2", repr([e.payload for e in followed]))
    resumed = await a.follow("aio/orders", after=followed[4].id).__anext__()
    check("follow(after=<kept id>) resumes after it", resumed.id == later[1], repr(resumed))
    end = await a.topic_end("aio/orders")
    newest = await b.publish("aio/orders", "after the end was taken")
    first = await a.follow("aio/orders", after=end, block_ms=2000).__anext__()
    check("topic_end() and follow from it: only what came after",
          end == later[2] and first.id == newest, repr((end, first)))


async def sessions():
    opened = await a.session_open("aio-user", 60_000, meta='{"app":"aio"}')
    check("session_open: an id and a token", len(opened.id) == 32
          and opened.token.startswith("v1."), repr(opened))
    version = await a.session_state_set(opened.id, "count=1")
    state = await b.session_state(opened.id)
    check("session_state_set and session_state", state.state == b"count=1"
          and state.state_version == version, repr(state))
    got = await b.session_get(opened.id)
    check("session_get", got is not None and got.user == "aio-user"
          and got.meta == '{"app":"aio"}', repr(got))
    resumed = await a.session_resume(opened.token)
    check("session_resume: the state and a new token",
          resumed.state == b"count=1" and resumed.token != opened.token, repr(resumed))
    check("the spent token is refused",
          isinstance(await raised(a.session_resume(opened.token)), Refused))
    follower = await a.follow_sessions()
    check("follow_sessions(): subscribed on return", follower.alive)
    check("next_handoff(timeout): None when no node drains, and the follower lives on",
          await follower.next_handoff(0.3) is None and follower.alive)
    await follower.close()
    check("close() ends it", not follower.alive)
    follower = await a.follow_sessions()
    closing = asyncio.create_task(follower.close())
    await asyncio.sleep(0)  # close() now waits for its reader to end
    closing.cancel()
    outcome = (await asyncio.gather(closing, return_exceptions=True))[0]
    await asyncio.sleep(0.1)  # the reader's own cancel is done by now
    check("a cancel of the task that runs close() is raised there (CancelledError), not "
          "swallowed, and the connection is closed all the same",
          isinstance(outcome, asyncio.CancelledError) and not follower.alive
          and not follower._subscriber._conn.is_connected, repr(outcome))
    check("session_close", await a.session_close(opened.id)
          and await a.session_get(opened.id) is None)


# -- ASGI --------------------------------------------------------------------------------------

async def middlewares():
    import httpx
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

    from baton.asgi import IdempotencyMiddleware, RateLimitMiddleware

    runs = {"hello": 0, "orders": 0, "slow": 0, "fail": 0, "raise": 0, "stream": 0, "big": 0,
            "stream_ended": []}
    slow_started, slow_finish = asyncio.Event(), asyncio.Event()
    app = FastAPI()

    @app.get("/hello")
    async def hello():
        runs["hello"] += 1
        return {"hello": runs["hello"]}

    @app.post("/orders")
    async def orders(request: Request):
        runs["orders"] += 1
        body = await request.json()
        response = JSONResponse({"order": runs["orders"], "item": body.get("item")},
                                status_code=201, headers={"Location": f"/orders/{runs['orders']}"})
        response.set_cookie("session", "abc")
        return response

    @app.post("/slow")
    async def slow():
        runs["slow"] += 1
        slow_started.set()
        await slow_finish.wait()
        return {"slow": runs["slow"]}

    @app.post("/fail")
    async def fail():
        runs["fail"] += 1
        return JSONResponse({"fail": runs["fail"]}, status_code=503)

    @app.patch("/raise")
    async def raise_():
        runs["raise"] += 1
        if runs["raise"] == 1:
            raise RuntimeError("the app fails once")
        return {"raise": runs["raise"]}

    @app.post("/stream")
    async def stream():
        runs["stream"] += 1
        run = runs["stream"]

        async def parts():
            try:
                yield b"part 1\n"
                if run == 1:
                    await asyncio.sleep(60)  # the client goes away meanwhile
                yield b"part 2\n"
            finally:
                runs["stream_ended"].append(run)
        return StreamingResponse(parts(), media_type="text/plain")

    @app.post("/big")
    async def big():
        runs["big"] += 1
        return PlainTextResponse("x" * 10_000, status_code=201,
                                 headers={"Location": f"/big/{runs['big']}"})

    app.add_middleware(IdempotencyMiddleware, baton=a)
    app.add_middleware(RateLimitMiddleware, baton=a, policy="http", limit=3, window_s=60,
                       key=lambda scope: dict(scope["headers"]).get(b"x-user", b"anon").decode())
    # The same middlewares in front of a batond that is not there (a socket nobody serves).
    nowhere = AsyncBaton(os.path.join(work, "nobody.sock"), timeout_s=2)
    down = FastAPI()

    @down.get("/down/hello")
    async def down_hello():
        return {"hello": "anyway"}

    @down.post("/down/orders")
    async def down_orders():
        runs["down"] = runs.get("down", 0) + 1
        return {"ran": True}

    down.add_middleware(IdempotencyMiddleware, baton=nowhere)
    down.add_middleware(RateLimitMiddleware, baton=nowhere, policy="http", limit=3)

    async def both(scope, receive, send):  # plain ASGI in front of the two apps
        target = down if scope.get("path", "").startswith("/down/") else app
        await target(scope, receive, send)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(both, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="critical"))
    serving = asyncio.create_task(server.serve())
    try:
        await until("uvicorn", lambda: asyncio.sleep(0, server.started), limit=20)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await rate_limit_over_http(http, runs)
            await idempotency_over_http(http, runs, slow_started, slow_finish)
            await idempotency_cut_short(http, port, runs)
            await idempotency_over_max_result_bytes(http, runs)
            await batond_out_of_reach_over_http(http, runs)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)


async def rate_limit_over_http(http, runs):
    answers = [await http.get("/hello", headers={"X-User": "u1"}) for _ in range(3)]
    check("RateLimitMiddleware: 3 requests pass, with RateLimit-Limit 3 and Remaining 2, 1, 0",
          [r.status_code for r in answers] == [200] * 3
          and [r.headers.get("ratelimit-limit") for r in answers] == ["3"] * 3
          and [r.headers.get("ratelimit-remaining") for r in answers] == ["2", "1", "0"]
          and all(int(r.headers.get("ratelimit-reset", "0")) > 0 for r in answers)
          and answers[0].headers.get("ratelimit-policy") == "3;w=60",
          repr([dict(r.headers) for r in answers]))
    refused = await http.get("/hello", headers={"X-User": "u1"})
    check("the 4th: 429, Retry-After, a JSON body, the app not run",
          refused.status_code == 429 and int(refused.headers.get("retry-after", "0")) >= 1
          and refused.json().get("error") == "too many requests"
          and refused.headers.get("ratelimit-remaining") == "0" and runs["hello"] == 3,
          f"{refused.status_code} {dict(refused.headers)} {refused.text} {runs}")
    other = await http.get("/hello", headers={"X-User": "u2"})
    check("another key (from the key callable) passes", other.status_code == 200
          and other.headers.get("ratelimit-remaining") == "2", repr(dict(other.headers)))


async def idempotency_over_http(http, runs, slow_started, slow_finish):
    def post(path, key, json, user="idem"):
        headers = {"X-User": user}
        if key is not None:
            headers["Idempotency-Key"] = key
        return http.post(path, json=json, headers=headers)

    first = await post("/orders", "order-1", {"item": "book"}, user="i1")
    repeat = await post("/orders", "order-1", {"item": "book"}, user="i2")
    check("IdempotencyMiddleware: the first request runs (201, Location, a cookie)",
          first.status_code == 201 and first.json() == {"order": 1, "item": "book"}
          and first.headers.get("location") == "/orders/1" and "set-cookie" in first.headers,
          f"{first.status_code} {dict(first.headers)} {first.text}")
    check("a repeat gets the stored status, headers and body; the app ran once",
          repeat.status_code == 201 and repeat.json() == first.json()
          and repeat.headers.get("location") == "/orders/1"
          and repeat.headers.get("idempotent-replayed") == "true"
          and "set-cookie" not in repeat.headers and runs["orders"] == 1,
          f"{repeat.status_code} {dict(repeat.headers)} {repeat.text} {runs}")
    other_body = await post("/orders", "order-1", {"item": "car"}, user="i3")
    check("the same key with another body: 422, the app not run",
          other_body.status_code == 422 and runs["orders"] == 1,
          f"{other_body.status_code} {other_body.text}")
    plain = [await post("/orders", None, {"item": "pen"}, user="i4") for _ in range(2)]
    check("without the header every request runs",
          [p.status_code for p in plain] == [201, 201] and runs["orders"] == 3, repr(runs))

    running = asyncio.create_task(post("/slow", "slow-1", {}, user="i5"))
    await asyncio.wait_for(slow_started.wait(), 20)
    during = await post("/slow", "slow-1", {}, user="i6")
    check("a repeat while the first runs: 409 with Retry-After",
          during.status_code == 409 and during.headers.get("retry-after") == "1"
          and runs["slow"] == 1, f"{during.status_code} {during.text}")
    slow_finish.set()
    done = await running
    after = await post("/slow", "slow-1", {}, user="i7")
    check("... then the first answers, and a later repeat gets its response",
          done.status_code == 200 and after.status_code == 200
          and after.json() == done.json() == {"slow": 1}
          and after.headers.get("idempotent-replayed") == "true", repr((done.text, after.text)))

    failed = [await post("/fail", "fail-1", {}, user=f"i8{n}") for n in range(2)]
    check("a 5xx is not stored: a retry with the key runs again",
          [f.status_code for f in failed] == [503, 503] and runs["fail"] == 2
          and [f.json() for f in failed] == [{"fail": 1}, {"fail": 2}], repr(runs))
    broke = await http.patch("/raise", json={}, headers={"Idempotency-Key": "raise-1",
                                                         "X-User": "i9"})
    retried = await http.patch("/raise", json={}, headers={"Idempotency-Key": "raise-1",
                                                           "X-User": "i10"})
    check("PATCH whose app raises: 500, the key freed, a retry runs",
          broke.status_code == 500 and retried.status_code == 200 and runs["raise"] == 2,
          f"{broke.status_code} {retried.status_code} {runs}")
    gets = [await http.get("/hello", headers={"Idempotency-Key": "get-1",
                                               "X-User": f"i11{n}"}) for n in range(2)]
    check("GET is never deduplicated", [g.json()["hello"] for g in gets]
          == [runs["hello"] - 1, runs["hello"]], repr([g.text for g in gets]))


async def idempotency_cut_short(http, port, runs):
    """A streamed response whose client goes away mid-stream: Starlette's StreamingResponse
    stops and returns as if done; what was sent is not stored, and a retry runs again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /stream HTTP/1.1\r\nHost: test\r\nIdempotency-Key: stream-1\r\n"
                 b"X-User: st1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                 b"\r\n{}")
    await writer.drain()
    got = b""
    while b"part 1" not in got:
        chunk = await asyncio.wait_for(reader.read(4096), 20)
        if not chunk:
            break
        got += chunk
    during = await http.post("/stream", json={}, headers={"Idempotency-Key": "stream-1",
                                                          "X-User": "st2"})
    check("a streamed response, its first part out: a repeat gets 409",
          b"part 1" in got and during.status_code == 409 and runs["stream"] == 1,
          f"{got!r} {during.status_code} {during.text}")
    writer.close()  # the client goes away mid-stream
    await writer.wait_closed()
    await until("the cut stream to end", lambda: asyncio.sleep(0, 1 in runs["stream_ended"]))
    answers = []
    for n in range(50):  # 409 while the first run's claim is being given up, then it runs
        retry = await http.post("/stream", json={}, headers={"Idempotency-Key": "stream-1",
                                                             "X-User": f"st3{n}"})
        answers.append((retry.status_code, retry.headers.get("idempotent-replayed"),
                        retry.text))
        if retry.status_code != 409:
            break
        await asyncio.sleep(0.1)
    check("the client went away mid-stream: nothing stored; a retry runs the app again and "
          "gets the whole body, never a cut one replayed",
          answers[-1] == (200, None, "part 1\npart 2\n") and runs["stream"] == 2
          and all(code == 409 for code, _, _ in answers[:-1]), repr((answers, runs)))
    replay = await http.post("/stream", json={}, headers={"Idempotency-Key": "stream-1",
                                                          "X-User": "st4"})
    check("... and that whole response is what a later repeat gets",
          replay.status_code == 200 and replay.text == "part 1\npart 2\n"
          and replay.headers.get("idempotent-replayed") == "true" and runs["stream"] == 2,
          f"{replay.status_code} {dict(replay.headers)} {replay.text!r}")


async def idempotency_over_max_result_bytes(http, runs):
    """batond's dedup.max_result_bytes is 4096 here: a 10 kB response is stored without its
    body, and a repeat does not run the app again."""
    def post(user, json=None):
        return http.post("/big", json=json or {}, headers={"Idempotency-Key": "big-1",
                                                           "X-User": user})
    first = await post("bg1")
    check("a response over dedup.max_result_bytes: the first request gets it whole",
          first.status_code == 201 and first.text == "x" * 10_000
          and "idempotency-body-omitted" not in first.headers,
          f"{first.status_code} {len(first.text)} {dict(first.headers)}")
    repeat = await post("bg2")
    check("... a repeat gets the stored status and headers, an empty body, Idempotent-Replayed "
          "and Idempotency-Body-Omitted; the app ran once",
          repeat.status_code == 201 and repeat.content == b""
          and repeat.headers.get("idempotent-replayed") == "true"
          and repeat.headers.get("idempotency-body-omitted") == "true"
          and repeat.headers.get("location") == "/big/1"
          and "content-type" not in repeat.headers and runs["big"] == 1,
          f"{repeat.status_code} {dict(repeat.headers)} {repeat.content[:100]!r} {runs}")
    other = await post("bg3", {"another": "body"})
    check("... and the same key with another request still gets 422",
          other.status_code == 422 and runs["big"] == 1, f"{other.status_code} {other.text}")


async def batond_out_of_reach_over_http(http, runs):
    passed = await http.get("/down/hello")
    check("batond out of reach: RateLimitMiddleware lets the request through (fail_open), "
          "without RateLimit fields", passed.status_code == 200
          and "ratelimit-remaining" not in passed.headers, f"{passed.status_code} {passed.text}")
    refused = await http.post("/down/orders", json={}, headers={"Idempotency-Key": "down-1"})
    check("... and IdempotencyMiddleware answers 503 with Retry-After, the app not run",
          refused.status_code == 503 and refused.headers.get("retry-after") == "1"
          and "down" not in runs, f"{refused.status_code} {refused.text} {runs}")



async def main():
    global a, b
    a, b = AsyncBaton(sock), AsyncBaton(sock)  # two apps on one host
    for name, part in [("basics", basics), ("leases", leases), ("lock()", locks),
                       ("lock() lost by FORCE", lock_lost_by_force),
                       ("lock() lost with Redis paused", lock_lost_with_redis_paused),
                       ("lock() lost with batond paused", lock_lost_with_batond_paused),
                       ("rate limits", rate_limits), ("idempotency", idempotency),
                       ("secrets", secrets), ("state and cache", state_and_cache),
                       ("events", events), ("sessions", sessions),
                       ("ASGI middlewares", middlewares)]:
        try:
            await asyncio.wait_for(part(), 90)
        except Exception:
            check(f"{name}: ran without an exception", False, traceback.format_exc())
    await a.close()
    await b.close()


began = time.monotonic()
try:
    kek_file = os.path.join(work, "aio.kek")
    with open(kek_file, "w") as f:
        f.write("a1" * 32 + "\n")
    redis_sock = start_redis(work, procs)
    redis_proc = procs[0]
    batond_proc, sock, _ = start_batond(
        batond, work, procs, "aio", redis_sock, free_port(),
        f"secrets:\n  keks:\n    - {{id: a1, file: {kek_file}}}\n"
        "rate:\n  policies:\n"
        "    - {name: api, windows: [{window_ms: 3600000, limit: 3}]}\n"
        "    - {name: http, windows: [{window_ms: 60000, limit: 3}]}\n"
        "state:\n  namespaces:\n    - {name: orders}\n"
        "cache:\n  namespaces:\n    - {name: users, ttl_ms: 60000}\n"
        "dedup:\n  max_result_bytes: 4096\n")  # the idempotency middleware's large response
    asyncio.run(main())
finally:
    for proc in procs:  # none left paused by a failed part
        proc.send_signal(signal.SIGCONT)
    stop_all(procs)
    shutil.rmtree(work, ignore_errors=True)

print(f"     ({time.monotonic() - began:.1f} s)")
sys.exit(check.exit_code())
