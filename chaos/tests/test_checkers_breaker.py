"""The breaker checker on hand-written histories: a trip, one probe and a close that keep the
rules, and for each rule a history that breaks it, with the events the counterexample must
name; and the exemptions (a restart between answers, a fault between two probes)."""

import unittest

from baton_chaos.checkers import breaker
from checkers_support import History, VerdictAsserts, fault

CONFIG = {"breaker": {"probe_timeout_ms": 1000}}


def check(h, process, t0, t1, allowed, state, generation, probe=0, degraded=0, node="d1",
          fleet=1):
    return h.op(process, "check", t0, t1, {"name": "chaos-breaker"},
                {"allowed": allowed, "state": state, "probe": probe, "generation": generation,
                 "degraded": degraded, "fleet": fleet}, node=node)


def trip_probe_close():
    h = History("breaker")
    check(h, "breaker-1", 0.0, 0.01, 1, "closed", 0)
    check(h, "breaker-2", 0.0, 0.01, 1, "closed", 0, node="d2")
    check(h, "breaker-1", 0.1, 0.11, 0, "open", 1000)
    check(h, "breaker-2", 0.1, 0.11, 0, "open", 1000, node="d2")
    check(h, "breaker-1", 0.7, 0.71, 1, "half-open", 1002, probe=1)
    check(h, "breaker-2", 0.7, 0.71, 0, "half-open", 1002, node="d2")
    check(h, "breaker-2", 0.9, 0.91, 1, "closed", 1003, node="d2")
    return h


class BreakerCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = breaker.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no breaker operations"])

    def test_trip_probe_close_passes(self):
        verdict = breaker.check(trip_probe_close().events(), [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["probes"], 1)

    def test_a_call_admitted_while_open(self):
        h = trip_probe_close()
        bad = check(h, "breaker-3", 0.2, 0.21, 1, "open", 1000, node="d3")
        verdict = breaker.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, breaker.ADMITTED_OPEN, bad)
        self.assertOnlyRules(verdict, breaker.ADMITTED_OPEN)

    def test_a_half_open_admission_that_is_not_the_probe(self):
        h = trip_probe_close()
        bad = check(h, "breaker-3", 0.75, 0.76, 1, "half-open", 1002, probe=0, node="d3")
        verdict = breaker.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, breaker.ADMITTED_OPEN, bad)

    def test_a_generation_that_goes_back(self):
        h = trip_probe_close()
        earlier = h.items[4:6]  # d1 answered open at 1000
        bad = check(h, "breaker-1", 0.3, 0.31, 1, "closed", 999)
        verdict = breaker.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, breaker.BACKWARDS, earlier + bad)

    def test_a_restart_between_answers_is_exempt(self):
        h = trip_probe_close()
        check(h, "breaker-1", 0.3, 0.31, 1, "closed", 0)
        verdict = breaker.check(h.events(), [fault(1, "kill", 0.15, 0.25)], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["exempt_restarts"], 1)

    def test_a_clock_skew_restarts_its_daemon_too(self):
        # The injector restarts the daemon to change its clock's rate (seed 1 of mix.clock).
        h = trip_probe_close()
        check(h, "breaker-1", 0.3, 0.31, 1, "closed", 0)
        verdict = breaker.check(h.events(), [fault(1, "clock-skew", 0.15, 0.25)], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["exempt_restarts"], 1)

    def test_two_probes_of_one_period_at_once(self):
        h = trip_probe_close()
        first = h.items[8:10]
        second = check(h, "breaker-2", 0.72, 0.73, 1, "half-open", 1002, probe=1, node="d2")
        verdict = breaker.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, breaker.TWO_PROBES, first + second)

    def test_a_second_probe_after_the_timeout_or_degraded_or_in_a_fault_is_not_counted(self):
        h = trip_probe_close()
        check(h, "breaker-3", 1.8, 1.81, 1, "half-open", 1002, probe=1, node="d3")
        check(h, "breaker-4", 0.72, 0.73, 1, "half-open", 1002, probe=1, degraded=1, node="d4")
        # a host open on its own data (it tripped while Redis was out of reach) probes alone
        check(h, "breaker-5", 0.72, 0.73, 1, "half-open", 1002, probe=1, node="d5", fleet=0)
        self.assertValid(breaker.check(h.events(), [], CONFIG))
        h = trip_probe_close()
        check(h, "breaker-2", 0.72, 0.73, 1, "half-open", 1002, probe=1, node="d2")
        verdict = breaker.check(h.events(), [fault(2, "partition", 0.6, 0.8, target="d2")], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["exempt_probe_pairs"], 1)


if __name__ == "__main__":
    unittest.main()
