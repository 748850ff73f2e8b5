"""What every checker shares (HISTORY.md, "Checkers"): reading a history into operations (an
invoke paired with its completion) and the verdict; with fields.py's readers and the faults'
windows (loss_windows.py) re-exported, so a checker imports from here. Histories are written by
a harness under fire, so nothing here raises on odd input: unreadable events are counted."""

from bisect import bisect_left
from dataclasses import dataclass

from .fields import INF, fmt_t, integer, label, number, section, value_of  # noqa: F401 (re-exported)
from .loss_windows import (LossWindows, Window, clock_faults,  # noqa: F401 (re-exported)
                           failover_windows)

COMPLETIONS = ("ok", "fail", "info")


# -- operations -----------------------------------------------------------------------------

@dataclass
class Op:
    """One operation: its invoke and its completion (None if the history has none)."""
    invoke: dict
    completion: dict | None = None

    @property
    def f(self):
        return self.invoke.get("f")

    @property
    def process(self):
        return label(self.invoke.get("process"))

    @property
    def node(self):
        return label(self.invoke.get("node"))

    @property
    def type(self):
        """ok, fail or info; an op never completed counts as info (unknown outcome)."""
        kind = self.completion.get("type") if self.completion else None
        return kind if kind in COMPLETIONS else "info"

    @property
    def ok(self):
        return self.type == "ok"

    @property
    def t0(self):
        return number(self.invoke.get("t"))

    @property
    def t1(self):
        """Completion time; an op never completed may have taken effect until the end."""
        t = number(self.completion.get("t")) if self.completion else None
        return INF if t is None else t

    @property
    def args(self):
        return value_of(self.invoke)

    @property
    def result(self):
        return value_of(self.completion)

    def ident(self, key):
        """An identifying argument (name, id, key): from the invoke, else the completion."""
        value = self.args.get(key)
        return self.result.get(key) if value is None else value

    def events(self):
        return [e for e in (self.invoke, self.completion) if e is not None]

    def describe(self):
        where = f" on {self.node}" if self.node else ""
        end = f"{self.type} {fmt_t(self.t1)}" if self.completion else "never completed"
        return f"{self.f} by {self.process}{where} (invoked {fmt_t(self.t0)}, {end})"


@dataclass
class Workload:
    """One workload's part of a history, in time order."""
    ops: list
    events: list
    malformed: int = 0
    incomplete: int = 0

    def of(self, *fs):
        return [op for op in self.ops if op.f in fs]

    def events_of(self, *fs):
        return [e for e in self.events if e.get("f") in fs]

    def unknown(self, op_fs, event_fs=()):
        """Ops and events of kinds this checker does not know: counted, not judged."""
        return (sum(1 for op in self.ops if op.f not in op_fs)
                + sum(1 for e in self.events if e.get("f") not in event_fs))

    def __bool__(self):
        return bool(self.ops or self.events)


def collect(history, workload, event_fs=()):
    """Pairs the workload's invokes with their completions by "op". Events without a
    workload field are taken by their kind (f) when it is one of event_fs."""
    mine, malformed = [], 0
    for index, event in enumerate(history or ()):
        if not isinstance(event, dict):
            malformed += 1
            continue
        owner = event.get("workload")
        if owner != workload and not (owner is None and event.get("f") in event_fs):
            continue
        t = number(event.get("t"))
        if t is None:
            malformed += 1
            continue
        mine.append((t, index, event))
    mine.sort(key=lambda item: (item[0], item[1]))  # written in t order, but be sure

    ops, events, open_ops = [], [], {}
    for _, _, event in mine:
        kind, op_id = event.get("type"), event.get("op")
        if kind == "event":
            events.append(event)
        elif kind == "invoke" and _hashable(op_id) and op_id not in open_ops:
            op = Op(event)
            open_ops[op_id] = op
            ops.append(op)
        elif kind in COMPLETIONS and _hashable(op_id) and op_id in open_ops:
            open_ops.pop(op_id).completion = event
        else:
            malformed += 1  # unknown type, a second invoke, or a completion with no invoke
    return Workload(ops, events, malformed, incomplete=len(open_ops))


def _hashable(op_id):
    return op_id is not None and isinstance(op_id, (int, str))


def completion_order(ops):
    return sorted(ops, key=lambda op: (op.t1, op.t0))


def earlier_best(befores, afters, value, losses=None):
    """Yields (op, best) for each op of afters in invoke order, where best is the op of
    befores with the highest value(op) among those completed before op was invoked: what
    real-time order says op must not fall below. With losses, an earlier op counts only
    when no data-loss window lies between its invoke and op's completion."""
    groups = {}
    for op in afters:
        groups.setdefault(losses.floor(op.t1) if losses else -INF, []).append(op)
    for floor, group in groups.items():
        by_end = sorted((b for b in befores if b.t0 > floor), key=lambda b: b.t1)
        ends = [b.t1 for b in by_end]
        best, taken = None, 0
        for op in sorted(group, key=lambda op: op.t0):
            until = bisect_left(ends, op.t0)
            for earlier in by_end[taken:until]:
                if best is None or value(earlier) > value(best):
                    best = earlier
            taken = max(taken, until)
            yield op, best



# -- verdicts -------------------------------------------------------------------------------

class Verdict:
    """Builds one checker's verdict. Keeps the first counterexample of each rule (the one
    that was complete earliest in the run) and counts them all."""

    def __init__(self, checker, counts=()):
        self.checker = checker
        self.checked = dict.fromkeys(counts, 0)
        self.measured = {}
        self.skipped = []
        self._first = {}
        self._count = {}

    def count(self, key, n=1):
        self.checked[key] = self.checked.get(key, 0) + n

    def skip(self, reason):
        if reason not in self.skipped:
            self.skipped.append(reason)

    def skip_counted(self, key, rule, what):
        """Notes '<rule>: <n> <what>' when measured[key] counted n > 0 exemptions."""
        n = self.measured.get(key)
        if n:
            self.skip(f"{rule}: {n} {what}" if rule else f"{n} {what}")

    def violate(self, rule, message, involved):
        """involved: events and Ops (each Op contributes its invoke and completion)."""
        events = []
        for item in involved:
            for event in item.events() if isinstance(item, Op) else [item]:
                if isinstance(event, dict) and all(event is not e for e in events):
                    events.append(event)
        events.sort(key=_time_of)
        self._count[rule] = self._count.get(rule, 0) + 1
        seen_at = max((_time_of(e) for e in events), default=INF)
        first = self._first.get(rule)
        if first is None or seen_at < first[0]:
            self._first[rule] = (seen_at, {"rule": rule, "message": message, "events": events})

    def result(self):
        violations = [v for _, v in sorted(self._first.values(), key=lambda p: p[0])]
        measured = dict(self.measured)
        if self._count:
            measured["violations_of_rule"] = dict(self._count)
        return {"checker": self.checker, "valid": not violations, "checked": self.checked,
                "violations": violations, "skipped": self.skipped, "measured": measured}


def _time_of(event):
    t = number(event.get("t"))
    return INF if t is None else t
