"""Shared state: versioned entries in namespaces the config names (protocol/API.md, "Shared
state"). A version grows with every write of a key, also across a delete, so `if_version` is a
compare-and-set safe against ABA."""
from __future__ import annotations

from dataclasses import dataclass

from ._link import Link
from ._replies import Arg, as_fields, as_int, bytes_field, int_field


@dataclass(frozen=True)
class StateEntry:
    """An entry: its value, its version, and the milliseconds left before it expires (None:
    it does not expire)."""

    value: bytes
    version: int
    ttl_ms: int | None


def state_entry_from(reply: object) -> StateEntry | None:
    """STATE GET's reply (pure: baton.aio reads it too): None when there is no entry."""
    if reply is None:
        return None
    fields = as_fields(reply)
    ttl_ms = int_field(fields, "ttl_ms")
    return StateEntry(value=bytes_field(fields, "value"), version=int_field(fields, "version"),
                      ttl_ms=None if ttl_ms < 0 else ttl_ms)


def state_set_args(namespace: str, key: str, value: bytes | str, ttl_ms: int | None = None,
                   if_absent: bool = False, if_version: int | None = None) -> list[Arg]:
    """STATE SET's arguments; ValueError for if_absent with if_version."""
    if if_absent and if_version is not None:
        raise ValueError("if_absent and if_version exclude each other")
    args: list[Arg] = ["STATE", "SET", namespace, key, value]
    if ttl_ms is not None:
        args += ["TTL", ttl_ms]
    if if_absent:
        args.append("IFABSENT")
    if if_version is not None:
        args += ["IFVERSION", if_version]
    return args


def state_delete_args(namespace: str, key: str, if_version: int | None = None) -> list[Arg]:
    args: list[Arg] = ["STATE", "DEL", namespace, key]
    if if_version is not None:
        args += ["IFVERSION", if_version]
    return args


class StateCalls:
    _link: Link

    def state_get(self, namespace: str, key: str) -> StateEntry | None:
        """STATE GET: None when there is no entry. An unknown namespace raises OtherError
        (code ERR)."""
        return state_entry_from(self._link.call("STATE", "GET", namespace, key))

    def state_set(self, namespace: str, key: str, value: bytes | str,
                  ttl_ms: int | None = None, if_absent: bool = False,
                  if_version: int | None = None) -> int:
        """STATE SET; answers the new version. `if_absent` writes only when there is no
        entry, `if_version` only when the entry is at that version (0: no entry); otherwise
        it raises Conflict, whose `version` is the one that won (0: no entry), and nothing
        changes. Without `ttl_ms` the namespace's default TTL applies."""
        args = state_set_args(namespace, key, value, ttl_ms=ttl_ms, if_absent=if_absent,
                              if_version=if_version)
        return as_int(self._link.call(*args))

    def state_delete(self, namespace: str, key: str, if_version: int | None = None) -> bool:
        """STATE DEL: True when an entry was deleted. With `if_version`, only that version is
        deleted; another raises Conflict."""
        return as_int(self._link.call(*state_delete_args(namespace, key, if_version))) == 1
