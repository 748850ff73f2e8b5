"""The near cache: entries in namespaces the config names, kept in Redis and in each daemon's
memory, with every write and delete invalidating every daemon's copy (protocol/API.md, "Near
cache")."""
from __future__ import annotations

from dataclasses import dataclass

from ._link import Link
from ._replies import (Arg, as_fields, as_int, bytes_field, expect_ok, flag_field, int_field,
                       text_field)


@dataclass(frozen=True)
class CacheEntry:
    """A cached value: `ttl_ms` left in Redis, `source` "near" (the daemon's memory) or
    "redis", and `degraded` when Redis could not be asked (the value may have changed)."""

    value: bytes
    ttl_ms: int
    source: str
    degraded: bool


def _is_pattern_word(key: str) -> bool:
    # CACHE INVALIDATE reads a first key spelled PATTERN (any case) as its keyword.
    return key.upper() == "PATTERN"


def cache_entry_from(reply: object) -> CacheEntry | None:
    """CACHE GET's reply (pure: baton.aio reads it too): None on a miss."""
    if reply is None:
        return None
    fields = as_fields(reply)
    return CacheEntry(value=bytes_field(fields, "value"), ttl_ms=int_field(fields, "ttl_ms"),
                      source=text_field(fields, "source"), degraded=flag_field(fields, "degraded"))


def cache_set_args(namespace: str, key: str, value: bytes | str,
                   ttl_ms: int | None = None) -> list[Arg]:
    args: list[Arg] = ["CACHE", "SET", namespace, key, value]
    if ttl_ms is not None:
        args += ["TTL", ttl_ms]
    return args


class CacheCalls:
    _link: Link

    def cache_get(self, namespace: str, key: str) -> CacheEntry | None:
        """CACHE GET: None on a miss."""
        return cache_entry_from(self._link.call("CACHE", "GET", namespace, key))

    def cache_set(self, namespace: str, key: str, value: bytes | str,
                  ttl_ms: int | None = None) -> None:
        """CACHE SET (without `ttl_ms`, the namespace's); every daemon drops its copy."""
        expect_ok(self._link.call(*cache_set_args(namespace, key, value, ttl_ms)))

    def cache_delete(self, namespace: str, key: str) -> bool:
        """CACHE DEL: True when the key was in Redis."""
        return as_int(self._link.call("CACHE", "DEL", namespace, key)) == 1

    def cache_invalidate(self, namespace: str, *keys: str) -> int:
        """CACHE INVALIDATE of these keys, in Redis and every near cache; answers how many
        were in Redis. (A first key named PATTERN is deleted on its own, so that it is not
        read as the keyword.)"""
        deleted = 0
        rest = list(keys)
        while rest and _is_pattern_word(rest[0]):
            deleted += int(self.cache_delete(namespace, rest.pop(0)))
        if rest:
            deleted += as_int(self._link.call("CACHE", "INVALIDATE", namespace, *rest))
        return deleted

    def cache_invalidate_pattern(self, namespace: str, pattern: str) -> int:
        """CACHE INVALIDATE ns PATTERN p: every key matching Redis' glob `pattern`."""
        return as_int(self._link.call("CACHE", "INVALIDATE", namespace, "PATTERN", pattern))
