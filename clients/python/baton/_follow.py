"""Following what batond pushes, for python3-redis 4.3 (RESP2 only): a connection of its own
that a watching command (SUBSCRIBE, SECRET WATCH) puts in watch mode (protocol/API.md, "LEASE
WATCH"), where batond's pushes arrive as plain arrays, read by a daemon thread. A `Watch` is
that connection; a `Follower` is the thread, which parses each array and hands what it means
to a callback or a queue, PINGs a quiet connection when asked to notice a silent daemon, and
subscribes again after a failure when asked to."""
from __future__ import annotations

import logging
import queue
import threading
import time
from types import TracebackType
from typing import Any, Callable, Generic, Iterator, TypeVar

import redis

from ._link import Link
from ._replies import Arg, as_bytes, as_list, as_text
from ._schedule import ping_every_s
from .errors import error_from_reply

log = logging.getLogger("baton")

T = TypeVar("T")
_END = object()  # put on a follower's queue when it ends


def pubsub_message(message: object) -> tuple[str, bytes] | None:
    """The channel and payload of a pub/sub ["message", channel, payload]; None for a
    confirmation, a ["pong", ...] or a push of another shape."""
    parts = as_list(message)
    if len(parts) != 3 or as_text(parts[0]) != "message":
        return None
    return as_text(parts[1]), as_bytes(parts[2])


def message_of(message: object, channel: str | None = None) -> bytes | None:
    """The payload of a pub/sub message (on `channel`, if given), else None."""
    found = pubsub_message(message)
    if found is None or (channel is not None and found[0] != channel):
        return None
    return found[1]


class Silent(Exception):
    """batond answered nothing, not even a PING, on a watch connection for too long."""


class Watch:
    """One connection to batond in watch mode. `open()` sends the watching command and reads
    its confirmations (a BatonError if refused), so whatever happens after it returns is
    pushed; `next()` reads the next push."""

    def __init__(self, connection: Any, confirmations: list[object]) -> None:
        self._connection = connection
        self.confirmations = confirmations
        self._closing = threading.Lock()

    @classmethod
    def open(cls, link: Link, *args: Arg) -> Watch:
        # SUBSCRIBE confirms each channel in a reply of its own; the WATCH verbs answer once.
        expected = len(args) - 1 if as_text(args[0]).upper() == "SUBSCRIBE" else 1
        connection = link.raw_connection()
        try:
            connection.send_command(*args)
            confirmations = [cls._read(connection) for _ in range(expected)]
        except BaseException:
            connection.disconnect()
            raise
        return cls(connection, confirmations)

    @staticmethod
    def _read(connection: Any) -> object:
        try:
            reply: object = connection.read_response()
        except redis.ResponseError as error:
            raise error_from_reply(str(error)) from None
        return reply

    def next(self, wait_s: float) -> object | None:
        """The next push, or None if none began within `wait_s`. Raises python3-redis'
        ConnectionError once the connection is closed."""
        if not self._connection.can_read(timeout=wait_s):
            return None
        return self._read(self._connection)

    def ping(self) -> None:
        self._connection.send_command("PING")  # answered ["pong", ""] in watch mode

    def close(self) -> None:
        """Closes the connection; safe to call again, and from two threads at once (a
        follower's own and the one that closes it)."""
        with self._closing:
            self._connection.disconnect()


