"""Telling a block that holds something (a lease in `lock()`, a leadership in `campaign()`)
that it lost it while it runs. A sync block cannot be interrupted safely, so it is told
instead: a `LossFlag` it can look at (`lost`, `check()`) and a callback; a `LossWatch` sets it
from what it hears on the thing's pub/sub channel (`lease:<name>`, `elect:<group>`,
protocol/API.md "SUBSCRIBE"), subscribed before the acquire so that nothing slips past."""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

from ._follow import Follower, Watch
from ._link import Link
from ._schedule import silence_limit_s
from .errors import Lost

E = TypeVar("E")
LostCallback = Callable[[str], None]


class LossFlag:
    """`lost` is set once the thing is no longer held, `lost_reason` says why in words, and
    `check()` raises Lost from then on. `on_lost(reason)` is called once, from the watching
    thread."""

    lost: threading.Event
    lost_reason: str | None

    def _init_loss(self, what: str, on_lost: LostCallback | None) -> None:
        self.lost = threading.Event()
        self.lost_reason = None
        self._what = what
        self._on_lost = on_lost
        self._loss_lock = threading.Lock()

    def check(self) -> None:
        """Raises Lost if it was lost; call it before each step that needs it held."""
        if self.lost.is_set():
            raise Lost("LOST", f"{self._what} was lost: {self.lost_reason}")

    def _lose(self, reason: str) -> None:
        with self._loss_lock:
            if self.lost.is_set():
                return
            self.lost_reason = reason
            self.lost.set()
        if self._on_lost is not None:
            self._on_lost(reason)


class LossWatch(Generic[E]):
    """Hears `channel` on a connection of its own. Until `arm()` it keeps what it heard
    (the grant's number is not known yet); armed, each event is judged against the number
    (`judge` answers why it means a loss, or None), and so is a connection that breaks or
    goes silent for half of `ttl_ms`, at least 1 s (_schedule.silence_limit_s, as baton.aio:
    a daemon that hangs renews nothing either). Subscribed when made (its errors raise here);
    close() it on every path after that."""

    def __init__(self, link: Link, channel: str, parse: Callable[[object], E | None],
                 judge: Callable[[E, int], str | None], ttl_ms: int) -> None:
        self._judge = judge
        self._lock = threading.Lock()
        self._heard: list[E] = []
        self._broken_reason: str | None = None
        self._holder: LossFlag | None = None
        self._number = 0
        self._follower = Follower(lambda: Watch.open(link, "SUBSCRIBE", channel), parse,
                                  self._hear, name=f"baton watch {channel}",
                                  silence_limit_s=silence_limit_s(ttl_ms),
                                  on_end=self._broken)

    def arm(self, holder: LossFlag, number: int) -> str | None:
        """From now on a loss of `number` (a token, a term) sets `holder`. Answers why it is
        lost already, judging what was heard before (then `holder` is not told)."""
        with self._lock:
            self._number = number
            if self._broken_reason is not None:
                return self._broken_reason
            for event in self._heard:
                reason = self._judge(event, number)
                if reason is not None:
                    return reason
            self._heard.clear()
            self._holder = holder
            return None

    def disarm(self) -> None:
        """Stops telling the holder (before its own release, which it would hear)."""
        with self._lock:
            self._holder = None

    def close(self) -> None:
        self.disarm()
        self._follower.close()

    def _hear(self, event: E) -> None:
        with self._lock:
            holder = self._holder
            if holder is None:
                self._heard.append(event)
                return
            reason = self._judge(event, self._number)
        if reason is not None:
            holder._lose(reason)

    def _broken(self, reason: str) -> None:
        with self._lock:
            holder = self._holder
            self._broken_reason = reason
        if holder is not None:
            holder._lose(reason)
