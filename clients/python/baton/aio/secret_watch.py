"""The secret watcher for asyncio: one secret's current version kept in memory, and a callback
on rotation, over `SECRET WATCH name` (protocol/API.md, "Secrets") on a connection of its own.
python3-redis 4.3 has no RESP3: on RESP2 that connection is in watch mode, where the pushes
arrive as plain arrays, read here by a task (the sync SecretWatcher uses a thread). Pushes are
read, and SECRET GET's replies, by the sync module's parsers."""
from __future__ import annotations

from types import TracebackType
from typing import Callable

from ..secrets import Rotation, Secret, rotation_from, secret_from
from ._follow import AsyncFollower, call_back
from ._link import AsyncLink, Subscriber

OnRotated = Callable[[Secret], object]  # a plain function, or a coroutine function


class AsyncSecretWatcher:
    """Keeps the current version of one secret (`current`, `value`) and calls
    `on_rotated(secret)` (a plain function, or a coroutine function, awaited) when the daemon
    serves a new one. On each push it reads the secret again (SECRET GET, from the daemon's
    memory); all reads happen in its task, one at a time, so an older answer never replaces a
    newer one. If the connection breaks (batond restarted), it watches again and reads again,
    so `current` is never stale for longer than batond is away. Use it in `async with`, or
    `await close()` it."""

    def __init__(self, link: AsyncLink, name: str, on_rotated: OnRotated | None,
                 first: Secret | None) -> None:
        self.name = name
        self._link = link
        self._on_rotated = on_rotated
        self._current = first
        self._follower: AsyncFollower[Rotation] | None = None

    @classmethod
    async def start(cls, link: AsyncLink, name: str,
                    on_rotated: OnRotated | None) -> AsyncSecretWatcher:
        """Watching when it returns (SECRET WATCH answered), then read once: what changes
        after the watch began is pushed, so nothing falls between the two."""
        subscriber = await _watching(link, name)
        try:
            first = secret_from(await link.call("SECRET", "GET", name))
        except BaseException:
            await subscriber.close()
            raise
        watcher = cls(link, name, on_rotated, first)
        watcher._follower = AsyncFollower(subscriber, lambda: _watching(link, name),
                                          rotation_from, name=f"baton secret {name}",
                                          on_item=watcher._heard, on_reconnect=watcher._read)
        return watcher

    @property
    def current(self) -> Secret | None:
        """The current version as last read; None when there is no such secret."""
        return self._current

    @property
    def value(self) -> bytes | None:
        current = self._current
        return None if current is None else current.value

    @property
    def alive(self) -> bool:
        return self._follower is not None and self._follower.alive

    @property
    def error(self) -> BaseException | None:
        """Why the connection is down while it watches again, else None."""
        return None if self._follower is None else self._follower.error

    async def close(self) -> None:
        if self._follower is not None:
            await self._follower.close()

    async def __aenter__(self) -> AsyncSecretWatcher:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    def __repr__(self) -> str:
        version = None if self._current is None else self._current.version
        return f"AsyncSecretWatcher({self.name!r}, version={version})"

    async def _heard(self, rotation: Rotation) -> None:
        if rotation.name == self.name:
            await self._read()

    async def _read(self) -> None:
        secret = secret_from(await self._link.call("SECRET", "GET", self.name))
        before = self._current
        changed = (None if secret is None else (secret.version, secret.value)) != (
            None if before is None else (before.version, before.value))
        self._current = secret
        if changed and secret is not None and self._on_rotated is not None:
            await call_back(self._on_rotated, secret)


async def _watching(link: AsyncLink, name: str) -> Subscriber:
    """A connection in watch mode following `name` (SECRET WATCH answers a count)."""
    return await link.subscriber("SECRET", "WATCH", name)


class AsyncSecretWatchCalls:
    _link: AsyncLink

    async def watch_secret(self, name: str,
                           on_rotated: OnRotated | None = None) -> AsyncSecretWatcher:
        """An AsyncSecretWatcher of `name`: its value now (`current`, `value`), kept
        current, and `on_rotated(secret)` on each rotation:

            async with await baton.watch_secret("stripe/api-key", on_rotated=reconnect) as key:
                await use(key.value)
        """
        return await AsyncSecretWatcher.start(self._link, name, on_rotated)
