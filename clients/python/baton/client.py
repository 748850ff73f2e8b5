"""Baton: the typed client of one batond, over its local Unix socket. Each family's calls live
in their own module (leases, rate, dedup, secrets, state, cache, events, sessions, elect,
breakers) as a mixin; this one
finds the socket, holds the connections, and joins the families into one class."""
from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from ._link import Link
from ._replies import Arg
from .breakers import BreakerCalls
from .cache import CacheCalls
from .dedup import DedupCalls
from .elect import ElectionCalls
from .events import EventCalls
from .leases import LeaseCalls
from .rate import RateCalls
from .secrets import SecretCalls
from .sessions import SessionCalls
from .state import StateCalls

# batond's `socket.path` default (daemon/config.hpp, deploy/baton.example.yaml); batonctl
# looks in the same places in the same order.
DEFAULT_SOCKET = "/run/baton/baton.sock"


def socket_path_from(argument: str | None) -> str:
    """The argument, else $BATON_SOCKET, else batond's default."""
    return argument or os.environ.get("BATON_SOCKET") or DEFAULT_SOCKET


class Baton(LeaseCalls, RateCalls, DedupCalls, SecretCalls, StateCalls, CacheCalls,
            EventCalls, SessionCalls, ElectionCalls, BreakerCalls):
    """A client of the local batond. Safe to share between threads: each call takes a pooled
    connection (python3-redis' pool), except `lock()`, `once()` and `campaign()`, which use a
    connection of their own for what batond ties to a connection, and the followers and
    watchers (`lock()` too), each a connection of its own read by a daemon thread.

    Error replies raise BatonError subclasses (errors.py). No reply at all (batond not
    running, the socket missing, no answer within `timeout_s`) raises python3-redis'
    ConnectionError or TimeoutError. Calls that wait on purpose (`wait_ms`, `block_ms`) get
    that long on top of `timeout_s`."""

    def __init__(self, socket_path: str | None = None, timeout_s: float | None = 10.0) -> None:
        self._link = Link(socket_path_from(socket_path), timeout_s)

    @property
    def socket_path(self) -> str:
        return self._link.socket_path

    @property
    def redis(self) -> Any:
        """The underlying redis.Redis, for commands this library does not wrap yet (its errors
        are python3-redis' ResponseError, whole: `command()` maps them)."""
        return self._link.redis

    def command(self, *args: Arg) -> object:
        """Any command, its reply untyped, its error as a BatonError."""
        return self._link.call(*args)

    def ping(self) -> bool:
        return self._link.call("PING") in (b"PONG", "PONG", True)

    def close(self) -> None:
        """Closes every pooled connection (a KEEP lease or a claim made through the pool ends
        with its connection)."""
        self._link.close()

    def __enter__(self) -> Baton:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Baton({self.socket_path!r})"
