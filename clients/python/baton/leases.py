"""Leases: named locks with a time to live and a fencing token that grows with every grant
(protocol/API.md, "Leases"). batond ties a lease to the connection that acquired it: closing
that connection releases it, and a KEEP lease is renewed by batond while it stays open."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator

from ._follow import message_of
from ._link import Link
from ._loss import LossFlag, LossWatch, LostCallback
from ._replies import (Arg, as_fields, as_text, expect_ok, int_field, optional_text_field,
                       text_field)
from .errors import Lost, UnexpectedReply


@dataclass(frozen=True)
class Lease:
    """A grant. `valid_until` is `validity_ms` counted on this process's monotonic clock
    (time.monotonic()) from before the request was sent, so it is never later than the
    validity batond measured from when it sent the request on to Redis."""

    name: str
    token: int
    validity_ms: int
    valid_until: float


@dataclass(frozen=True)
class LeaseInfo:
    """LEASE INFO: `state` is "held" or "lock-delay"; `node`, `client` and `meta` are empty
    unless the caller is the holder's uid or an admin."""

    state: str
    token: int
    remaining_ms: int
    node: str
    client: str
    meta: str


@dataclass(frozen=True)
class LeaseEvent:
    """A change of a lease heard on `lease:<name>`: `event` is "acquired", "released",
    "expired" or "lost" (protocol/API.md, "LEASE WATCH"), under `token`, on `node`."""

    event: str
    token: int
    node: str


class HeldLease(int, LossFlag):
    """What `lock()` gives its block: the fencing token (an int: pass it wherever a token
    goes), the grant (`lease`), and whether the lease was lost while the block runs: `lost`
    (a threading.Event), `lost_reason`, and `check()`, which raises Lost then."""

    name: str
    lease: Lease

    def __new__(cls, lease: Lease, on_lost: LostCallback | None = None) -> HeldLease:
        held = super().__new__(cls, lease.token)
        held.name = lease.name
        held.lease = lease
        held._init_loss(f"the lease {lease.name!r} under token {lease.token}", on_lost)
        return held

    @property
    def token(self) -> int:
        return int(self)


def acquire_args(name: str, ttl_ms: int, keep: bool = False, wait_ms: int | None = None,
                 meta: str | None = None) -> list[Arg]:
    """LEASE ACQUIRE's arguments (pure: baton.aio sends the same)."""
    args: list[Arg] = ["LEASE", "ACQUIRE", name, ttl_ms]
    if wait_ms is not None:
        args += ["WAIT", wait_ms]
    if keep:
        args.append("KEEP")
    if meta is not None:
        args += ["META", meta]
    return args


def renew_args(name: str, token: int, ttl_ms: int | None = None) -> list[Arg]:
    args: list[Arg] = ["LEASE", "RENEW", name, token]
    if ttl_ms is not None:
        args.append(ttl_ms)
    return args


def lease_info_from(reply: object) -> LeaseInfo | None:
    """LEASE INFO's reply: None when the lease is free."""
    if reply is None:
        return None
    fields = as_fields(reply)
    return LeaseInfo(state=text_field(fields, "state"), token=int_field(fields, "token"),
                     remaining_ms=int_field(fields, "remaining_ms"),
                     node=optional_text_field(fields, "node") or "",
                     client=optional_text_field(fields, "client") or "",
                     meta=optional_text_field(fields, "meta") or "")


def lease_event_from(message: object) -> LeaseEvent | None:
    """A `lease:<name>` message's payload, "<event> <token> <node>"; None for anything else
    on the connection (a confirmation, a pong)."""
    payload = message_of(message)
    if payload is None:
        return None
    words = as_text(payload).split(" ")
    if len(words) < 2 or not words[1].isdigit():
        raise UnexpectedReply(f"a lease message without a token: {payload!r:.200}")
    return LeaseEvent(event=words[0], token=int(words[1]),
                      node=words[2] if len(words) > 2 else "")


def lease_loss(event: LeaseEvent, token: int) -> str | None:
    """Why `event` means that the holder of `token` lost the lease, or None. Events of an
    earlier holder (a lower token) say nothing about it."""
    if event.token == token and event.event == "lost":
        return "batond could not renew it within its safe validity"
    if event.token == token and event.event in ("expired", "released"):
        return f"it was {event.event} while it was held"
    if event.event == "acquired" and event.token > token:
        return f"node {event.node} acquired it under token {event.token}"
    return None


