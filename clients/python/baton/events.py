"""Events with replay: topics are Redis Streams that any daemon appends to and reads
(protocol/API.md, "Events"). A reader keeps the id of the last event it got and reads on from
it, on any daemon, missing nothing and seeing nothing twice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ._link import Link
from ._replies import Arg, as_bytes, as_list, as_text
from .errors import UnexpectedReply


@dataclass(frozen=True)
class Event:
    """An event: its id ("<ms>-<seq>", growing along the topic) and its payload."""

    id: str
    payload: bytes


def _events_from(reply: object) -> list[Event]:
    events: list[Event] = []
    for entry in as_list(reply):
        pair = as_list(entry)
        if len(pair) != 2:
            raise UnexpectedReply(f"expected [id, payload], got {entry!r:.200}")
        events.append(Event(id=as_text(pair[0]), payload=as_bytes(pair[1])))
    return events


def publish_args(topic: str, payload: bytes | str, dedup: str | None = None) -> list[Arg]:
    """EVENTS PUBLISH's arguments (pure: baton.aio sends the same)."""
    args: list[Arg] = ["EVENTS", "PUBLISH", topic, payload]
    if dedup is not None:
        args += ["DEDUP", dedup]
    return args


def read_args(topic: str, from_id: str, count: int | None = None,
              block_ms: int | None = None) -> list[Arg]:
    args: list[Arg] = ["EVENTS", "READ", topic, "FROM", from_id]
    if count is not None:
        args += ["COUNT", count]
    if block_ms is not None:
        args += ["BLOCK", block_ms]
    return args


def position_from(watch_reply: object) -> str:
    """The position EVENTS WATCH answers first ([position, topics watched])."""
    reply = as_list(watch_reply)
    if not reply:
        raise UnexpectedReply("EVENTS WATCH answered an empty array")
    return as_text(reply[0])


class EventCalls:
    _link: Link

    def publish(self, topic: str, payload: bytes | str, dedup: str | None = None) -> str:
        """EVENTS PUBLISH; answers the event's id. With `dedup` (an order id, a UUID), a
        publish sent again within the topic's dedup window appends nothing and answers the
        first one's id: send it again after Unknown or a lost answer. Without it, Unknown
        means: read from your last id to see whether it is there."""
        return as_text(self._link.call(*publish_args(topic, payload, dedup)))

    def read(self, topic: str, from_id: str, count: int | None = None,
             block_ms: int | None = None) -> list[Event]:
        """EVENTS READ: the events after `from_id`, in order, at most `count` (the daemon's
        default: 100). `from_id` "0" reads from the oldest kept, "$" only what comes from now
        on. With `block_ms` and nothing yet, waits up to that long for the first (at most the
        daemon's `events.max_block_ms`) and answers [] if none came."""
        args = read_args(topic, from_id, count, block_ms)
        if block_ms is not None:
            return _events_from(self._link.call_waiting(block_ms, *args))
        return _events_from(self._link.call(*args))

    def follow(self, topic: str, from_id: str = "0", block_ms: int = 10_000,
               count: int = 100) -> Iterator[Event]:
        """Every event after `from_id`, in order, forever: reads with BLOCK from the last id
        it gave. To resume after a restart or on another host, keep the last `event.id` you
        handled and pass it as `from_id`. "$" starts at the topic's end as it is now (asked
        with EVENTS WATCH on a connection closed right after), so nothing published after
        the call is missed. Each wait holds a connection for up to `block_ms`."""
        start = self._position_now(topic) if from_id == "$" else from_id
        return self._events_after(topic, start, block_ms, count)

    def _events_after(self, topic: str, position: str, block_ms: int,
                      count: int) -> Iterator[Event]:
        while True:
            for event in self.read(topic, position, count=count, block_ms=block_ms):
                position = event.id
                yield event

    def _position_now(self, topic: str) -> str:
        # EVENTS WATCH answers [position, topics watched]; the watch ends with the connection.
        return position_from(self._link.first_reply_then_close("EVENTS", "WATCH", topic, "FROM",
                                                                "$"))
