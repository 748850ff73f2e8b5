"""The election checker on hand-written histories: a clean succession of leaders, and for
each rule a history that breaks it, with the events the counterexample must name."""

import unittest

from baton_chaos.checkers import election
from checkers_support import History, VerdictAsserts, fault

GROUP = "chaos-group"


def join(h, process, t0, t1, term, node="d1"):
    return h.op(process, "join", t0, t1, {"group": GROUP, "candidate": process, "ttl_ms": 2000},
                {"group": GROUP, "term": term, "validity_ms": 1900}, node=node)


def log(h, process, t0, t1, term, outcome="ok", node="d1"):
    result = {"group": GROUP, "term": term}
    if outcome == "fail":
        result.update(error="fenced", max_term=999)
    return h.op(process, "log", t0, t1, {"group": GROUP, "term": term}, result, outcome, node)


def told(h, t, watcher, term, candidate, kind="leader"):
    return h.event(t, watcher, "leader", {"group": GROUP, "event": kind, "term": term,
                                          "candidate": candidate, "node": "d1"}, node="d1")


def succession():
    h = History("election")
    told(h, 0.0, "elect-watch-d1", 0, "", kind="vacant")
    join(h, "cand-1", 0.1, 0.2, 5)
    told(h, 0.21, "elect-watch-d1", 5, "cand-1")
    log(h, "cand-1", 0.3, 0.31, 5)
    h.op("cand-1", "resign", 0.4, 0.41, {"group": GROUP, "term": 5})
    told(h, 0.42, "elect-watch-d1", 5, "cand-1", kind="vacant")
    join(h, "cand-2", 0.1, 0.5, 9, node="d2")
    told(h, 0.51, "elect-watch-d1", 9, "cand-2")
    log(h, "cand-2", 0.6, 0.61, 9, node="d2")
    log(h, "cand-1", 0.7, 0.71, 5, outcome="fail")  # a stale leader, refused by the log
    return h


class ElectionCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = election.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no election operations"])

    def test_succession_passes(self):
        verdict = election.check(succession().events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["terms"], 2)
        self.assertEqual(verdict["checked"]["logs"], 2)
        self.assertEqual(verdict["checked"]["log_refused"], 1)

    def test_two_joins_winning_one_term(self):
        h = History("election")
        first = join(h, "cand-1", 0.1, 0.2, 5)
        second = join(h, "cand-2", 0.3, 0.4, 5, node="d2")
        verdict = election.check(h.events(), [], {})
        self.assertViolation(verdict, election.ONE_LEADER, first + second)

    def test_a_push_naming_another_leader_for_a_term(self):
        h = History("election")
        won = join(h, "cand-1", 0.1, 0.2, 5)
        push = told(h, 0.3, "elect-watch-d2", 5, "cand-2")
        verdict = election.check(h.events(), [], {})
        self.assertViolation(verdict, election.ONE_LEADER, won + [push])
        self.assertOnlyRules(verdict, election.ONE_LEADER)

    def test_an_observer_seeing_terms_go_back(self):
        h = History("election")
        join(h, "cand-1", 0.1, 0.2, 5)
        join(h, "cand-2", 0.3, 0.4, 9)
        newer = told(h, 0.5, "elect-watch-d1", 9, "cand-2")
        older = told(h, 0.6, "elect-watch-d1", 5, "cand-1")
        verdict = election.check(h.events(), [], {})
        self.assertViolation(verdict, election.OBSERVER, [newer, older])
        self.assertOnlyRules(verdict, election.OBSERVER)

    def test_terms_going_back_across_observers_is_fine(self):
        h = History("election")
        told(h, 0.5, "elect-watch-d1", 9, "cand-2")
        told(h, 0.6, "elect-watch-d2", 5, "cand-1")  # d2 is just late
        self.assertValid(election.check(h.events(), [], {}))

    def test_terms_are_fenced_even_across_data_loss(self):
        h = History("election")
        told(h, 0.5, "elect-watch-d1", 9, "cand-2")
        told(h, 5.0, "elect-watch-d1", 5, "cand-1")
        faults = [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)]
        self.assertViolation(election.check(h.events(), faults, {}), election.OBSERVER)

    def test_one_observer_told_two_leaders_of_one_term(self):
        h = History("election")
        first = told(h, 0.5, "elect-watch-d1", 9, "cand-2")
        second = told(h, 0.6, "elect-watch-d1", 9, "cand-3")
        verdict = election.check(h.events(), [], {})
        self.assertViolation(verdict, election.OBSERVER, [first, second])

    def test_the_log_accepting_an_older_term(self):
        h = History("election")
        join(h, "cand-1", 0.1, 0.2, 5)
        join(h, "cand-2", 0.1, 0.3, 9, node="d2")
        newer = log(h, "cand-2", 0.4, 0.41, 9, node="d2")
        older = log(h, "cand-1", 0.5, 0.51, 5)
        verdict = election.check(h.events(), [], {})
        self.assertViolation(verdict, election.FENCE, newer + older)
        self.assertOnlyRules(verdict, election.FENCE)

    def test_a_log_entry_from_who_did_not_win_the_term(self):
        h = History("election")
        won = join(h, "cand-1", 0.1, 0.2, 5)
        entry = log(h, "cand-2", 0.3, 0.31, 5, node="d2")
        verdict = election.check(h.events(), [], {})
        self.assertViolation(verdict, election.BY_LEADER, won + entry)

    def test_a_log_entry_of_a_term_no_join_answered(self):
        h = History("election")
        entry = log(h, "cand-2", 0.3, 0.31, 7)
        found = self.assertViolation(election.check(h.events(), [], {}), election.BY_LEADER, entry)
        self.assertIn("no join answered", found["message"])

    def test_odd_input_is_counted_not_fatal(self):
        h = succession()
        h.op("cand-3", "join", 1.0, None, {"group": GROUP}, outcome=None)
        h.op("cand-3", "join", 1.1, 1.2, {"group": GROUP}, {"term": "soon"})
        h.event(1.3, "elect-watch-d1", "leader", "not a map")
        h.event(1.4, "cand-3", "lost", {"group": GROUP, "term": 9})
        h.op("cand-3", "campaign", 1.5, 1.6, {})
        verdict = election.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["incomplete"], 1)
        self.assertEqual(verdict["checked"]["unknown"], 1)


if __name__ == "__main__":
    unittest.main()
