"""Sessions: a user's session with one owner node at a time, sealed state, and a resume token
that moves it to another node (protocol/API.md, "Sessions"). When a node drains for a deploy,
it hands each session to another node and tells its watchers "reconnect there with this
token": `follow_sessions()` hears that over `SUBSCRIBE sessions` as HandoffOut and HandoffIn.

The dataclasses and the pure argument builders and reply parsers come first: baton.aio sends
and reads the same."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from ._follow import Follower, Watch, message_of
from ._link import Link
from ._replies import (Arg, as_fields, as_int, as_list, as_text, int_field, optional_bytes_field,
                       optional_text_field, text_field)
from .errors import UnexpectedReply

# -- what batond answers -------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedSession:
    """SESSION OPEN: the new session's `id` (32 hex digits), its first resume `token`, its
    `owner` (the node that opened it), `epoch` 1 and its sliding `ttl_ms`."""

    id: str
    token: str
    owner: str
    epoch: int
    ttl_ms: int


@dataclass(frozen=True)
class Session:
    """SESSION GET and LIST. `meta` is the JSON text given to OPEN ("" without); times are
    Unix ms; `state_version` 0 before the first state write."""

    id: str
    user: str
    owner: str
    epoch: int
    meta: str
    created_ms: int
    touched_ms: int
    ttl_ms: int
    expires_in_ms: int
    state_version: int


@dataclass(frozen=True)
class Touched:
    """SESSION TOUCH: the session lives another `ttl_ms` from now."""

    owner: str
    epoch: int
    ttl_ms: int


@dataclass(frozen=True)
class SessionState:
    """SESSION STATE: the state blob (None before the first write) and its version."""

    state_version: int
    state: bytes | None


@dataclass(frozen=True)
class ResumedSession:
    """SESSION RESUME: the session, now owned by the node that answered, its state, and the
    `token` to resume with next time (the one used is spent)."""

    id: str
    user: str
    owner: str
    epoch: int
    meta: str
    ttl_ms: int
    state_version: int
    state: bytes | None
    token: str


@dataclass(frozen=True)
class HandoffOut:
    """The node this follower watches drains: session `id` belongs to `target_node` now. Tell
    its client to reconnect to `target_address` and resume with `token`. (An admin's follower
    hears other uids' handoffs without the token: None.)"""

    id: str
    target_node: str
    target_address: str
    token: str | None


@dataclass(frozen=True)
class HandoffIn:
    """Session `id` is coming to the node this follower watches, from `from_node`."""

    id: str
    from_node: str


Handoff = Union[HandoffOut, HandoffIn]

# -- pure builders and parsers ---------------------------------------------------------------


def open_args(user: str, ttl_ms: int | None = None, meta: str | None = None) -> list[Arg]:
    """SESSION OPEN's arguments."""
    args: list[Arg] = ["SESSION", "OPEN", user]
    if ttl_ms is not None:
        args.append(ttl_ms)
    if meta is not None:
        args += ["META", meta]
    return args


def opened_from(reply: object) -> OpenedSession:
    fields = as_fields(reply)
    return OpenedSession(id=text_field(fields, "id"), token=text_field(fields, "token"),
                         owner=text_field(fields, "owner"), epoch=int_field(fields, "epoch"),
                         ttl_ms=int_field(fields, "ttl_ms"))


def session_from(reply: object) -> Session | None:
    """SESSION GET's reply, or one entry of LIST's: None when closed or expired."""
    if reply is None:
        return None
    fields = as_fields(reply)
    return Session(id=text_field(fields, "id"), user=text_field(fields, "user"),
                   owner=text_field(fields, "owner"), epoch=int_field(fields, "epoch"),
                   meta=optional_text_field(fields, "meta") or "",
                   created_ms=int_field(fields, "created_ms"),
                   touched_ms=int_field(fields, "touched_ms"),
                   ttl_ms=int_field(fields, "ttl_ms"),
                   expires_in_ms=int_field(fields, "expires_in_ms"),
                   state_version=int_field(fields, "state_version"))


def sessions_from(reply: object) -> list[Session]:
    """SESSION LIST's reply, oldest first."""
    sessions: list[Session] = []
    for entry in as_list(reply):
        session = session_from(entry)
        if session is None:
            raise UnexpectedReply(f"SESSION LIST holds a nil entry: {reply!r:.200}")
        sessions.append(session)
    return sessions


def touched_from(reply: object) -> Touched | None:
    """SESSION TOUCH's reply: None when the session is gone."""
    if reply is None:
        return None
    fields = as_fields(reply)
    return Touched(owner=text_field(fields, "owner"), epoch=int_field(fields, "epoch"),
                   ttl_ms=int_field(fields, "ttl_ms"))


def session_state_from(reply: object) -> SessionState:
    """SESSION STATE's reply (and STATE SET's, whose `state` is None)."""
    fields = as_fields(reply)
    return SessionState(state_version=int_field(fields, "state_version"),
                        state=optional_bytes_field(fields, "state"))


def resumed_from(reply: object) -> ResumedSession:
    fields = as_fields(reply)
    return ResumedSession(id=text_field(fields, "id"), user=text_field(fields, "user"),
                          owner=text_field(fields, "owner"), epoch=int_field(fields, "epoch"),
                          meta=optional_text_field(fields, "meta") or "",
                          ttl_ms=int_field(fields, "ttl_ms"),
                          state_version=int_field(fields, "state_version"),
                          state=optional_bytes_field(fields, "state"),
                          token=text_field(fields, "token"))


def handoff_from_payload(payload: bytes | str) -> Handoff:
    """A `sessions` channel message: "handoff-out <id> <target node> <target address>
    [<token>]" or "handoff-in <id> <from node>"."""
    words = as_text(payload).split(" ")
    if words[0] == "handoff-out" and len(words) in (4, 5):
        return HandoffOut(id=words[1], target_node=words[2], target_address=words[3],
                          token=words[4] if len(words) == 5 else None)
    if words[0] == "handoff-in" and len(words) == 3:
        return HandoffIn(id=words[1], from_node=words[2])
    raise UnexpectedReply(f"an unknown sessions message {payload!r:.200}")


def handoff_from_push(push: object) -> Handoff | None:
    """SESSION WATCH's push ["session", "handoff-out", id, node, address[, token]] or
    ["session", "handoff-in", id, node]; None for another family's push."""
    parts = as_list(push)
    if len(parts) < 2 or as_text(parts[0]) != "session":
        return None
    return handoff_from_payload(" ".join(as_text(part) for part in parts[1:]))


def handoff_from_message(message: object) -> Handoff | None:
    """What `SUBSCRIBE sessions` delivers, ["message", "sessions", payload]; None for the
    confirmation and anything else on that connection."""
    payload = message_of(message, "sessions")
    return None if payload is None else handoff_from_payload(payload)


# -- the calls -------------------------------------------------------------------------------


class SessionFollower(Follower[Handoff]):
    """Hears `SUBSCRIBE sessions` on a connection of its own, read by a daemon thread: each
    HandoffOut and HandoffIn goes to `on_handoff` (called from that thread), or, without one,
    to iteration (`for handoff in follower:`) and `next_handoff(timeout_s)`. Only the
    sessions of the follower's uid come with a token. The subscription is in place when the
    constructor returns. A follower hears one daemon: after that daemon stops, it ends
    (iteration stops, `alive` turns False, `error` says why)."""

    def next_handoff(self, timeout_s: float | None = None) -> Handoff | None:
        """The next handoff, or None if none came within `timeout_s` or the follower ended."""
        return self.next_item(timeout_s)


class SessionCalls:
    _link: Link

    def session_open(self, user: str, ttl_ms: int | None = None,
                     meta: str | None = None) -> OpenedSession:
        """SESSION OPEN. Raises Draining (the text names a node to use) on a draining node;
        Unavailable means no session was opened: OPEN again."""
        return opened_from(self._link.call(*open_args(user, ttl_ms, meta)))

    def session_get(self, session_id: str) -> Session | None:
        """SESSION GET (any node): None when closed or expired."""
        return session_from(self._link.call("SESSION", "GET", session_id))

    def session_touch(self, session_id: str) -> Touched | None:
        """SESSION TOUCH: another `ttl_ms` of life; None when it is gone."""
        return touched_from(self._link.call("SESSION", "TOUCH", session_id))

    def session_close(self, session_id: str) -> bool:
        """SESSION CLOSE: True when it was open; its tokens stop working."""
        return as_int(self._link.call("SESSION", "CLOSE", session_id)) == 1

    def session_list(self, user: str) -> list[Session]:
        """SESSION LIST: the user's live sessions across the fleet, oldest first."""
        return sessions_from(self._link.call("SESSION", "LIST", user))

    def session_state(self, session_id: str) -> SessionState:
        """SESSION STATE: the state blob and its version."""
        return session_state_from(self._link.call("SESSION", "STATE", session_id))

    def session_state_set(self, session_id: str, state: bytes | str) -> int:
        """SESSION STATE id SET: answers the new state version. Only the owner node writes
        (Moved elsewhere). Unknown: read `session_state()`, SET again if it is not yours."""
        reply = self._link.call("SESSION", "STATE", session_id, "SET", state)
        return session_state_from(reply).state_version

    def session_resume(self, token: str) -> ResumedSession:
        """SESSION RESUME on this node: the session moves here. Raises Refused for a token
        that is spent, forged or of a closed session; Unknown when it may have happened (the
        same RESUME on the same node within 30 s answers the same)."""
        return resumed_from(self._link.call("SESSION", "RESUME", token))

    def follow_sessions(self, on_handoff: Callable[[Handoff], None] | None = None
                        ) -> SessionFollower:
        """A SessionFollower of this daemon's handoffs: `SUBSCRIBE sessions`, in place on
        return. Close it (or use it in `with`) when done."""
        def subscribe() -> Watch:
            return Watch.open(self._link, "SUBSCRIBE", "sessions")
        return SessionFollower(subscribe, handoff_from_message, on_handoff,
                               name="baton sessions follower")
