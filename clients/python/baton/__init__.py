"""A typed Python client for baton, the per-host coordination daemon: leases and locks, rate
limits, idempotency keys, secrets, shared state, the near cache, events, sessions and their
handoffs, leader election and circuit breakers, over batond's local Unix socket through
python3-redis. Start with `Baton()`; see clients/python/README.md."""
from __future__ import annotations

from .breakers import Breaker, BreakerDecision, BreakerOpen, Open
from .cache import CacheEntry
from .client import DEFAULT_SOCKET, Baton, socket_path_from
from .dedup import Claim, ClaimStatus, InProgress
from .elect import Leader, LeaderEvent, LeaderObserver, Leadership
from .errors import (BatonError, Busy, Conflict, Denied, Draining, Lost, Moved, NoPerm,
                     NotHeld, OtherError, Refused, UnexpectedReply, Unavailable, Unknown,
                     error_from_reply)
from .events import Event
from .leases import HeldLease, Lease, LeaseEvent, LeaseInfo
from .rate import RateDecision
from .secrets import Rotation, Secret, SecretWatcher, Verification
from .sessions import (Handoff, HandoffIn, HandoffOut, OpenedSession, ResumedSession, Session,
                       SessionFollower, SessionState, Touched)
from .state import StateEntry

__all__ = [
    "Baton", "DEFAULT_SOCKET", "socket_path_from",
    "BatonError", "OtherError", "NoPerm", "Unavailable", "Denied", "Lost", "NotHeld",
    "Draining", "Moved", "Refused", "Busy", "Conflict", "Unknown", "UnexpectedReply",
    "error_from_reply",
    "Lease", "LeaseInfo", "RateDecision", "Claim", "ClaimStatus", "InProgress",
    "Secret", "Verification", "StateEntry", "CacheEntry", "Event",
    "OpenedSession", "Session", "Touched", "SessionState", "ResumedSession", "Handoff",
    "HandoffOut", "HandoffIn", "SessionFollower",
    "HeldLease", "LeaseEvent", "Leadership", "Leader", "LeaderEvent", "LeaderObserver",
    "Breaker", "BreakerDecision", "Open", "BreakerOpen", "SecretWatcher", "Rotation",
]
__version__ = "0.1.0"
