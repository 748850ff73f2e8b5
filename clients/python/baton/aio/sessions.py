"""Sessions for asyncio (protocol/API.md, "Sessions"): the sync module's calls, built and read by
its functions, and AsyncSessionFollower, an async iterator over `SUBSCRIBE sessions` that hears
a draining node hand its sessions over ("reconnect there with this token")."""
from __future__ import annotations

import asyncio
from types import TracebackType

from .._replies import as_int, as_list, as_text
from ..errors import UnexpectedReply
from ..sessions import (Handoff, OpenedSession, ResumedSession, Session, SessionState, Touched,
                        handoff_from_message, open_args, opened_from, resumed_from,
                        session_from, session_state_from, sessions_from, touched_from)
from ._link import AsyncLink, Subscriber, stop_reader


class AsyncSessionFollower:
    """This daemon's handoffs, each a HandoffOut (tell the client to reconnect to
    `target_address` and resume with `token`) or a HandoffIn:

        async with await baton.follow_sessions() as follower:
            async for handoff in follower:
                ...

    Subscribed when `follow_sessions()` returns; a task of its own reads the connection and
    queues what it hears, so a wait that times out (`next_handoff(timeout_s)`) loses nothing.
    A follower hears one daemon: when that daemon's connection ends (it stopped after a
    drain), iteration stops, `alive` turns False and `error` says why. Only the sessions of
    the follower's uid come with a token."""

    def __init__(self, subscriber: Subscriber) -> None:
        self.error: BaseException | None = None
        self._subscriber = subscriber
        self._heard: asyncio.Queue[Handoff | None] = asyncio.Queue()
        self._ended = False
        self._reader = asyncio.create_task(self._read(), name="baton sessions follower")

    async def _read(self) -> None:
        try:
            while True:
                handoff = handoff_from_message(await self._subscriber.read())
                if handoff is not None:
                    self._heard.put_nowait(handoff)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the connection ended (batond stopped) or broke
            self.error = error
        finally:
            self._heard.put_nowait(None)

    def __aiter__(self) -> AsyncSessionFollower:
        return self

    async def __anext__(self) -> Handoff:
        handoff = None if self._ended else await self._heard.get()
        if handoff is None:
            self._ended = True
            raise StopAsyncIteration
        return handoff

    async def next_handoff(self, timeout_s: float | None = None) -> Handoff | None:
        """The next handoff, or None if none came within `timeout_s` or the follower ended."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout_s)
        except (StopAsyncIteration, asyncio.TimeoutError):
            return None

    @property
    def alive(self) -> bool:
        return not self._reader.done()

    async def close(self) -> None:
        """Stops the reader and closes the connection; a cancel of the caller's own while it
        waits is raised (after the connection is closed)."""
        try:
            await stop_reader(self._reader)
        finally:
            await self._subscriber.close()

    async def __aenter__(self) -> AsyncSessionFollower:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()


class AsyncSessionCalls:
    _link: AsyncLink

    async def session_open(self, user: str, ttl_ms: int | None = None,
                           meta: str | None = None) -> OpenedSession:
        """SESSION OPEN. Draining on a draining node (the text names a node to use);
        Unavailable means no session was opened: OPEN again."""
        return opened_from(await self._link.call(*open_args(user, ttl_ms, meta)))

    async def session_get(self, session_id: str) -> Session | None:
        """SESSION GET (any node): None when closed or expired."""
        return session_from(await self._link.call("SESSION", "GET", session_id))

    async def session_touch(self, session_id: str) -> Touched | None:
        """SESSION TOUCH: another `ttl_ms` of life; None when it is gone."""
        return touched_from(await self._link.call("SESSION", "TOUCH", session_id))

    async def session_close(self, session_id: str) -> bool:
        """SESSION CLOSE: True when it was open."""
        return as_int(await self._link.call("SESSION", "CLOSE", session_id)) == 1

    async def session_list(self, user: str) -> list[Session]:
        """SESSION LIST: the user's live sessions across the fleet, oldest first."""
        return sessions_from(await self._link.call("SESSION", "LIST", user))

    async def session_state(self, session_id: str) -> SessionState:
        """SESSION STATE: the state blob and its version."""
        return session_state_from(await self._link.call("SESSION", "STATE", session_id))

    async def session_state_set(self, session_id: str, state: bytes | str) -> int:
        """SESSION STATE id SET: the new state version; Moved off the owner node."""
        reply = await self._link.call("SESSION", "STATE", session_id, "SET", state)
        return session_state_from(reply).state_version

    async def session_resume(self, token: str) -> ResumedSession:
        """SESSION RESUME on this node: the session moves here. Refused for a spent, forged
        or closed token; Unknown when it may have happened (repeat it on the same node)."""
        return resumed_from(await self._link.call("SESSION", "RESUME", token))

    async def follow_sessions(self) -> AsyncSessionFollower:
        """An AsyncSessionFollower of this daemon's handoffs (`SUBSCRIBE sessions` on a
        connection of its own), subscribed on return. Close it when done."""
        subscriber = await self._link.subscriber("SUBSCRIBE", "sessions")
        confirmed = as_list(subscriber.first)
        if len(confirmed) != 3 or as_text(confirmed[0]) != "subscribe":
            await subscriber.close()
            raise UnexpectedReply(f"SUBSCRIBE sessions answered {subscriber.first!r:.200}")
        return AsyncSessionFollower(subscriber)
