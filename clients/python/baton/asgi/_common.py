"""What baton's ASGI middlewares share: ASGI 3's types (no framework needed), a small JSON
answer, the default rate key, and the errors that mean batond could not answer."""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Iterable, MutableMapping

import redis

from ..errors import Unavailable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# batond out of reach (no reply, a refused socket) or answering that Redis is: the middleware's
# own failure handling applies, not the app's.
NO_ANSWER = (redis.ConnectionError, redis.TimeoutError, Unavailable)


async def send_json(send: Send, status: int, document: dict[str, Any],
                    headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """A whole small JSON response."""
    body = json.dumps(document).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def client_address(scope: Scope) -> str:
    """The default rate key: the peer's address as the server saw it (behind a proxy, pass a
    `key` that reads the header your proxy sets)."""
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"
