"""baton's error replies as exception classes. Every error batond writes starts with a stable
upper-case code (protocol/API.md, "Errors"); the code picks the class, so an app catches
`Denied` or `Conflict` instead of matching texts. The whole reply stays readable as `str(e)`."""
from __future__ import annotations

import re


class BatonError(Exception):
    """An error reply from batond: `code` is its first word ("DENIED"), `text` the sentence
    after it."""

    code: str
    text: str

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code} {text}" if text else code)
        self.code = code
        self.text = text


class OtherError(BatonError):
    """ERR (bad arguments, an unknown namespace or policy, a syntax error; nothing changed),
    NOPROTO, and any code this library does not know yet."""


class NoPerm(BatonError):
    """NOPERM: the access rules refuse this caller, the command needs an admin, or it is
    another uid's (a lease, a claim, a session)."""


class Unavailable(BatonError):
    """UNAVAILABLE: Redis did not answer in time; a change certainly did not apply."""


class Denied(BatonError):
    """DENIED: someone else holds the lease (or it is in lock-delay). `token` and
    `remaining_ms` are the holder's, when the text gives them."""

    token: int | None
    remaining_ms: int | None

    def __init__(self, code: str, text: str) -> None:
        super().__init__(code, text)
        self.token = _number_after("under token", text)
        self.remaining_ms = _number_after("for", text, unit="ms")


class Lost(BatonError):
    """LOST: the caller held it and no longer does."""


class NotHeld(BatonError):
    """NOTHELD: the caller does not hold it under that token (never acquired, or released)."""


class Draining(BatonError):
    """DRAINING: this node drains for a deploy; the text names an active node to use."""


class Moved(BatonError):
    """MOVED: the session belongs to another node now; the text names it."""


class Refused(BatonError):
    """REFUSED: a resume token that is not valid or was used, or a stale scan cursor."""


class Busy(BatonError):
    """BUSY: the same work runs on another daemon (a rotation of that secret)."""


class Conflict(BatonError):
    """CONFLICT: a concurrent change won. `version` is the version that won (0: the key has
    no value), ready to pass as the next `if_version`; None when the text does not say."""

    version: int | None

    def __init__(self, code: str, text: str) -> None:
        super().__init__(code, text)
        if "has no value" in text:
            self.version = 0
        else:
            self.version = _number_after("at version", text)


class Unknown(BatonError):
    """UNKNOWN: Redis may or may not have applied the call; the command's section of API.md
    says what is safe to do (sending it again as it was always is)."""


class UnexpectedReply(Exception):
    """A reply whose shape this library does not expect: a daemon newer or older than it, or a
    bug. Not a BatonError: batond did not refuse anything."""


_CLASS_OF_CODE: dict[str, type[BatonError]] = {
    "NOPERM": NoPerm,
    "UNAVAILABLE": Unavailable,
    "DENIED": Denied,
    "LOST": Lost,
    "NOTHELD": NotHeld,
    "DRAINING": Draining,
    "MOVED": Moved,
    "REFUSED": Refused,
    "BUSY": Busy,
    "CONFLICT": Conflict,
    "UNKNOWN": Unknown,
}


def error_from_reply(reply: str) -> BatonError:
    """The exception for a whole error reply, "CODE sentence"."""
    code, _, text = reply.partition(" ")
    return _CLASS_OF_CODE.get(code, OtherError)(code, text)


def _number_after(words: str, text: str, unit: str = "") -> int | None:
    pattern = re.escape(words) + r" (\d+)" + (r" " + re.escape(unit) if unit else r"\b")
    found = re.search(pattern, text)
    return int(found.group(1)) if found else None
