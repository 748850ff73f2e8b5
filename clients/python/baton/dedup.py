"""Idempotency keys: DEDUP CLAIM, DONE and GET (protocol/API.md, "Idempotency keys"), and
`once()`, which runs a piece of work once across the fleet and gives its stored result to
every repeat. A claim belongs to the connection that made it: closing that connection before
DONE releases it at once, so a retry can proceed."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal, Union, cast

from ._link import Link
from ._replies import (Arg, as_fields, expect_ok, int_field, optional_bytes_field,
                       text_field)
from ._schedule import DoneAttempts
from .errors import BatonError, UnexpectedReply

ClaimStatus = Literal["new", "pending", "done"]
Work = Callable[[], Union[bytes, str]]
TooLarge = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Claim:
    """`new`: this caller is first and does the work; `pending`: another caller works on it,
    for at most `ttl_ms` more; `done`: finished, `result` holds what DONE stored and
    `ttl_ms` is how long it is kept. `result` is None unless done."""

    status: ClaimStatus
    result: bytes | None
    ttl_ms: int


class InProgress(Exception):
    """once() found the work being done by another caller (a claim `pending`) and was not
    asked to wait for it, or waited `wait_ms` in vain. `ttl_ms`: how long that claim may
    still last. Not a BatonError: batond refused nothing."""

    def __init__(self, key: str, ttl_ms: int) -> None:
        super().__init__(f"the work of idempotency key {key!r} is being done by another "
                         f"caller (its claim lasts at most {ttl_ms} ms more)")
        self.key = key
        self.ttl_ms = ttl_ms


def _claim_from(reply: object) -> Claim:
    fields = as_fields(reply)
    status = text_field(fields, "status")
    if status not in ("new", "pending", "done"):
        raise UnexpectedReply(f"unknown DEDUP status {status!r}")
    return Claim(status=cast(ClaimStatus, status), result=optional_bytes_field(fields, "result"),
                 ttl_ms=int_field(fields, "ttl_ms"))


def done_args(key: str, result: bytes | str, ttl_ms: int | None) -> list[Arg]:
    """DEDUP DONE's arguments (pure: baton.aio sends the same)."""
    args: list[Arg] = ["DEDUP", "DONE", key, result]
    if ttl_ms is not None:
        args.append(ttl_ms)
    return args


def _complete_on(link: Link, key: str, result: bytes | str, ttl_ms: int | None) -> None:
    expect_ok(link.call(*done_args(key, result, ttl_ms)))


def _complete_for_sure(link: Link, key: str, result: bytes, ttl_ms: int | None,
                       too_large: TooLarge | None = None) -> None:
    """DONE, sent again while batond answers Unknown or Unavailable, for up to 30 s, and
    `too_large(result)` stored instead of a result DONE refuses for its size
    (_schedule.DoneAttempts, which baton.aio follows too)."""
    attempts = DoneAttempts(result, too_large)
    while True:
        try:
            _complete_on(link, key, attempts.result, ttl_ms)
            return
        except BatonError as error:
            pause = attempts.pause_after(error)
            if pause is None:
                raise
            time.sleep(pause)


class DedupCalls:
    _link: Link

    def claim(self, key: str, ttl_ms: int) -> Claim:
        """DEDUP CLAIM. On a shared Baton the claim belongs to the pooled connection that
        made it and lasts until DONE or `ttl_ms` (pooled connections stay open); `once()`
        claims on a connection of its own, so that a failed run frees the key at once."""
        return _claim_from(self._link.call("DEDUP", "CLAIM", key, ttl_ms))

    def complete(self, key: str, result: bytes | str, ttl_ms: int | None = None) -> None:
        """DEDUP DONE: stores `result` for later claims (kept `ttl_ms`, default the daemon's
        `dedup.result_ttl_ms`). Raises NotHeld when this daemon holds no claim on the key or
        it is done with another result; Unknown when it may or may not be stored (send the
        same DONE again)."""
        _complete_on(self._link, key, result, ttl_ms)

    def dedup_get(self, key: str) -> Claim | None:
        """DEDUP GET: None when nobody claimed the key; else its claim, pending or done."""
        reply = self._link.call("DEDUP", "GET", key)
        return None if reply is None else _claim_from(reply)

    def once(self, key: str, work: Work, ttl_ms: int = 60_000,
             result_ttl_ms: int | None = None, wait_ms: int = 0, poll_ms: int = 50,
             too_large: TooLarge | None = None) -> bytes:
        """Runs `work` once across the fleet for `key` and answers its result; a repeat gets
        the stored result without running anything. `work` returns bytes or str (stored as
        UTF-8); every caller, the first included, gets the stored bytes.

        The claim lasts `ttl_ms` (the work should finish within it) and is made on a
        connection of its own: if `work` raises, that connection is closed, the claim is
        released at once, and the exception propagates, so a retry runs the work again.

        A repeat that comes while the first run works finds the claim `pending`. With
        `wait_ms` 0 (the default) it raises InProgress at once; otherwise it asks again every
        `poll_ms` until the result is stored (answered), the first claimer gives up (this
        caller then runs the work), or `wait_ms` passes (InProgress). With
        `socket.idle_timeout_ms` set on batond (off by default), work that runs longer than it
        loses the claim (batond closes the silent connection): keep the two apart.

        A result larger than batond's `dedup.max_result_bytes` is refused by DONE (OtherError,
        ERR): the claim is released and a retry runs the work again. With `too_large`, what
        `too_large(result)` answers (a smaller record the repeats recognise) is stored
        instead, and this caller still gets the whole result."""
        deadline = time.monotonic() + wait_ms / 1000
        claimer = self._link.dedicated()
        try:
            while True:
                claim = _claim_from(claimer.call("DEDUP", "CLAIM", key, ttl_ms))
                if claim.status == "done":
                    return claim.result if claim.result is not None else b""
                if claim.status == "new":
                    produced = work()
                    result = produced.encode() if isinstance(produced, str) else produced
                    _complete_for_sure(claimer, key, result, result_ttl_ms, too_large)
                    return result
                if time.monotonic() >= deadline:
                    raise InProgress(key, claim.ttl_ms)
                time.sleep(min(poll_ms / 1000, max(0.0, deadline - time.monotonic())))
        finally:
            claimer.close()
