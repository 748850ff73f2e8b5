"""IdempotencyMiddleware: the `Idempotency-Key` header on POST and PATCH, fleet-wide through
batond's DEDUP (AsyncBaton.once): the first request runs and its response is stored; repeats
get it back, 409 while the first runs, 422 for the same key with another request."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Callable, Iterable

from ..aio import AsyncBaton
from ..dedup import InProgress
from ..errors import BatonError
from ._common import NO_ANSWER, ASGIApp, Headers, Message, Receive, Scope, Send, send_json

log = logging.getLogger("baton.asgi")


class _DoNotStore(Exception):
    """The response was sent, and must not be replayed (a 5xx, or one cut short: a retry
    should run again)."""


class _AppRaised(Exception):
    """The app's own exception, carried past once() (which releases the claim) to be raised
    again as it was, apart from the middleware's own errors."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


# Not replayed: what belongs to one exchange (the connection, the date, cookies set for that
# client's session) or to the current request (its rate-limit fields, added again anyway).
_NOT_STORED = {b"date", b"server", b"connection", b"keep-alive", b"transfer-encoding",
               b"set-cookie", b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset",
               b"ratelimit-policy", b"retry-after"}
# Not replayed either when the body is not: the fields that describe the body itself.
_DESCRIBE_BODY = {b"content-length", b"content-type", b"content-encoding", b"content-range",
                  b"content-md5", b"digest", b"content-digest", b"repr-digest", b"etag"}

# Sent with a replay, also by the Node library (clients/node): keep the names identical.
REPLAYED = b"idempotent-replayed"
BODY_OMITTED = b"idempotency-body-omitted"


class IdempotencyMiddleware:
    """The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header) on
    unsafe, non-idempotent methods (`methods`, default POST and PATCH), fleet-wide through
    batond's DEDUP (AsyncBaton.once):

    - The first request with a key runs; its status, headers (all but those of one exchange:
      Date, Server, Set-Cookie, hop-by-hop and rate-limit fields) and body are stored for
      `result_ttl_ms` (default: batond's `dedup.result_ttl_ms`, 24 h), and sent as they come.
    - A repeat gets the stored response, with `Idempotent-Replayed: true`; the app does not
      run.
    - A repeat while the first still runs gets 409 (with Retry-After: 1).
    - The same key with another request (method, path, query or body differ) gets 422: the
      request is fingerprinted (SHA-256), and the fingerprint is stored with the response.
      (While the first runs nothing is stored yet, so any repeat then gets 409.)
    - A response of 500 or more is not stored, nor one the app raised on, nor one cut short
      (the client went away before the last body message: Starlette's StreamingResponse
      then stops and returns as if done): the claim is released at once, and a retry runs
      again.
    - A response too large for batond's `dedup.max_result_bytes` (the stored record is
      the body in base64 plus the headers, so about 3/4 of it is room for the body) is
      stored without its body: a repeat gets the stored status and headers, less those that
      describe the body (Content-Length, Content-Type, ETag, ...), an empty body, and
      `Idempotent-Replayed: true` with `Idempotency-Body-Omitted: true` (the work was done;
      the response cannot be shown again). The app does not run again.
    - Without the header the request goes through (`required=True`: 400 instead), and other
      methods are never touched.

    Keys are scoped to `scope_of(scope)` (default: none; pass the authenticated user's id,
    as the draft advises, so that two clients' keys never meet) and to the path, and hashed
    into the DEDUP key `<prefix><sha256>`. The request body is read whole before the app
    runs, and the response is kept whole to be stored. A run has `claim_ttl_ms` (default
    60 s) to finish; past it a repeat runs again. batond out of reach: 503 with
    Retry-After: 1."""

    def __init__(self, app: ASGIApp, baton: AsyncBaton, claim_ttl_ms: int = 60_000,
                 result_ttl_ms: int | None = None,
                 scope_of: Callable[[Scope], str] = lambda scope: "",
                 methods: Iterable[str] = ("POST", "PATCH"), required: bool = False,
                 prefix: str = "idem:", max_key_length: int = 255) -> None:
        self.app = app
        self.baton = baton
        self.claim_ttl_ms = claim_ttl_ms
        self.result_ttl_ms = result_ttl_ms
        self.scope_of = scope_of
        self.methods = {m.upper() for m in methods}
        self.required = required
        self.prefix = prefix
        self.max_key_length = max_key_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].upper() not in self.methods:
            await self.app(scope, receive, send)
            return
        key = _header(scope, b"idempotency-key")
        if key is None:
            if self.required:
                await send_json(send, 400, {"error": "an Idempotency-Key header is required"})
            else:
                await self.app(scope, receive, send)
            return
        if not 0 < len(key) <= self.max_key_length or not key.isascii():
            await send_json(send, 400, {"error": "the Idempotency-Key header must be 1 to "
                                                 f"{self.max_key_length} ASCII characters"})
            return
        body, receive_again = await _read_body(receive)
        fingerprint = hashlib.sha256(b"\n".join([
            scope["method"].upper().encode(), scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""), body])).hexdigest()
        dedup_key = self.prefix + hashlib.sha256("\n".join(
            [self.scope_of(scope), scope["path"], key]).encode()).hexdigest()

        sent = _Recorder(send)

        async def run_once() -> bytes:
            try:
                await self.app(scope, receive_again, sent.send)
            except Exception as error:
                raise _AppRaised(error) from error
            if sent.status is None or sent.status >= 500:
                raise _DoNotStore()
            if not sent.complete:
                log.warning("response to idempotency key %r cut short (the client went "
                            "away?): not stored, a retry runs again", key)
                raise _DoNotStore()
            return sent.record(fingerprint)

        def without_body(record: bytes) -> bytes:
            log.warning("response to idempotency key %r (%d bytes stored) is over batond's "
                        "dedup.max_result_bytes: stored without its body", key, len(record))
            return sent.record(fingerprint, with_body=False)

        try:
            stored = await self.baton.once(dedup_key, run_once, ttl_ms=self.claim_ttl_ms,
                                           result_ttl_ms=self.result_ttl_ms,
                                           too_large=without_body)
        except _DoNotStore:
            return
        except _AppRaised as raised:
            raise raised.error
        except InProgress:
            await send_json(send, 409, {"error": "a request with this Idempotency-Key is "
                                                 "being processed"}, [(b"retry-after", b"1")])
            return
        except (*NO_ANSWER, BatonError) as error:
            if sent.started:  # the app answered; only storing it failed
                log.warning("response to idempotency key %r sent but not stored: %s", key,
                            error)
                return
            if isinstance(error, NO_ANSWER):
                await send_json(send, 503, {"error": "idempotency keys unavailable"},
                                [(b"retry-after", b"1")])
                return
            raise
        if sent.started:
            return  # this request ran the app, and its response is out
        await _replay(send, stored, fingerprint)


