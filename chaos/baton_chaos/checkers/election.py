"""Checks the election workload (HISTORY.md, "election: fenced log of terms"): a term has one
leader, nobody sees terms go back, and the harness's fenced log only accepts entries in term
order from the term's own leader. A term is a lease's fencing token, so it grows even when
Redis loses data: nothing here is exempt from data-loss faults."""

from collections import defaultdict
from dataclasses import dataclass

from .common import Op, Verdict, collect, completion_order, fmt_t, integer, label, value_of

OP_FS = ("join", "log", "resign")
EVENT_FS = ("leader", "vacant", "lost")
ONE_LEADER = "one leader per term"
OBSERVER = "terms increase per observer"
FENCE = "fenced log monotonic"
BY_LEADER = "log entry by the term's leader"


@dataclass
class Sighting:
    """A process learning that `candidate` leads `group` under `term`."""
    t: float
    group: str
    term: int
    candidate: str
    process: str
    evidence: object  # the join Op, or the pushed event

    @property
    def joined(self):
        return isinstance(self.evidence, Op)

    def describe(self):
        how = "won by joining" if self.joined else "was told"
        return (f"{self.process} {how} at {fmt_t(self.t)}: '{self.group}' term {self.term} "
                f"led by {self.candidate}")


def check(history, faults, config):
    load = collect(history, "election", EVENT_FS)
    verdict = Verdict("election", ("joins", "terms", "leader_events", "logs", "log_refused",
                                   "resigns", "unknown", "malformed", "incomplete"))
    if not load:
        verdict.skip("no election operations")
        return verdict.result()
    sightings = [s for s in map(from_join, load.of("join")) if s]
    verdict.count("joins", len(sightings))
    told = [s for s in map(from_event, load.events) if s]
    verdict.count("leader_events", len(told))
    sightings += told
    sightings.sort(key=lambda s: s.t)
    verdict.count("terms", len({(s.group, s.term) for s in sightings}))
    logs = [op for op in load.of("log") if op.ok and term_of(op) is not None]
    verdict.count("logs", len(logs))
    verdict.count("log_refused", sum(1 for op in load.of("log") if op.type == "fail"))
    verdict.count("resigns", sum(1 for op in load.of("resign") if op.ok))
    verdict.count("unknown", load.unknown(OP_FS, EVENT_FS))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    check_one_leader(verdict, sightings)
    check_observers(verdict, sightings)
    check_log_order(verdict, logs)
    check_log_authors(verdict, logs, [s for s in sightings if s.joined])
    return verdict.result()


def term_of(op):
    return integer(op.result.get("term", op.args.get("term")))


def from_join(op):
    term = term_of(op) if op.ok else None
    if term is None or op.ident("group") is None:
        return None
    candidate = op.args.get("candidate", op.process)
    return Sighting(op.t1, str(op.ident("group")), term, str(candidate), op.process, op)


def from_event(event):
    value = value_of(event)
    if value.get("event", event.get("f")) != "leader":
        return None  # vacant and lost name no leader
    term = integer(value.get("term"))
    if term is None or value.get("group") is None:
        return None
    return Sighting(event["t"], str(value["group"]), term, str(value.get("candidate")),
                    label(event.get("process")), event)


def check_one_leader(verdict, sightings):
    first = {}
    for s in sightings:
        earlier = first.setdefault((s.group, s.term), s)
        if earlier.candidate != s.candidate:
            verdict.violate(ONE_LEADER, f"'{s.group}' term {s.term} had two leaders: "
                            f"{earlier.describe()}; {s.describe()}",
                            [earlier.evidence, s.evidence])


def check_observers(verdict, sightings):
    last = {}
    for s in sightings:
        before = last.get((s.process, s.group))
        if before and s.term < before.term:
            verdict.violate(OBSERVER, f"terms went back for {s.process}: {before.describe()}; "
                            f"then {s.describe()}", [before.evidence, s.evidence])
            continue
        if before and s.term == before.term and s.candidate != before.candidate:
            verdict.violate(OBSERVER, f"{s.process} saw one term name two leaders: "
                            f"{before.describe()}; then {s.describe()}",
                            [before.evidence, s.evidence])
            continue
        last[(s.process, s.group)] = s


def check_log_order(verdict, logs):
    highest = {}
    for op in completion_order(logs):
        group = str(op.ident("group"))
        best = highest.get(group)
        if best and term_of(op) < term_of(best):
            verdict.violate(FENCE, f"the log of '{group}' accepted term {term_of(op)} from "
                            f"{op.describe()} after accepting term {term_of(best)} from "
                            f"{best.describe()}", [best, op])
        elif not best or term_of(op) > term_of(best):
            highest[group] = op


def check_log_authors(verdict, logs, joins):
    winners = defaultdict(list)
    for s in joins:
        winners[s.group, s.term].append(s)
    for op in logs:
        group, term = str(op.ident("group")), term_of(op)
        leaders = winners.get((group, term), [])
        if any(s.process == op.process for s in leaders):
            continue
        if leaders:
            message = (f"the log of '{group}' accepted term {term} from {op.describe()}, but "
                       f"that term was won by {', '.join(str(s.process) for s in leaders)}")
        else:
            message = (f"the log of '{group}' accepted term {term} from {op.describe()}, but "
                       "no join answered that term")
        verdict.violate(BY_LEADER, message, [s.evidence for s in leaders] + [op])
