"""baton for asyncio: `AsyncBaton`, the same families and reply types as `baton.Baton` over
redis.asyncio, with `async with baton.lock(name)` cancelling its block when the lease is lost
and `async for event in baton.follow(topic, after=id)`. See clients/python/README.md, "asyncio
and ASGI"."""
from __future__ import annotations

from .breakers import AsyncBreaker
from .client import AsyncBaton
from .elect import AsyncLeaderObserver, AsyncLeadership
from .secret_watch import AsyncSecretWatcher
from .sessions import AsyncSessionFollower

__all__ = ["AsyncBaton", "AsyncSessionFollower", "AsyncLeadership", "AsyncLeaderObserver",
           "AsyncBreaker", "AsyncSecretWatcher"]
