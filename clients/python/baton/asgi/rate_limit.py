"""RateLimitMiddleware: RATE CHECK per HTTP request, with the RateLimit fields on every answer
and 429 with Retry-After when the policy refuses."""
from __future__ import annotations

import logging
import math
from typing import Callable

from ..aio import AsyncBaton
from ._common import (NO_ANSWER, ASGIApp, Message, Receive, Scope, Send, client_address,
                      send_json)

log = logging.getLogger("baton.asgi")


class RateLimitMiddleware:
    """RATE CHECK `policy` for each HTTP request, keyed by `key(scope)` (default: the client's
    address), charging `cost(scope)` (default 1).

    Fields, as draft-ietf-httpapi-ratelimit-headers-06 (December 2022; the last draft with
    one field per value, before -07 merged them into `RateLimit`): `RateLimit-Limit` (the
    `limit` given here: RATE CHECK does not answer the policy's limit, so pass its tightest
    window's, as configured in batond), `RateLimit-Remaining`, `RateLimit-Reset` (seconds until
    the window is full again, rounded up), and `RateLimit-Policy` (`<limit>;w=<window_s>`) when
    `window_s` is given. A refused request gets 429, `Retry-After` (seconds, rounded up) and a
    JSON body; the app does not see it.

    batond out of reach (no answer, or Unavailable): with `fail_open` (the default) the
    request goes through without fields and a warning is logged; otherwise 503. (A policy's
    own failure mode in batond, for Redis out of reach, answers before this ever happens.)"""

    def __init__(self, app: ASGIApp, baton: AsyncBaton, policy: str, limit: int,
                 key: Callable[[Scope], str] = client_address,
                 cost: Callable[[Scope], int] | None = None, window_s: int | None = None,
                 fail_open: bool = True) -> None:
        self.app = app
        self.baton = baton
        self.policy = policy
        self.limit = limit
        self.key = key
        self.cost = cost
        self.window_s = window_s
        self.fail_open = fail_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            decision = await self.baton.check(self.policy, self.key(scope),
                                              self.cost(scope) if self.cost else 1)
        except NO_ANSWER as error:
            if not self.fail_open:
                await send_json(send, 503, {"error": "rate limiter unavailable"},
                                [(b"retry-after", b"1")])
                return
            log.warning("rate policy %s not checked, request let through: %s", self.policy,
                        error)
            await self.app(scope, receive, send)
            return
        fields = [(b"ratelimit-limit", str(self.limit).encode()),
                  (b"ratelimit-remaining", str(max(0, decision.remaining)).encode()),
                  (b"ratelimit-reset", str(math.ceil(decision.reset_ms / 1000)).encode())]
        if self.window_s is not None:
            fields.append((b"ratelimit-policy", f"{self.limit};w={self.window_s}".encode()))
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after_ms / 1000))
            await send_json(send, 429, {"error": "too many requests",
                                        "retry_after_ms": decision.retry_after_ms},
                            fields + [(b"retry-after", str(retry_after).encode())])
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + fields
            await send(message)

        await self.app(scope, receive, send_with_fields)
