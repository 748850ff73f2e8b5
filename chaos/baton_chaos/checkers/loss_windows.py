"""The faults as the checkers see them: when Redis may have lost acknowledged writes
(LossWindows, from the faults marked data_loss), so that rules relying on Redis keeping data
exempt what spans one, and which faults moved a clock. (Injecting faults: ../faults.py.)
"""

from dataclasses import dataclass

from .fields import INF, fmt_t, number


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    fault: dict

    def describe(self):
        return (f"data-loss fault {self.fault.get('id')} ({self.fault.get('kind')}) "
                f"{fmt_t(self.start)}-{fmt_t(self.end)}")


class LossWindows:
    """When Redis may have lost acknowledged writes: [t_start, t_healed] of each fault with
    data_loss. Rules that rely on Redis keeping data exempt what spans one of these."""

    def __init__(self, faults):
        self.windows = []
        for fault in faults or ():
            if isinstance(fault, dict) and fault.get("data_loss") is True:
                start = _first_number(fault, "t_start", "t_applied")
                end = _first_number(fault, "t_healed", "t_heal")
                self.windows.append(Window(-INF if start is None else start,
                                           INF if end is None else end, fault))
        self.windows.sort(key=lambda w: w.start)

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


def _first_number(fault, *keys):
    for key in keys:
        t = number(fault.get(key))
        if t is not None:
            return t
    return None


def clock_faults(faults):
    return [f for f in faults or () if isinstance(f, dict) and f.get("clock") is True]
