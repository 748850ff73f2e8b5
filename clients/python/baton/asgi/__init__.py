"""ASGI 3 middlewares over AsyncBaton, for any ASGI framework (FastAPI, Starlette, plain ASGI);
nothing here imports one.

- RateLimitMiddleware (rate_limit.py): RATE CHECK per request; the RateLimit fields on every
  answer and 429 with Retry-After when the policy refuses.
- IdempotencyMiddleware (idempotency.py): the `Idempotency-Key` header on POST and PATCH: the
  first request with a key runs and its response is stored fleet-wide (DEDUP, through
  AsyncBaton.once); a repeat gets the stored response; a repeat while the first runs gets
  409; the same key with another request gets 422."""
from __future__ import annotations

from ._common import client_address
from .idempotency import IdempotencyMiddleware
from .rate_limit import RateLimitMiddleware

__all__ = ["RateLimitMiddleware", "IdempotencyMiddleware", "client_address"]
