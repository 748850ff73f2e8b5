"""Rate limits for asyncio: RATE CHECK and PEEK (protocol/API.md, "Rate limits"), read by the
sync module's parser."""
from __future__ import annotations

from ..rate import RateDecision, _decision_from
from ._link import AsyncLink


class AsyncRateCalls:
    _link: AsyncLink

    async def check(self, policy: str, key: str, cost: int = 1) -> RateDecision:
        """RATE CHECK: decides and charges `cost`. An unknown policy, a bad key or a cost over
        the smallest limit raise OtherError (code ERR)."""
        return _decision_from(await self._link.call("RATE", "CHECK", policy, key, "COST", cost))

    async def rate_peek(self, policy: str, key: str, cost: int = 1) -> RateDecision:
        """RATE PEEK: the decision CHECK would make, charging nothing."""
        return _decision_from(await self._link.call("RATE", "PEEK", policy, key, "COST", cost))
