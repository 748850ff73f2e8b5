"""What the sync and the asyncio halves of the library decide alike, written once, pure (no
I/O, no sleeping): when a watch connection counts as silent and how often it is PINGed, and
how a DEDUP DONE is sent again. The callers only sleep (time.sleep or asyncio.sleep) and send.
"""
from __future__ import annotations

import time
from typing import Callable

from .errors import OtherError, Unavailable, Unknown

# -- watching a holding (lock(), campaign(), the asyncio lock()) --------------------------------

SILENCE_FLOOR_S = 1.0
"""The shortest silence that counts a watch connection as broken, whatever the TTL: below it
a loaded host (a busy event loop, a slow thread switch) would be told of losses that are not."""

PINGS_PER_SILENCE = 4
"""A quiet watch connection is PINGed this many times within its silence limit."""


def silence_limit_s(ttl_ms: int) -> float:
    """How long a watch connection may stay silent (not even a PING answered) before the
    holding it watches counts as lost: half the TTL, at least SILENCE_FLOOR_S. A daemon that
    hangs renews nothing either."""
    return max(SILENCE_FLOOR_S, ttl_ms / 2000)


def ping_every_s(silence_s: float) -> float:
    """How long a watch connection may be quiet before it is PINGed."""
    return silence_s / PINGS_PER_SILENCE


# -- DEDUP DONE, sent again (once()) -----------------------------------------------------------

DONE_GIVE_UP_S = 30.0
DONE_FIRST_PAUSE_S = 0.05
DONE_LONGEST_PAUSE_S = 1.0


class DoneAttempts:
    """What once() sends as DEDUP DONE, and when it sends it again. batond answers Unknown or
    Unavailable while Redis is slow or away; the same DONE again is safe, and the claim stays
    the caller's while its connection stays open. Pauses grow from 50 ms to 1 s, for up to
    `give_up_s`: giving up early would close the claim's connection and let another caller
    run the work a second time. A result that DONE refuses for its size (`ERR ...
    dedup.max_result_bytes`; nothing stored, the claim still held) is replaced, once, by what
    `too_large(result)` answers, when given. Both halves loop alike:

        attempts = DoneAttempts(result, too_large)
        while True:
            try:
                DONE key attempts.result; return
            except BatonError as error:
                pause = attempts.pause_after(error)
                if pause is None:
                    raise
                sleep(pause)
    """

    def __init__(self, result: bytes, too_large: Callable[[bytes], bytes] | None = None,
                 give_up_s: float = DONE_GIVE_UP_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.result = result
        self._too_large = too_large
        self._clock = clock
        self._deadline = clock() + give_up_s
        self._pause = DONE_FIRST_PAUSE_S

    def pause_after(self, error: BaseException) -> float | None:
        """The pause before the next DONE (of `result`, which may have been replaced), or
        None: raise `error` (not worth another try, or the time is up)."""
        if self._too_large is not None and result_too_large(error):
            self.result, self._too_large = self._too_large(self.result), None
            return 0.0
        if not isinstance(error, (Unknown, Unavailable)):
            return None
        pause = self._pause
        if self._clock() + pause > self._deadline:
            return None
        self._pause = min(pause * 2, DONE_LONGEST_PAUSE_S)
        return pause


def result_too_large(error: BaseException) -> bool:
    """DEDUP DONE refused the result for its size (`ERR result is N bytes; at most M
    (dedup.max_result_bytes)`): nothing was stored, and the claim is still held."""
    return (isinstance(error, OtherError) and error.code == "ERR"
            and "dedup.max_result_bytes" in error.text)
