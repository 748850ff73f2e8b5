"""The near cache for asyncio: CACHE GET, SET, DEL and INVALIDATE (protocol/API.md, "Near
cache"), built and read by the sync module's functions."""
from __future__ import annotations

from .._replies import as_int, expect_ok
from ..cache import CacheEntry, _is_pattern_word, cache_entry_from, cache_set_args
from ._link import AsyncLink


class AsyncCacheCalls:
    _link: AsyncLink

    async def cache_get(self, namespace: str, key: str) -> CacheEntry | None:
        """CACHE GET: None on a miss."""
        return cache_entry_from(await self._link.call("CACHE", "GET", namespace, key))

    async def cache_set(self, namespace: str, key: str, value: bytes | str,
                        ttl_ms: int | None = None) -> None:
        """CACHE SET (without `ttl_ms`, the namespace's); every daemon drops its copy."""
        expect_ok(await self._link.call(*cache_set_args(namespace, key, value, ttl_ms)))

    async def cache_delete(self, namespace: str, key: str) -> bool:
        """CACHE DEL: True when the key was in Redis."""
        return as_int(await self._link.call("CACHE", "DEL", namespace, key)) == 1

    async def cache_invalidate(self, namespace: str, *keys: str) -> int:
        """CACHE INVALIDATE of these keys; answers how many were in Redis (a first key named
        PATTERN is deleted on its own, as in Baton.cache_invalidate)."""
        deleted = 0
        rest = list(keys)
        while rest and _is_pattern_word(rest[0]):
            deleted += int(await self.cache_delete(namespace, rest.pop(0)))
        if rest:
            deleted += as_int(await self._link.call("CACHE", "INVALIDATE", namespace, *rest))
        return deleted

    async def cache_invalidate_pattern(self, namespace: str, pattern: str) -> int:
        """CACHE INVALIDATE ns PATTERN p: every key matching Redis' glob `pattern`."""
        return as_int(await self._link.call("CACHE", "INVALIDATE", namespace, "PATTERN",
                                            pattern))