class _Recorder:
    """Forwards the app's response and keeps a copy to store. `complete` once the last body
    message (`more_body` false) went out: only then is the copy the whole response."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None
        self.headers: Headers = []
        self.body = bytearray()
        self.complete = False

    @property
    def started(self) -> bool:
        return self.status is not None

    async def send(self, message: Message) -> None:
        last = False
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            last = not message.get("more_body", False)
        await self._send(message)
        if last:  # sent (the server took it) without raising
            self.complete = True

    def record(self, fingerprint: str, with_body: bool = True) -> bytes:
        """The stored form: version 1 with the body in base64; without it, `"body": null`
        (a repeat gets the status and headers, less those that describe the body)."""
        left_out = _NOT_STORED if with_body else _NOT_STORED | _DESCRIBE_BODY
        kept = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers
                if k.lower() not in left_out]
        body = base64.b64encode(bytes(self.body)).decode() if with_body else None
        return json.dumps({"v": 1, "fingerprint": fingerprint, "status": self.status,
                           "headers": kept, "body": body}).encode()


async def _replay(send: Send, stored: bytes, fingerprint: str) -> None:
    try:
        record = json.loads(stored)
        status, headers = int(record["status"]), record["headers"]
        omitted = record["body"] is None
        body = b"" if omitted else base64.b64decode(record["body"])
        theirs = record["fingerprint"]
    except (ValueError, KeyError, TypeError) as error:
        log.error("a stored idempotent response cannot be read: %s", error)
        await send_json(send, 500, {"error": "the stored response cannot be read"})
        return
    if theirs != fingerprint:
        await send_json(send, 422, {"error": "this Idempotency-Key was used with another "
                                             "request"})
        return
    marks = [(REPLAYED, b"true")] + ([(BODY_OMITTED, b"true")] if omitted else [])
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
                + marks})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that gives it to the app again (then what the
    server sends next: a disconnect)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app will hear it
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    given = False

    async def receive_again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, receive_again
