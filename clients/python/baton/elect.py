"""Leader election (protocol/API.md, "Leader election"): a group's leadership is the lease
`elect:<group>`, held with KEEP by the leader's connection, and its term is that lease's
fencing token, growing with every new leader. `campaign()` waits to lead and tells the block
when leadership is lost; `leader()` reads who leads; `observe_leaders()` follows the changes.

The dataclasses and pure builders and parsers come first: baton.aio sends and reads the
same."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import TracebackType
from typing import Callable

from ._follow import Follower, Watch, pubsub_message
from ._link import Link
from ._loss import LossFlag, LossWatch, LostCallback
from ._replies import Arg, as_fields, as_text, expect_ok, int_field, text_field
from .errors import UnexpectedReply

# -- what batond answers -------------------------------------------------------------------


@dataclass(frozen=True)
class Leader:
    """ELECT LEADER: who leads the group, through which node, under which term, and for how
    long its lease still runs (renewed while it leads)."""

    candidate: str
    node: str
    term: int
    remaining_ms: int


@dataclass(frozen=True)
class LeaderEvent:
    """A change heard on `elect:<group>`: `event` "leader" (`candidate` leads under `term`
    through `node`), "vacant" (that term ended; term 0 and empty names when nobody led when
    the observer began) or "lost" (the leader's daemon could not renew it in time)."""

    event: str
    group: str
    term: int
    node: str
    candidate: str


@dataclass(frozen=True)
class Joined:
    """ELECT JOIN: this connection leads under `term`, its lease valid `validity_ms`."""

    term: int
    validity_ms: int


# -- pure builders and parsers ---------------------------------------------------------------


def join_args(group: str, candidate: str, ttl_ms: int | None = None,
              timeout_ms: int | None = None) -> list[Arg]:
    """ELECT JOIN's arguments."""
    args: list[Arg] = ["ELECT", "JOIN", group, candidate]
    if ttl_ms is not None:
        args += ["TTL", ttl_ms]
    if timeout_ms is not None:
        args += ["TIMEOUT", timeout_ms]
    return args


def joined_from(reply: object) -> Joined:
    fields = as_fields(reply)
    return Joined(term=int_field(fields, "term"), validity_ms=int_field(fields, "validity_ms"))


def leader_from(reply: object) -> Leader | None:
    """ELECT LEADER's reply: None when nobody leads."""
    if reply is None:
        return None
    fields = as_fields(reply)
    return Leader(candidate=text_field(fields, "candidate"), node=text_field(fields, "node"),
                  term=int_field(fields, "term"), remaining_ms=int_field(fields, "remaining_ms"))


def leader_event_from(message: object) -> LeaderEvent | None:
    """An `elect:<group>` message, payload "<event> <term> <node> <candidate>"; None for
    anything else on the connection (a confirmation, a pong)."""
    found = pubsub_message(message)
    if found is None:
        return None
    channel, payload = found
    words = as_text(payload).split(" ", 3)
    if len(words) < 2 or not words[1].isdigit():
        raise UnexpectedReply(f"an election message without a term: {payload!r:.200}")
    words += [""] * (4 - len(words))
    return LeaderEvent(event=words[0], group=channel.removeprefix("elect:"),
                       term=int(words[1]), node=words[2], candidate=words[3])


def leadership_loss(event: LeaderEvent, term: int) -> str | None:
    """Why `event` means that the leader of `term` no longer leads, or None. Events of an
    earlier term say nothing about it."""
    if event.term == term and event.event == "lost":
        return "batond could not renew the leadership within its safe validity"
    if event.term == term and event.event == "vacant":
        return "the term ended"
    if event.event == "leader" and event.term > term:
        return f"{event.candidate} leads under term {event.term} (node {event.node})"
    return None


# -- the calls -------------------------------------------------------------------------------


class Leadership(LossFlag):
    """Leading `group` as `candidate` under `term`, on a connection of its own (closing it
    ends the term at once). `lost`, `lost_reason` and `check()` tell a loss while it leads;
    `resign()` (or the end of a `with` block) gives it up; after a loss the end of the block
    resigns quietly (the loss was told: a loop on `lost` ends there, without an exception)."""

    def __init__(self, group: str, candidate: str, joined: Joined, holder: Link,
                 watch: LossWatch[LeaderEvent], on_lost: LostCallback | None) -> None:
        self._init_loss(f"the leadership of {group!r} (term {joined.term})", on_lost)
        self.group = group
        self.candidate = candidate
        self.term = joined.term
        self.validity_ms = joined.validity_ms
        self._holder = holder
        self._watch = watch
        self._resigned = False

    def resign(self) -> None:
        """ELECT RESIGN, then closes the connection (which ends the term in any case)."""
        if self._resigned:
            return
        self._resigned = True
        self._watch.disarm()  # our own resignation is no loss
        try:
            expect_ok(self._holder.call("ELECT", "RESIGN", self.group))
        finally:
            self._watch.close()
            self._holder.close()

    def __enter__(self) -> Leadership:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc_type is not None or self.lost.is_set():
            with contextlib.suppress(Exception):  # the block's exception, or the loss, says it
                self.resign()
            return
        self.resign()

    def __repr__(self) -> str:
        return (f"Leadership(group={self.group!r}, candidate={self.candidate!r}, "
                f"term={self.term}, lost={self.lost.is_set()})")


class LeaderObserver(Follower[LeaderEvent]):
    """Follows `elect:<group>` on a connection of its own, read by a daemon thread: first the
    leader as it is now (or "vacant"), then every change, each a LeaderEvent, to the callback
    (called from that thread) or, without one, to iteration and `next_event()`. After a
    broken connection it subscribes again, and hears the leader as it is then."""

    def next_event(self, timeout_s: float | None = None) -> LeaderEvent | None:
        return self.next_item(timeout_s)


class ElectionCalls:
    _link: Link

    def campaign(self, group: str, candidate: str, ttl_ms: int = 10_000,
                 timeout_ms: int | None = None,
                 on_lost: LostCallback | None = None) -> Leadership:
        """Waits until `candidate` leads `group` (ELECT JOIN on a connection of its own) and
        answers the Leadership; use it in `with` to resign at the end:

            with baton.campaign("scheduler", socket.gethostname()) as leading:
                while not leading.lost.is_set():
                    run_one_round(fenced_by=leading.term)

        Raises Denied after `timeout_ms` (default and most: an hour) without leading. A
        second connection follows `elect:<group>` from before the join, so a loss (batond
        could not renew it, the term ended, a later term began, the watch connection broke
        or went silent for half the TTL, at least 1 s) sets `lost` and calls
        `on_lost(reason)` from its thread (or before it returns, when the term was over
        already)."""
        watch = LossWatch(self._link, f"elect:{group}", leader_event_from, leadership_loss,
                          ttl_ms)
        try:  # every failure from here on closes the watch (its thread, its connection)
            holder = self._link.dedicated()  # connects: may raise
            try:
                args = join_args(group, candidate, ttl_ms, timeout_ms)
                joined = joined_from(holder.call_waiting(timeout_ms or 3_600_000, *args))
                leadership = Leadership(group, candidate, joined, holder, watch, on_lost)
                lost_already = watch.arm(leadership, joined.term)
            except BaseException:
                holder.close()
                raise
        except BaseException:
            watch.close()
            raise
        if lost_already is not None:
            leadership._lose(lost_already)
        return leadership

    def leader(self, group: str) -> Leader | None:
        """ELECT LEADER: None when nobody leads."""
        return leader_from(self._link.call("ELECT", "LEADER", group))

    def observe_leaders(self, group: str,
                        on_change: Callable[[LeaderEvent], None] | None = None
                        ) -> LeaderObserver:
        """A LeaderObserver of `group`, subscribed on return. Close it when done."""
        return LeaderObserver(lambda: Watch.open(self._link, "SUBSCRIBE", f"elect:{group}"),
                              leader_event_from, on_change, name=f"baton leaders {group}",
                              reconnect=True)