def acquire_on(link: Link, name: str, ttl_ms: int, keep: bool = False,
               wait_ms: int | None = None, meta: str | None = None) -> Lease:
    args = acquire_args(name, ttl_ms, keep=keep, wait_ms=wait_ms, meta=meta)
    sent_at = time.monotonic()
    reply = link.call_waiting(wait_ms, *args) if wait_ms else link.call(*args)
    return _lease_from(name, reply, sent_at)


def release_on(link: Link, name: str, token: int) -> None:
    expect_ok(link.call("LEASE", "RELEASE", name, token))


def _lease_from(name: str, reply: object, sent_at: float) -> Lease:
    fields = as_fields(reply)
    validity_ms = int_field(fields, "validity_ms")
    return Lease(name=name, token=int_field(fields, "token"), validity_ms=validity_ms,
                 valid_until=sent_at + validity_ms / 1000)


class LeaseCalls:
    _link: Link

    def acquire(self, name: str, ttl_ms: int, keep: bool = False, wait_ms: int | None = None,
                meta: str | None = None) -> Lease:
        """LEASE ACQUIRE. Raises Denied when another holds it (after `wait_ms` of queueing, if
        given). On a shared Baton the lease belongs to whichever pooled connection ran the
        call, and a connection that holds it already gets it again under the same token: for
        mutual exclusion between threads of one process, use `lock()`."""
        return acquire_on(self._link, name, ttl_ms, keep=keep, wait_ms=wait_ms, meta=meta)

    def renew(self, name: str, token: int, ttl_ms: int | None = None) -> Lease:
        """LEASE RENEW: extends, never shortens. Raises Lost once it lapsed or is another's."""
        sent_at = time.monotonic()
        return _lease_from(name, self._link.call(*renew_args(name, token, ttl_ms)), sent_at)

    def release(self, name: str, token: int) -> None:
        """LEASE RELEASE. Raises NotHeld (not held under that token) or Lost (it had lapsed)."""
        release_on(self._link, name, token)

    def lease_info(self, name: str) -> LeaseInfo | None:
        """LEASE INFO: None when the lease is free."""
        return lease_info_from(self._link.call("LEASE", "INFO", name))

    @contextlib.contextmanager
    def lock(self, name: str, ttl_ms: int = 10_000, wait_ms: int | None = None,
             meta: str | None = None,
             on_lost: LostCallback | None = None) -> Iterator[HeldLease]:
        """Holds the lease `name` while the block runs and gives it a HeldLease, which is the
        fencing token (an int):

            with baton.lock("nightly-report") as token:
                for part in parts:
                    token.check()  # raises Lost once the lease is gone
                    write(part, fenced_by=token)

        The lease is taken with KEEP on a connection of its own, so batond renews it for as
        long as the block runs, and it is released when the block ends (and, should the
        release fail, when that connection closes). Raises Denied if another holds it (after
        `wait_ms` of queueing, if given).

        While the block runs, a second connection follows `lease:<name>` (subscribed before
        the acquire, so nothing slips past) and a thread marks the lease lost when batond says
        it could not renew it (Redis unreachable: a notice before its safe validity ends), it
        expired or was released (FORCE), another token took it, or the watch connection broke
        or stayed silent for half the TTL (at least 1 s). The block is not interrupted: it
        sees `token.lost` set, `token.check()` raise Lost, and `on_lost(reason)` is called
        from that thread.
        Guard the resource with the token all the same. A loss also shows at the end of a
        block that ended normally, as Lost from the release. Each lock() uses two
        connections. With `socket.idle_timeout_ms` set on batond (off by default), a block
        longer than it loses the lease: batond closes the silent holder's connection."""
        watch = LossWatch(self._link, f"lease:{name}", lease_event_from, lease_loss, ttl_ms)
        try:  # from here on, every way out closes the watch (its thread, its connection)
            holder = self._link.dedicated()  # connects: may raise
            try:
                lease = acquire_on(holder, name, ttl_ms, keep=True, wait_ms=wait_ms, meta=meta)
                held = HeldLease(lease, on_lost)
                lost_already = watch.arm(held, lease.token)
                if lost_already is not None:
                    with contextlib.suppress(Exception):
                        release_on(holder, name, lease.token)
                    raise Lost("LOST", f"the lease {name!r} was lost before the block began: "
                                       f"{lost_already}")
                try:
                    yield held
                except BaseException:
                    watch.disarm()
                    # Best effort: whatever fails here, closing the connection releases it.
                    with contextlib.suppress(Exception):
                        release_on(holder, name, lease.token)
                    raise
                watch.disarm()  # our own release is no loss
                release_on(holder, name, lease.token)
            finally:
                holder.close()
        finally:
            watch.close()
