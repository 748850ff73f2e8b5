"""The state checker on hand-written histories: counters incremented by compare-and-set, and
for each rule a history that breaks it, with the events the counterexample must name."""

import unittest

from baton_chaos.checkers import state
from checkers_support import History, VerdictAsserts, fault

KEY = "chaos-counter-0"


def read(h, process, t0, t1, value, version, f="read", node="d1"):
    return h.op(process, f, t0, t1, {"key": KEY},
                {"key": KEY, "value": value, "version": version}, node=node)


def incr(h, process, t0, t1, frm, version, new_version=None, outcome="ok", node="d1"):
    result = {"key": KEY, "to": frm + 1, "new_version": new_version or version + 10}
    if outcome != "ok":
        result = {"key": KEY, "error": "CONFLICT" if outcome == "fail" else "UNKNOWN"}
    return h.op(process, "incr", t0, t1, {"key": KEY, "from": frm, "version": version}, result,
                outcome=outcome, node=node)


def two_clients():
    """Two clients race from 0; one wins, the loser reads again and wins next."""
    h = History("state")
    read(h, "state-1", 0.0, 0.01, 0, 0)
    read(h, "state-2", 0.0, 0.01, 0, 0, node="d2")
    incr(h, "state-1", 0.02, 0.03, 0, 0, 100)
    incr(h, "state-2", 0.02, 0.04, 0, 0, outcome="fail", node="d2")
    read(h, "state-2", 0.05, 0.06, 1, 100, node="d2")
    incr(h, "state-2", 0.07, 0.08, 1, 100, 200, node="d2")
    incr(h, "state-1", 0.09, 0.5, 2, 200, outcome="info")  # unknown: may or may not count
    read(h, "state-1", 1.0, 1.01, 3, 300, f="final")
    return h


class StateCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = state.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no state operations"])

    def test_a_race_with_a_conflict_and_an_unknown_passes(self):
        verdict = state.check(two_clients().events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["increments"], 2)
        self.assertEqual(verdict["checked"]["conflicts"], 1)
        self.assertEqual(verdict["checked"]["unknown_increments"], 1)
        self.assertEqual(verdict["checked"]["finals"], 1)

    def test_two_increments_acknowledged_from_one_version(self):
        h = History("state")
        first = incr(h, "state-1", 0.0, 0.01, 0, 0, 100)
        second = incr(h, "state-2", 0.0, 0.02, 0, 0, 101, node="d2")
        verdict = state.check(h.events(), [], {})
        self.assertViolation(verdict, state.TWICE_FROM, first + second)
        self.assertViolation(verdict, state.VALUE_TWICE, first + second)

    def test_one_value_reached_twice_from_different_versions(self):
        h = History("state")
        first = incr(h, "state-1", 0.0, 0.01, 0, 0, 100)
        second = incr(h, "state-2", 0.1, 0.12, 0, 50, 150, node="d2")
        verdict = state.check(h.events(), [], {})
        self.assertViolation(verdict, state.VALUE_TWICE, first + second)
        self.assertOnlyRules(verdict, state.VALUE_TWICE)

    def test_a_read_behind_an_acknowledged_increment(self):
        h = History("state")
        done = incr(h, "state-1", 0.0, 0.01, 4, 40, 50)
        stale = read(h, "state-2", 0.2, 0.21, 4, 40, node="d2")
        verdict = state.check(h.events(), [], {})
        self.assertViolation(verdict, state.STALE, done + stale)

    def test_a_concurrent_read_may_see_either(self):
        h = History("state")
        incr(h, "state-1", 0.0, 0.3, 4, 40, 50)
        read(h, "state-2", 0.1, 0.2, 4, 40, node="d2")
        self.assertValid(state.check(h.events(), [], {}))

    def test_an_acknowledged_increment_missing_from_the_final_value(self):
        h = History("state")
        incr(h, "state-1", 0.0, 0.01, 0, 0, 100)
        done = incr(h, "state-1", 0.1, 0.11, 1, 100, 200)
        final = read(h, "state-1", 1.0, 1.01, 1, 100, f="final")
        verdict = state.check(h.events(), [], {})
        self.assertViolation(verdict, state.LOST, done + final)

    def test_a_final_value_past_every_increment_made(self):
        h = History("state")
        incr(h, "state-1", 0.0, 0.01, 0, 0, 100)
        final = read(h, "state-1", 1.0, 1.01, 3, 300, f="final")
        verdict = state.check(h.events(), [], {})
        self.assertViolation(verdict, state.COUNTED, final)

    def test_one_version_with_two_values(self):
        h = History("state")
        wrote = incr(h, "state-1", 0.0, 0.01, 0, 0, 100)
        other = read(h, "state-2", 0.5, 0.51, 7, 100, node="d2")
        verdict = state.check(h.events(), [], {})
        self.assertViolation(verdict, state.ONE_VALUE, wrote + other)

    def test_what_spans_a_data_loss_window_is_exempt(self):
        h = History("state")
        incr(h, "state-1", 0.0, 0.01, 0, 0, 100)
        read(h, "state-2", 2.0, 2.01, 0, 0, node="d2")  # Redis lost the key
        incr(h, "state-2", 2.1, 2.11, 0, 0, 300, node="d2")
        read(h, "state-1", 5.0, 5.01, 1, 300, f="final")
        loss = fault(1, "redis-kill-nosave", 1.0, 1.5, data_loss=True, target="redis")
        verdict = state.check(h.events(), [loss], {})
        self.assertValid(verdict)
        self.assertGreater(verdict["measured"]["exempt_data_loss"], 0)
        self.assertTrue(verdict["skipped"])


if __name__ == "__main__":
    unittest.main()