class Follower(Generic[T]):
    """A daemon thread reading a Watch made by `subscribe` (called once here, so its errors
    reach the caller, and again to resubscribe). Each push goes through `parse`; what it
    answers (None: nothing to tell) goes to `on_item`, called from the thread (its exceptions
    are logged), or without one to a queue read by `next_item()` and iteration.

    `silence_limit_s`: PING a quiet connection and count it broken when nothing came back for
    that long. `reconnect`: after a broken connection, subscribe again (pausing up to 2 s
    between attempts), then call `on_reconnect` (to read again what may have changed
    meanwhile); otherwise the follower ends and `on_end` gets the reason, in words."""

    def __init__(self, subscribe: Callable[[], Watch], parse: Callable[[object], T | None],
                 on_item: Callable[[T], None] | None, name: str, reconnect: bool = False,
                 silence_limit_s: float | None = None,
                 on_reconnect: Callable[[], None] | None = None,
                 on_end: Callable[[str], None] | None = None) -> None:
        self._subscribe = subscribe
        self._parse = parse
        self._on_item = on_item
        self._reconnect = reconnect
        self._silence_limit_s = silence_limit_s
        self._on_reconnect = on_reconnect
        self._on_end = on_end
        self._queue: queue.Queue[object] = queue.Queue()
        self._closing = threading.Event()
        self._ended = threading.Event()
        self.error: BaseException | None = None
        self._watch = subscribe()
        self.confirmations = self._watch.confirmations
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """False once the follower ended: closed, or its connection broke (see `error`)."""
        return not self._ended.is_set()

    def next_item(self, timeout_s: float | None = None) -> T | None:
        """The next item, or None if none came within `timeout_s` or the follower ended."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if item is _END:
            self._queue.put(_END)
            return None
        return item  # type: ignore[return-value]  # only T and _END are queued

    def __iter__(self) -> Iterator[T]:
        """Every item as it comes. Ends when the follower is closed; raises what broke the
        connection if that ended it."""
        while True:
            item = self._queue.get()
            if item is _END:
                self._queue.put(_END)
                if self.error is not None and not self._closing.is_set():
                    raise self.error
                return
            yield item  # type: ignore[misc]  # only T and _END are queued

    def close(self) -> None:
        """Stops the thread (within about 0.2 s) and closes the connection (the thread closes
        the one it holds as it ends, should it outlast the wait here)."""
        self._closing.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        self._watch.close()

    def __enter__(self) -> Follower[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        reason = ""
        try:
            while not self._closing.is_set():
                try:
                    self._read_until_broken()
                except Exception as error:  # noqa: BLE001 (any failure ends this connection)
                    if self._closing.is_set():
                        break
                    self.error = error
                    reason = f"the watch connection to batond failed ({error!r:.200})"
                    self._watch.close()
                    if not self._reconnect or not self._subscribe_again():
                        break
        finally:
            # The watch this thread holds now: close() closes the one it saw, but a
            # resubscription that succeeded after close() gave up waiting for this thread
            # made another, which only this thread knows of.
            self._watch.close()
            self._ended.set()
            self._queue.put(_END)
        if reason and not self._closing.is_set() and self._on_end is not None:
            self._on_end(reason)

    def _read_until_broken(self) -> None:
        silence_s = self._silence_limit_s
        ping_after_s = None if silence_s is None else ping_every_s(silence_s)
        poll_s = 0.2 if ping_after_s is None else min(0.2, ping_after_s)
        last_heard = last_ping = time.monotonic()
        while not self._closing.is_set():
            message = self._watch.next(poll_s)
            now = time.monotonic()
            if message is None:
                if silence_s is not None and ping_after_s is not None:
                    if now - last_heard > silence_s:
                        raise Silent(f"batond answered nothing for {silence_s:.1f} s")
                    if now - max(last_heard, last_ping) >= ping_after_s:
                        self._watch.ping()
                        last_ping = now
                continue
            last_heard = now
            try:
                item = self._parse(message)
            except Exception:  # noqa: BLE001 (a newer daemon's push: say so, go on)
                log.warning("baton: a push this library does not understand: %.200r", message,
                            exc_info=True)
                continue
            if item is None:
                continue
            if self._on_item is None:
                self._queue.put(item)
                continue
            try:
                self._on_item(item)
            except Exception:  # noqa: BLE001 (the app's callback must not end the follower)
                log.exception("baton: a follower's callback raised")

    def _subscribe_again(self) -> bool:
        pause = 0.1
        while not self._closing.wait(pause):
            try:
                self._watch = self._subscribe()
            except Exception as error:  # noqa: BLE001 (batond still away: try again)
                self.error = error
                pause = min(pause * 2, 2.0)
                continue
            self.error = None
            if self._closing.is_set():
                return False  # closed meanwhile: _run's finally closes this watch
            if self._on_reconnect is not None:
                try:
                    self._on_reconnect()
                except Exception:  # noqa: BLE001
                    log.exception("baton: a follower's reconnect hook raised")
            return True
        return False
