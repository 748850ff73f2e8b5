"""Secrets for asyncio: SECRET GET and VERIFY (protocol/API.md, "Secrets"), read by the sync
module's parsers."""
from __future__ import annotations

from ..secrets import Secret, Verification, secret_from, verification_from
from ._link import AsyncLink


class AsyncSecretCalls:
    _link: AsyncLink

    async def secret_get(self, name: str) -> Secret | None:
        """SECRET GET: None when there is no such secret (as Baton.secret_get)."""
        return secret_from(await self._link.call("SECRET", "GET", name))

    async def secret_verify(self, name: str, candidate: bytes | str) -> Verification:
        """SECRET VERIFY. Unavailable is not a refusal: never read it as a match or a
        mismatch."""
        return verification_from(await self._link.call("SECRET", "VERIFY", name, candidate))
