"""AsyncBaton: the asyncio client of one batond, over redis.asyncio (python3-redis 4.3, RESP2).
The same families, calls and reply types as the sync Baton, each in its own module as a mixin;
arguments are built and replies read by the sync modules' functions, so the two never differ
in what they send or how they read it."""
from __future__ import annotations

from types import TracebackType

from .._replies import Arg
from ..client import socket_path_from
from ._link import AsyncLink
from .breakers import AsyncBreakerCalls
from .cache import AsyncCacheCalls
from .dedup import AsyncDedupCalls
from .elect import AsyncElectionCalls
from .events import AsyncEventCalls
from .leases import AsyncLeaseCalls
from .rate import AsyncRateCalls
from .secret_watch import AsyncSecretWatchCalls
from .secrets import AsyncSecretCalls
from .sessions import AsyncSessionCalls
from .state import AsyncStateCalls


class AsyncBaton(AsyncLeaseCalls, AsyncRateCalls, AsyncDedupCalls, AsyncSecretCalls,
                 AsyncStateCalls, AsyncCacheCalls, AsyncEventCalls, AsyncSessionCalls,
                 AsyncElectionCalls, AsyncBreakerCalls, AsyncSecretWatchCalls):
    """A client of the local batond for one event loop: each call takes a pooled connection,
    except `lock()`, `once()`, `campaign()` and the followers and watchers, which use
    connections of their own.

    Error replies raise the BatonError subclasses of baton.errors. No reply (batond not
    running, the socket missing, no answer within `timeout_s`) raises python3-redis'
    ConnectionError or TimeoutError. A call cancelled while it waits drops its connection.
    Make it inside the loop that uses it, and `await close()` (or `async with`) at the end."""

    def __init__(self, socket_path: str | None = None, timeout_s: float | None = 10.0) -> None:
        self._link = AsyncLink(socket_path_from(socket_path), timeout_s)

    @property
    def socket_path(self) -> str:
        return self._link.socket_path

    async def command(self, *args: Arg) -> object:
        """Any command, its reply untyped, its error as a BatonError."""
        return await self._link.call(*args)

    async def ping(self) -> bool:
        return await self._link.call("PING") in (b"PONG", "PONG", True)

    async def close(self) -> None:
        """Closes every pooled connection."""
        await self._link.close()

    async def __aenter__(self) -> AsyncBaton:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncBaton({self.socket_path!r})"
