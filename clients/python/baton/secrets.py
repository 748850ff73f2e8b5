"""Secrets: SECRET GET and VERIFY, answered from batond's memory (protocol/API.md, "Secrets").
Values are versioned and encrypted in Redis under KEKs that only batond holds; VERIFY compares
in constant time and also accepts a `previous` version during its grace window."""
from __future__ import annotations

from dataclasses import dataclass

from ._link import Link
from ._replies import (as_fields, bytes_field, flag_field, int_field, optional_text_field,
                       text_field)


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
