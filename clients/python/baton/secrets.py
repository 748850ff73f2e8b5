"""Secrets: SECRET GET and VERIFY, answered from batond's memory (protocol/API.md, "Secrets").
Values are versioned and encrypted in Redis under KEKs that only batond holds; VERIFY compares
in constant time and also accepts a `previous` version during its grace window."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Callable

from ._follow import Follower, Watch
from ._link import Link
from ._replies import (as_fields, as_int, as_list, as_text, bytes_field, flag_field, int_field,
                       optional_text_field, text_field)


@dataclass(frozen=True)
class Secret:
    """The current version. `degraded`: Redis is unreachable and this is the cached value."""

    value: bytes
    version: int
    state: str
    degraded: bool


@dataclass(frozen=True)
class Verification:
    """SECRET VERIFY's answer. On a match, `version` and `state` ("current", or "previous"
    within its grace window) say which version matched; without one both are None."""

    match: bool
    version: int | None
    state: str | None
    degraded: bool


@dataclass(frozen=True)
class Rotation:
    """SECRET WATCH's push: the daemon serves `version` of `name` as current now."""

    name: str
    version: int
    epoch: int


def secret_from(reply: object) -> Secret | None:
    """SECRET GET's reply (pure: baton.aio reads it too): None when there is no such secret."""
    if reply is None:
        return None
    fields = as_fields(reply)
    return Secret(value=bytes_field(fields, "value"), version=int_field(fields, "version"),
                  state=text_field(fields, "state"), degraded=flag_field(fields, "degraded"))


def verification_from(reply: object) -> Verification:
    """SECRET VERIFY's reply; nil (no such secret) is no match."""
    if reply is None:
        return Verification(match=False, version=None, state=None, degraded=False)
    fields = as_fields(reply)
    match = flag_field(fields, "match")
    return Verification(match=match,
                        version=int_field(fields, "version") if match else None,
                        state=optional_text_field(fields, "state") if match else None,
                        degraded=flag_field(fields, "degraded"))


def rotation_from(push: object) -> Rotation | None:
    """["secret", "rotated", name, version, epoch]; None for anything else."""
    parts = as_list(push)
    if len(parts) != 5 or as_text(parts[0]) != "secret" or as_text(parts[1]) != "rotated":
        return None
    return Rotation(name=as_text(parts[2]), version=as_int(parts[3]), epoch=as_int(parts[4]))


class SecretWatcher:
    """Keeps the current version of one secret in memory and calls `on_rotated(secret)`
    (from its thread) when the daemon serves a new one. It follows `SECRET WATCH name` on a
    connection of its own: python3-redis 4.3 has no RESP3, and on RESP2 that connection is
    in watch mode, where the pushes arrive as plain arrays (protocol/API.md, "LEASE WATCH").
    On each push it reads the secret again (SECRET GET, from the daemon's memory). If the
    connection breaks (batond restarted), it watches again and reads again, so `current` is
    never stale for longer than batond is away."""

    def __init__(self, link: Link, name: str,
                 on_rotated: Callable[[Secret], None] | None = None) -> None:
        self.name = name
        self._link = link
        self._on_rotated = on_rotated
        self._reading = threading.Lock()
        self._current: Secret | None = None
        self._follower = Follower(lambda: Watch.open(link, "SECRET", "WATCH", name),
                                  rotation_from, self._heard, name=f"baton secret {name}",
                                  reconnect=True, on_reconnect=self._read)
        try:
            self._read(tell=False)
        except BaseException:
            self._follower.close()
            raise

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
        return self._follower.alive

    def close(self) -> None:
        self._follower.close()

    def __enter__(self) -> SecretWatcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _heard(self, rotation: Rotation) -> None:
        if rotation.name == self.name:
            self._read()

    def _read(self, tell: bool = True) -> None:
        # One read at a time, so that an older answer never replaces a newer one.
        with self._reading:
            secret = secret_from(self._link.call("SECRET", "GET", self.name))
            before = self._current
            changed = (None if secret is None else (secret.version, secret.value)) != (
                None if before is None else (before.version, before.value))
            self._current = secret
        if tell and changed and secret is not None and self._on_rotated is not None:
            self._on_rotated(secret)


class SecretCalls:
    _link: Link

    def secret_get(self, name: str) -> Secret | None:
        """SECRET GET: None when there is no such secret. Raises Unavailable when Redis is
        unreachable and the secret was never loaded here, OtherError (ERR) when secrets are
        off or the value cannot be decrypted (never a wrong value)."""
        return secret_from(self._link.call("SECRET", "GET", name))

    def secret_verify(self, name: str, candidate: bytes | str) -> Verification:
        """SECRET VERIFY. Unavailable is not a refusal: the candidate may be a version newer
        than this daemon has seen, so never read it as a match or as a mismatch."""
        return verification_from(self._link.call("SECRET", "VERIFY", name, candidate))

    def watch_secret(self, name: str,
                     on_rotated: Callable[[Secret], None] | None = None) -> SecretWatcher:
        """A SecretWatcher of `name`: its value now (`current`, `value`), kept current, and
        `on_rotated(secret)` on each rotation. Close it when done."""
        return SecretWatcher(self._link, name, on_rotated)
