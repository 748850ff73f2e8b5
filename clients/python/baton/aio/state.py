"""Shared state for asyncio: STATE GET, SET and DEL with versions (protocol/API.md, "Shared
state"), built and read by the sync module's functions."""
from __future__ import annotations

from .._replies import as_int
from ..state import StateEntry, state_delete_args, state_entry_from, state_set_args
from ._link import AsyncLink


class AsyncStateCalls:
    _link: AsyncLink

    async def state_get(self, namespace: str, key: str) -> StateEntry | None:
        """STATE GET: None when there is no entry."""
        return state_entry_from(await self._link.call("STATE", "GET", namespace, key))

    async def state_set(self, namespace: str, key: str, value: bytes | str,
                        ttl_ms: int | None = None, if_absent: bool = False,
                        if_version: int | None = None) -> int:
        """STATE SET; answers the new version. Conflict (with the winning `version`) when
        `if_absent` or `if_version` does not hold; as Baton.state_set."""
        args = state_set_args(namespace, key, value, ttl_ms=ttl_ms, if_absent=if_absent,
                              if_version=if_version)
        return as_int(await self._link.call(*args))

    async def state_delete(self, namespace: str, key: str,
                           if_version: int | None = None) -> bool:
        """STATE DEL: True when an entry was deleted."""
        reply = await self._link.call(*state_delete_args(namespace, key, if_version))
        return as_int(reply) == 1
