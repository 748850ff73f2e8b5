"""Reading batond's replies, which python3-redis hands over untyped. Most replies are maps, a
flat [field, value, ...] array in RESP2 (a dict in RESP3); these helpers turn one into a dict
and take typed fields out of it, failing loudly (UnexpectedReply) on a shape they do not
expect rather than passing a wrong type on."""
from __future__ import annotations

from typing import Mapping, Union

from .errors import UnexpectedReply

# What a call may send: redis-py encodes each of these as a bulk string.
Arg = Union[str, bytes, int]
Fields = Mapping[str, object]


def as_fields(reply: object) -> dict[str, object]:
    """A map reply as a dict with str keys. (Every typed call goes through here: pairing the
    flat array through one iterator, and decoding bytes keys without a call, halves what it
    costs; bench/python_client_overhead_bench.py shows what the library adds.)"""
    if isinstance(reply, list) and len(reply) % 2 == 0:
        pairs = iter(reply)
        return {key.decode("utf-8", "replace") if type(key) is bytes else as_text(key): value
                for key, value in zip(pairs, pairs)}
    if isinstance(reply, dict):
        return {as_text(key): value for key, value in reply.items()}
    raise UnexpectedReply(f"expected a map, got {reply!r:.200}")


def as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise UnexpectedReply(f"expected a string, got {value!r:.200}")


def as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise UnexpectedReply(f"expected an integer, got {value!r:.200}")


def as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise UnexpectedReply(f"expected a bulk string, got {value!r:.200}")


def as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    raise UnexpectedReply(f"expected an array, got {value!r:.200}")


def field(fields: Fields, name: str) -> object:
    if name not in fields:
        raise UnexpectedReply(f"the reply has no field {name!r}: {dict(fields)!r:.200}")
    return fields[name]


# The field readers below check the common case (the type batond sends) first and inline,
# and fall back to the general conversion, with its error, otherwise: every typed call reads
# four to seven fields, and this keeps what the library adds to a call within a few percent
# of python3-redis' own cost (bench/python_client_overhead_bench.py).

def int_field(fields: Fields, name: str) -> int:
    value = fields.get(name)
    if type(value) is int:
        return value
    return as_int(field(fields, name))


def flag_field(fields: Fields, name: str) -> bool:
    """A 0/1 field; absent counts as 0 (fields like `degraded` came later than others)."""
    value = fields.get(name, 0)
    if type(value) is int:
        return value != 0
    return bool(as_int(value))


def text_field(fields: Fields, name: str) -> str:
    value = fields.get(name)
    if type(value) is bytes:
        return value.decode("utf-8", "replace")
    return as_text(field(fields, name))


def optional_text_field(fields: Fields, name: str) -> str | None:
    value = fields.get(name)
    return None if value is None else as_text(value)


def bytes_field(fields: Fields, name: str) -> bytes:
    value = fields.get(name)
    if type(value) is bytes:
        return value
    return as_bytes(field(fields, name))


def optional_bytes_field(fields: Fields, name: str) -> bytes | None:
    value = fields.get(name)
    return None if value is None else as_bytes(value)


def is_ok(reply: object) -> bool:
    """+OK, as redis-py gives it without response callbacks."""
    return reply in (b"OK", "OK", True)


def expect_ok(reply: object) -> None:
    if not is_ok(reply):
        raise UnexpectedReply(f"expected OK, got {reply!r:.200}")
