"""The faults as the checkers see them: when Redis may have lost acknowledged writes
(LossWindows, from the faults marked data_loss), so that rules relying on Redis keeping data
exempt what spans one; when a Sentinel or cluster failover may have lost the writes batond does not WAIT
for (failover_windows, from the faults marked failover), so that rules relying on such writes
exempt what was acknowledged in one; and which faults moved a clock. (Injecting faults:
../faults.py.)
"""

from dataclasses import dataclass

from .fields import INF, fmt_t, number


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    fault: dict

    def describe(self):
        what = "failover" if self.fault.get("failover") is True else "data-loss"
        return (f"{what} fault {self.fault.get('id')} ({self.fault.get('kind')}) "
                f"{fmt_t(self.start)}-{fmt_t(self.end)}")


class LossWindows:
    """When Redis may have lost acknowledged writes: [t_start, t_healed] of each fault with
    data_loss. Rules that rely on Redis keeping data exempt what spans one of these."""

    def __init__(self, faults, windows=None):
        self.windows = [] if windows is None else list(windows)
        for fault in faults or ():
            if isinstance(fault, dict) and fault.get("data_loss") is True:
                start = _first_number(fault, "t_start", "t_applied")
                end = _first_number(fault, "t_healed", "t_heal")
                self.windows.append(Window(-INF if start is None else start,
                                           INF if end is None else end, fault))
        self.windows.sort(key=lambda w: w.start)

    def merged(self, other):
        """These windows and other's together."""
        return LossWindows((), self.windows + other.windows)

    def __bool__(self):
        return bool(self.windows)

    def touching(self, lo, hi):
        """The first window that meets [lo, hi] (an interval, or two related events), or
        None."""
        for window in self.windows:
            if window.start <= hi and window.end >= lo:
                return window
        return None

    def floor(self, t):
        """The latest end of a window begun by t: an event from before it and one ending
        at t are on opposite sides of a loss (or one lies inside it)."""
        return max((w.end for w in self.windows if w.start <= t), default=-INF)

    def epoch(self, lo, hi):
        """Which stretch between losses [lo, hi] lies in (None if it meets a window). Two
        intervals with the same epoch have no loss between them."""
        if self.touching(lo, hi):
            return None
        return sum(1 for w in self.windows if w.end < lo)

    def started_by(self, t):
        return any(w.start <= t for w in self.windows)


# A write acknowledged this long before a failover began may not have reached the replica
# promoted (replication is asynchronous; on loopback it lags by milliseconds).
REPLICATION_MARGIN_S = 0.5
# How long after the sentinels named the new master a daemon may still write to the old one:
# a daemon follows +switch-master at once, and asks the sentinels again at least every
# redis.sentinel_refresh_ms (5000 by default), READONLY and ROLE aside. On a cluster (the
# same fields, from cluster_faults.py: the new primary named by every node) a daemon follows
# MOVED at once and asks for the slot map every redis.cluster_refresh_ms (5000 by default).
FOLLOW_S = 5.0


def failover_windows(faults):
    """When a Sentinel failover may have lost acknowledged writes that batond does not WAIT
    for (redis/durable_scripts.hpp: lease renewals, rate counters, session state, idempotency
    claims): from REPLICATION_MARGIN_S before the fault began until every daemon must have
    followed the new master (FOLLOW_S after the sentinels named it), or until the old master
    said it was a replica (t_demoted) if that came first; without a promotion, until the
    demotion or the end of the run; and if the sentinels failed over again by themselves
    (t_refailover), at least until FOLLOW_S after that. A write lost after that is a daemon writing where it
    should not: not exempt. Durable writes (grants, session opens and moves, secret versions,
    idempotency results) are never exempt: WAIT put them on a replica."""
    windows = []
    for fault in faults or ():
        if isinstance(fault, dict) and fault.get("failover") is True:
            start = _first_number(fault, "t_start", "t_applied")
            ends = [t for t in (_first_number(fault, "t_demoted"),) if t is not None]
            promoted = _first_number(fault, "t_failover")
            if promoted is not None:
                ends.append(promoted + FOLLOW_S)
            end = min(ends, default=INF)
            again = _first_number(fault, "t_refailover")
            if again is not None:  # the sentinels failed over again: that one may lose too
                end = max(end, again + FOLLOW_S)
            windows.append(Window(-INF if start is None else start - REPLICATION_MARGIN_S,
                                  end, fault))
    return LossWindows((), windows)


def _first_number(fault, *keys):
    for key in keys:
        t = number(fault.get(key))
        if t is not None:
            return t
    return None


def clock_faults(faults):
    return [f for f in faults or () if isinstance(f, dict) and f.get("clock") is True]
