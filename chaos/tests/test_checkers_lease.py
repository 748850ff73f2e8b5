"""The lease checker on hand-written histories: one that keeps every rule, and for each rule
one that breaks it, with the events the counterexample must name."""

import unittest

from baton_chaos.checkers import lease
from checkers_support import History, VerdictAsserts, fault

NAME = "chaos-lease-0"


def acquire(h, process, t0, t1, token, validity_ms=2000, node="d1"):
    return h.op(process, "acquire", t0, t1, {"name": NAME, "ttl_ms": 2000, "wait_ms": 3000},
                {"name": NAME, "token": token, "validity_ms": validity_ms}, node=node)


def read(h, process, t0, t1, token, value, safe_until=99.0, outcome="ok", node="d1"):
    result = ({"name": NAME, "token": token, "value": value} if outcome == "ok" else
              {"name": NAME, "token": token, "error": "fenced", "max_token": 999})
    return h.op(process, "read", t0, t1, {"name": NAME, "token": token,
                                          "safe_until": safe_until}, result, outcome, node)


def write(h, process, t0, t1, token, value, safe_until=99.0, outcome="ok", node="d1"):
    args = {"name": NAME, "token": token, "value": value, "safe_until": safe_until}
    result = dict(args, error="fenced", max_token=999) if outcome == "fail" else None
    return h.op(process, "write", t0, t1, args, result, outcome, node)


def release(h, process, t0, t1, token, node="d1"):
    return h.op(process, "release", t0, t1, {"name": NAME, "token": token}, node=node)


def two_clean_holders():
    h = History("lease")
    acquire(h, "lease-1", 0.0, 0.01, 10)
    read(h, "lease-1", 0.02, 0.03, 10, 0)
    write(h, "lease-1", 0.04, 0.05, 10, 1)
    release(h, "lease-1", 0.06, 0.07, 10)
    acquire(h, "lease-2", 0.05, 0.1, 20, node="d2")
    read(h, "lease-2", 0.11, 0.12, 20, 1, node="d2")
    write(h, "lease-2", 0.13, 0.14, 20, 2, node="d2")
    release(h, "lease-2", 0.15, 0.16, 20, node="d2")
    return h


class LeaseCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = lease.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no lease operations"])
        self.assertEqual(set(verdict["checked"].values()), {0})

    def test_clean_holders_pass(self):
        verdict = lease.check(two_clean_holders().events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["grants"], 2)
        self.assertEqual(verdict["checked"]["writes"], 2)

    def test_store_accepting_a_lower_token_breaks_the_fence(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 10)
        acquire(h, "lease-2", 0.5, 0.51, 20)
        high = read(h, "lease-2", 0.6, 0.61, 20, 0)
        low = read(h, "lease-1", 0.7, 0.71, 10, 0)
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.FENCE, high + low)

    def test_one_token_granted_twice_is_not_unique(self):
        h = History("lease")
        first = acquire(h, "lease-1", 0.0, 0.01, 10, validity_ms=100)
        second = acquire(h, "lease-2", 0.5, 0.51, 10, validity_ms=100, node="d2")
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.UNIQUE, first + second)
        self.assertViolation(verdict, lease.GROWTH, first + second)

    def test_the_same_client_taking_the_name_again_may_keep_its_token(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 10, validity_ms=100)
        h.event(0.1, "lease-1", "abandon", {"name": NAME, "token": 10, "reason": "belief ran out"})
        acquire(h, "lease-1", 0.2, 0.21, 10, validity_ms=100)
        verdict = lease.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["same_token_regrants"], 1)

    def test_a_lower_token_after_a_completed_grant_breaks_growth(self):
        h = History("lease")
        first = acquire(h, "lease-1", 0.0, 0.01, 20, validity_ms=100)
        later = acquire(h, "lease-2", 0.5, 0.51, 15, validity_ms=100)
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.GROWTH, first + later)
        self.assertOnlyRules(verdict, lease.GROWTH)

    def test_concurrent_grants_may_come_in_any_token_order(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.5, 20, validity_ms=100)
        acquire(h, "lease-2", 0.1, 0.2, 15, validity_ms=100)  # asked before the other was ok
        self.assertValid(lease.check(h.events(), [], {}))

    def test_growth_holds_across_data_loss(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 20, validity_ms=100)
        acquire(h, "lease-2", 5.0, 5.01, 15, validity_ms=100)
        verdict = lease.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)], {})
        self.assertViolation(verdict, lease.GROWTH)

    def test_two_writes_of_one_value_lose_an_increment(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 10)
        first = write(h, "lease-1", 0.1, 0.11, 10, 1)
        again = write(h, "lease-1", 0.2, 0.21, 10, 1)
        release(h, "lease-1", 0.3, 0.31, 10)
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.INCREMENT, first + again)
        self.assertOnlyRules(verdict, lease.INCREMENT)

    def test_a_gap_in_the_counter_is_reported(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 10)
        one = write(h, "lease-1", 0.1, 0.11, 10, 1)
        three = write(h, "lease-1", 0.2, 0.21, 10, 3)
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.INCREMENT, one + three)

    def test_the_first_write_must_store_one_even_after_data_loss(self):
        h = History("lease")
        acquire(h, "lease-1", 5.0, 5.01, 10)
        wrong = write(h, "lease-1", 5.1, 5.11, 10, 2)
        faults = [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)]
        self.assertViolation(lease.check(h.events(), faults, {}), lease.INCREMENT, wrong)

    def test_two_believers_at_once_overlap(self):
        h = History("lease")
        first = acquire(h, "lease-1", 0.0, 0.01, 10)  # believes until 2.0
        second = acquire(h, "lease-2", 1.0, 1.01, 20, node="d2")
        write(h, "lease-2", 1.1, 1.11, 20, 1, node="d2")
        refused = write(h, "lease-1", 1.5, 1.51, 10, 1, safe_until=2.0, outcome="fail")
        verdict = lease.check(h.events(), [], {})
        found = self.assertViolation(verdict, lease.OVERLAP, first + second + refused)
        self.assertIn("lease-1", found["message"])
        self.assertIn("1.010s", found["message"])
        self.assertEqual(verdict["measured"]["refused_while_believed"], 1)

    def test_belief_ends_at_release_abandon_or_safe_until(self):
        for end in ("release", "abandon", "safe_until"):
            h = History("lease")
            acquire(h, "lease-1", 0.0, 0.01, 10, validity_ms=800 if end == "safe_until" else 2000)
            if end == "release":
                release(h, "lease-1", 0.9, 0.95, 10)
            elif end == "abandon":
                h.event(0.9, "lease-1", "abandon", {"name": NAME, "token": 10, "reason": "error"})
            acquire(h, "lease-2", 0.92, 1.0, 20, node="d2")
            with self.subTest(end=end):
                self.assertValid(lease.check(h.events(), [], {}))

    def test_a_renewal_extends_the_belief(self):
        h = History("lease")
        first = acquire(h, "lease-1", 0.0, 0.01, 10, validity_ms=800)
        renew = h.op("lease-1", "renew", 0.5, 0.51, {"name": NAME, "token": 10, "ttl_ms": 2000},
                     {"name": NAME, "token": 10, "validity_ms": 800})
        second = acquire(h, "lease-2", 1.0, 1.01, 20, node="d2")
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.OVERLAP, first + second + renew[1:])

    def test_overlap_is_judged_with_clock_faults_too(self):
        # Beliefs are measured on the harness's clock from the invoke: a daemon's skewed
        # clock cannot lengthen them, so clock faults excuse nothing.
        h = History("lease")
        first = acquire(h, "lease-1", 0.0, 0.01, 10)
        second = acquire(h, "lease-2", 1.0, 1.01, 20, node="d2")
        verdict = lease.check(h.events(), [fault(1, "clock-skew", 0.0, 0.5, clock=True)], {})
        self.assertViolation(verdict, lease.OVERLAP, first + second)

    def test_a_renewal_granted_after_data_loss_is_a_new_promise(self):
        # The holder's renewal came after Redis restarted empty and another client took the
        # lease: a correct renewal is refused then, so this overlap is not the loss's doing.
        h = History("lease")
        first = acquire(h, "lease-1", 0.0, 0.01, 10, validity_ms=800)
        second = acquire(h, "lease-2", 0.7, 0.71, 20, node="d2")
        renew = h.op("lease-1", "renew", 0.75, 0.76, {"name": NAME, "token": 10, "ttl_ms": 2000},
                     {"name": NAME, "token": 10, "validity_ms": 800})
        faults = [fault(1, "redis-kill", 0.3, 0.6, data_loss=True)]
        verdict = lease.check(h.events(), faults, {})
        self.assertViolation(verdict, lease.OVERLAP, first + second + renew[1:])

    def test_overlap_across_data_loss_is_exempt(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 10)
        acquire(h, "lease-2", 1.0, 1.01, 20, node="d2")
        verdict = lease.check(h.events(), [fault(1, "redis-kill", 0.3, 0.6, data_loss=True)], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "1 overlapping pair(s) exempt")

    def test_first_counterexample_is_kept_and_all_are_counted(self):
        h = History("lease")
        acquire(h, "lease-1", 0.0, 0.01, 10)
        first = write(h, "lease-1", 0.1, 0.11, 10, 1)
        second = write(h, "lease-1", 0.2, 0.21, 10, 1)
        write(h, "lease-1", 0.3, 0.31, 10, 1)
        verdict = lease.check(h.events(), [], {})
        self.assertViolation(verdict, lease.INCREMENT, first + second)
        self.assertEqual(verdict["measured"]["violations_of_rule"][lease.INCREMENT], 2)

    def test_odd_input_is_counted_not_fatal(self):
        h = two_clean_holders()
        h.op("lease-3", "acquire", 1.0, None, {"name": NAME}, outcome=None)  # never completed
        h.op("lease-3", "frobnicate", 1.1, 1.2, {"name": NAME})
        h.op("lease-4", "acquire", 1.3, 1.4, None, {"token": "x"})
        h.op("lease-4", "write", 1.5, 1.6, {"name": NAME}, {"name": NAME, "value": None})
        events = h.events() + [{"t": "soon", "type": "ok", "op": 999, "workload": "lease"},
                               {"t": 1.9, "type": "ok", "op": 998, "workload": "lease"}, "junk",
                               {"type": "event", "workload": "lease", "t": 2.0}]
        verdict = lease.check(events, [{"data_loss": True}, None], None)
        self.assertEqual(verdict["checked"]["incomplete"], 1)
        self.assertGreaterEqual(verdict["checked"]["unknown"], 2)
        self.assertEqual(verdict["checked"]["malformed"], 3)


if __name__ == "__main__":
    unittest.main()
