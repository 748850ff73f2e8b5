"""Rate limits: RATE CHECK and PEEK against the policies named in batond's config
(protocol/API.md, "Rate limits"). Every window of a policy is checked and charged at once, and
nothing is charged when one refuses."""
from __future__ import annotations

from dataclasses import dataclass

from ._link import Link
from ._replies import as_fields, flag_field, int_field, text_field


@dataclass(frozen=True)
class RateDecision:
    """`allowed` is what the caller should do; `limited` differs from it only for a shadow
    policy (it allows, but counts what it would have refused). `remaining` and `reset_ms` are
    the tightest window's; `retry_after_ms` is when the same request would be admitted (0 if
    it was). `degraded`: Redis did not answer in time and the policy's failure mode decided;
    `source` says who answered ("redis", "cache", "open", "closed", "local")."""

    allowed: bool
    limited: bool
    remaining: int
    reset_ms: int
    retry_after_ms: int
    degraded: bool
    source: str


def _decision_from(reply: object) -> RateDecision:
    fields = as_fields(reply)
    return RateDecision(allowed=flag_field(fields, "allowed"),
                        limited=flag_field(fields, "limited"),
                        remaining=int_field(fields, "remaining"),
                        reset_ms=int_field(fields, "reset_ms"),
                        retry_after_ms=int_field(fields, "retry_after_ms"),
                        degraded=flag_field(fields, "degraded"),
                        source=text_field(fields, "source"))


class RateCalls:
    _link: Link

    def check(self, policy: str, key: str, cost: int = 1) -> RateDecision:
        """RATE CHECK: decides and charges `cost`. An unknown policy, a bad key or a cost over
        the smallest limit raise OtherError (code ERR)."""
        return _decision_from(self._link.call("RATE", "CHECK", policy, key, "COST", cost))

    def rate_peek(self, policy: str, key: str, cost: int = 1) -> RateDecision:
        """RATE PEEK: the decision CHECK would make, charging nothing."""
        return _decision_from(self._link.call("RATE", "PEEK", policy, key, "COST", cost))
