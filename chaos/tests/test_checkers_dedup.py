"""The dedup checker on hand-written histories: claims that keep the work single, and for
each rule a history that breaks it, with the events the counterexample must name."""

import unittest

from baton_chaos.checkers import dedup
from checkers_support import History, VerdictAsserts, fault

KEY = "chaos-dedup-0"


def claim(h, process, t0, t1, status, result=None, ttl_ms=2000, node="d1"):
    return h.op(process, "claim", t0, t1, {"key": KEY, "ttl_ms": ttl_ms},
                {"key": KEY, "status": status, "result": result}, node=node)


def done(h, process, t0, t1, result, outcome="ok", node="d1"):
    return h.op(process, "done", t0, t1, {"key": KEY, "result": result}, outcome=outcome,
                node=node)


def single_work():
    h = History("dedup")
    claim(h, "dedup-1", 0.0, 0.01, "new")
    claim(h, "dedup-2", 0.1, 0.11, "pending", node="d2")
    done(h, "dedup-1", 0.2, 0.21, "r1")
    claim(h, "dedup-2", 0.3, 0.31, "done", "r1", node="d2")
    claim(h, "dedup-3", 0.2, 0.3, "pending")  # concurrent with the done: either is right
    return h


class DedupCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = dedup.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no dedup operations"])

    def test_single_work_passes(self):
        verdict = dedup.check(single_work().events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["new_claims"], 1)

    def test_a_claim_told_new_after_done(self):
        h = single_work()
        finished = h.items[4:6]  # the done's invoke and ok
        again = claim(h, "dedup-3", 0.5, 0.51, "new")
        verdict = dedup.check(h.events(), [], {})
        self.assertViolation(verdict, dedup.CHANGED, finished + again)
        self.assertOnlyRules(verdict, dedup.CHANGED)

    def test_a_claim_told_another_result(self):
        h = History("dedup")
        claim(h, "dedup-1", 0.0, 0.01, "new")
        finished = done(h, "dedup-1", 0.2, 0.21, "r1")
        other = claim(h, "dedup-2", 0.5, 0.51, "done", "r2")
        found = self.assertViolation(dedup.check(h.events(), [], {}), dedup.CHANGED,
                                     finished + other)
        self.assertIn("'r2'", found["message"])

    def test_results_lost_with_data_are_exempt(self):
        h = History("dedup")
        claim(h, "dedup-1", 0.0, 0.01, "new")
        done(h, "dedup-1", 0.2, 0.21, "r1")
        claim(h, "dedup-2", 5.0, 5.01, "new")
        verdict = dedup.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "1 claim(s) exempt")

    def test_two_new_claims_while_the_first_lasts(self):
        h = History("dedup")
        first = claim(h, "dedup-1", 0.0, 0.01, "new")
        second = claim(h, "dedup-2", 1.0, 1.01, "new", node="d2")  # ttl runs to 2.0
        verdict = dedup.check(h.events(), [], {})
        self.assertViolation(verdict, dedup.TWICE, first + second)
        self.assertOnlyRules(verdict, dedup.TWICE)

    def test_a_claim_ends_at_its_ttl_or_its_connection(self):
        for end in ("ttl", "disconnect"):
            h = History("dedup")
            claim(h, "dedup-1", 0.0, 0.01, "new", ttl_ms=500 if end == "ttl" else 2000)
            if end == "disconnect":
                h.event(0.3, "dedup-1", "disconnect", {"reason": "crashed before done"}, "d1")
            claim(h, "dedup-2", 0.6, 0.61, "new", node="d2")
            with self.subTest(end=end):
                self.assertValid(dedup.check(h.events(), [], {}))

    def test_a_disconnect_of_another_process_ends_nothing(self):
        h = History("dedup")
        first = claim(h, "dedup-1", 0.0, 0.01, "new")
        h.event(0.3, "dedup-9", "disconnect", {"reason": "the run ended"}, "d1")
        second = claim(h, "dedup-2", 0.6, 0.61, "new", node="d2")
        self.assertViolation(dedup.check(h.events(), [], {}), dedup.TWICE, first + second)

    def test_new_claims_overlapping_in_time_are_not_proof(self):
        # The second was asked before the first was answered: they may have been ordered
        # either way, so the checker needs the second asked after the first's ok.
        h = History("dedup")
        claim(h, "dedup-1", 0.0, 0.01, "new")
        claim(h, "dedup-2", 0.005, 0.02, "new", node="d2")
        self.assertValid(dedup.check(h.events(), [], {}))

    def test_two_new_claims_across_data_loss_are_exempt(self):
        h = History("dedup")
        claim(h, "dedup-1", 0.0, 0.01, "new")
        claim(h, "dedup-2", 1.0, 1.01, "new", node="d2")
        verdict = dedup.check(h.events(), [fault(1, "redis-kill", 0.5, 0.7, data_loss=True)], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "1 pair(s) of new claims exempt")

    def test_odd_input_is_counted_not_fatal(self):
        h = single_work()
        h.op("dedup-4", "claim", 1.0, None, {"key": KEY}, outcome=None)
        h.op("dedup-4", "claim", 1.1, 1.2, {"key": KEY, "ttl_ms": "long"}, {"status": "new"})
        h.op("dedup-4", "get", 1.3, 1.4, {"key": KEY})
        h.event(1.5, "dedup-4", "disconnect", None)
        verdict = dedup.check(h.events(), [], {})
        self.assertEqual(verdict["checked"]["incomplete"], 1)
        self.assertEqual(verdict["checked"]["unknown"], 1)
        self.assertEqual(verdict["checked"]["disconnects"], 1)


if __name__ == "__main__":
    unittest.main()
