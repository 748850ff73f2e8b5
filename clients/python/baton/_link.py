"""The one place that talks to python3-redis: connections to batond's Unix socket, calls that
keep baton's error codes whole, calls that may wait (LEASE ACQUIRE ... WAIT, EVENTS READ ...
BLOCK) past the socket's timeout, and connections of their own for what batond ties to a
connection (a KEEP lease, a claim)."""
from __future__ import annotations

from typing import Any

import redis
from redis.connection import PythonParser

from ._replies import Arg
from .errors import error_from_reply


def _parser_keeping_codes(socket_read_size: int) -> Any:
    """python3-redis maps some error codes to its own classes (NOPERM) and strips "ERR " from
    others; with no classes to map to, every error arrives whole as a ResponseError, and
    error_from_reply picks the baton class. (A factory, not a subclass: redis-py only calls
    it, and mypy sees redis-py as untyped.)"""
    parser = PythonParser(socket_read_size=socket_read_size)
    parser.EXCEPTION_CLASSES = {}
    return parser


class Link:
    """Calls to one batond. Thread-safe when shared (a pool, a connection per call in flight),
    unless made by `dedicated()`, which keeps one connection for one thread."""

    def __init__(self, socket_path: str, timeout_s: float | None,
                 single_connection: bool = False) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        pool = redis.ConnectionPool(
            connection_class=redis.UnixDomainSocketConnection, path=socket_path,
            parser_class=_parser_keeping_codes, socket_timeout=timeout_s)
        self.redis = redis.Redis(connection_pool=pool,
                                 single_connection_client=single_connection)

    def call(self, *args: Arg) -> object:
        """One command; its reply as python3-redis parses it (bytes, int, list, None), or its
        error as a BatonError."""
        try:
            reply: object = self.redis.execute_command(*args)
        except redis.ResponseError as error:
            raise error_from_reply(str(error)) from None
        return reply

    def call_waiting(self, wait_ms: int, *args: Arg) -> object:
        """A command that batond may answer only after `wait_ms`: the socket's timeout counts
        from then on, not from the request."""
        dedicated = self.redis.connection
        conn = dedicated or self.redis.connection_pool.get_connection(str(args[0]))
        try:
            conn.send_command(*args)
            patience = None if self.timeout_s is None else self.timeout_s + wait_ms / 1000
            if not conn.can_read(timeout=patience):
                raise redis.TimeoutError(f"batond did not answer within {patience} s")
            reply: object = conn.read_response()
        except redis.ResponseError as error:
            raise error_from_reply(str(error)) from None
        except BaseException:
            # A late reply must not be read as the next command's, nor a grant batond makes
            # later be held by a pooled connection nobody knows holds it (a timeout, a
            # KeyboardInterrupt during the wait): the connection goes, and what it held.
            conn.disconnect()
            raise
        finally:
            if dedicated is None:
                self.redis.connection_pool.release(conn)
        return reply

    def dedicated(self) -> Link:
        """A link with one connection of its own to the same socket: what batond ties to a
        connection (a KEEP lease, a claim) ends when `close()` closes it."""
        return Link(self.socket_path, self.timeout_s, single_connection=True)

    def raw_connection(self) -> Any:
        """A connection outside any pool, not yet connected, for a thread that reads what
        batond pushes on it (_follow.Watch)."""
        return redis.UnixDomainSocketConnection(
            path=self.socket_path, parser_class=_parser_keeping_codes,
            socket_timeout=self.timeout_s)

    def first_reply_then_close(self, *args: Arg) -> object:
        """Sends one command on a fresh connection, reads its first reply and closes the
        connection: for commands that turn a connection into a watching one (EVENTS WATCH)
        when only their first answer is wanted."""
        link = self.dedicated()
        try:
            return link.call(*args)
        finally:
            link.close()

    def close(self) -> None:
        """Closes every connection (their KEEP leases and claims end with them)."""
        self.redis.close()
        self.redis.connection_pool.disconnect()
