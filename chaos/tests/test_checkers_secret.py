"""The secret checker on hand-written histories: a rotation served and verified correctly,
and for each rule a history that breaks it, with the events the counterexample must name."""

import unittest

from baton_chaos.checkers import secret
from checkers_support import History, VerdictAsserts, fault

NAME = "chaos-secret"
CONFIG = {"secret": {"grace_ms": 2000}}


def get(h, t0, t1, version, value_id, node="d1"):
    return h.op(f"secret-{node}", "get", t0, t1, {"name": NAME},
                {"name": NAME, "version": version, "value_id": value_id, "degraded": 0},
                node=node)


def verify(h, t0, t1, version, value_id, match, node="d1"):
    return h.op(f"secret-{node}", "verify", t0, t1,
                {"name": NAME, "version": version, "value_id": value_id},
                {"name": NAME, "match": match, "version": version if match else None,
                 "state": "current" if match else None, "degraded": 0}, node=node)


def rotate(h, t0, t1, version, outcome="ok"):
    result = ({"name": NAME, "version": version, "previous": version - 1} if outcome == "ok"
              else {"name": NAME, "error": "BUSY"})
    return h.op("secret-rotator", "rotate", t0, t1, {"name": NAME}, result, outcome, "d3")


def rotation():
    h = History("secret")
    get(h, 0.0, 0.01, 1, "aaa")
    verify(h, 0.02, 0.03, 1, "aaa", 1, node="d2")
    rotate(h, 1.0, 1.1, 2)
    get(h, 1.2, 1.21, 2, "bbb")
    get(h, 1.2, 1.21, 1, "aaa", node="d2")  # d2 has not heard of version 2 yet
    verify(h, 2.0, 2.01, 1, "aaa", 1)  # in grace
    verify(h, 3.5, 3.51, 1, "aaa", 0)  # grace ended at 3.0
    verify(h, 3.6, 3.61, 2, "bbb", 1, node="d2")
    return h


class SecretCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = secret.check([], [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no secret operations"])

    def test_a_rotation_passes(self):
        verdict = secret.check(rotation().events(), [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["refusals_after_grace"], 1)
        self.assertEqual(verdict["measured"]["verify_matches"], 3)

    def test_a_node_serving_an_older_version_after_a_newer(self):
        h = History("secret")
        newer = get(h, 0.0, 0.01, 2, "bbb")
        get(h, 0.0, 0.3, 1, "aaa", node="d2")  # another node: fine
        older = get(h, 0.2, 0.21, 1, "aaa")
        verdict = secret.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, secret.BACKWARDS, newer + older)
        self.assertOnlyRules(verdict, secret.BACKWARDS)

    def test_concurrent_gets_may_disagree(self):
        h = History("secret")
        get(h, 0.0, 0.5, 2, "bbb")
        get(h, 0.1, 0.2, 1, "aaa")
        self.assertValid(secret.check(h.events(), [], CONFIG))

    def test_versions_going_back_across_data_loss_are_exempt(self):
        h = History("secret")
        get(h, 0.0, 0.01, 2, "bbb")
        get(h, 5.0, 5.01, 1, "aaa")
        verdict = secret.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)],
                               CONFIG)
        self.assertValid(verdict)
        self.assertSkipped(verdict, "after a data-loss window")

    def test_one_version_with_two_values(self):
        h = History("secret")
        first = get(h, 0.0, 0.01, 1, "aaa")
        second = get(h, 0.5, 0.51, 1, "zzz", node="d2")
        verdict = secret.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, secret.ONE_VALUE, first + second)
        self.assertOnlyRules(verdict, secret.ONE_VALUE)

    def test_a_version_made_again_after_data_loss_may_differ(self):
        h = History("secret")
        get(h, 0.0, 0.01, 1, "aaa")
        get(h, 5.0, 5.01, 1, "zzz")
        verdict = secret.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)],
                               CONFIG)
        self.assertValid(verdict)

    def test_refusing_the_current_version(self):
        h = History("secret")
        served = get(h, 0.0, 0.01, 1, "aaa")
        refused = verify(h, 0.5, 0.51, 1, "aaa", 0)
        verdict = secret.check(h.events(), [], CONFIG)
        found = self.assertViolation(verdict, secret.REFUSED, refused)
        self.assertNotIn(served[1], found["events"])
        self.assertIn("nothing could have replaced", found["message"])

    def test_refusing_the_previous_version_within_grace(self):
        h = History("secret")
        get(h, 0.0, 0.01, 1, "aaa")
        replacing = rotate(h, 1.0, 1.1, 2)
        refused = verify(h, 2.5, 2.51, 1, "aaa", 0)  # grace lasts until 3.0
        verdict = secret.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, secret.REFUSED, replacing + refused)

    def test_a_rotation_of_unknown_outcome_may_have_replaced_it(self):
        h = History("secret")
        get(h, 0.0, 0.01, 1, "aaa")
        rotate(h, 0.5, 6.0, 2, outcome="info")
        verify(h, 3.0, 3.01, 1, "aaa", 0)  # 0.5 + 2.0 grace has passed
        self.assertValid(secret.check(h.events(), [], CONFIG))

    def test_refusing_a_value_no_get_served_is_not_judged(self):
        h = History("secret")
        get(h, 0.0, 0.01, 1, "aaa")
        verify(h, 0.5, 0.51, 1, "forged", 0)
        verdict = secret.check(h.events(), [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["refusals_of_unknown_values"], 1)

    def test_refusals_after_data_loss_are_not_judged(self):
        h = History("secret")
        get(h, 0.0, 0.01, 1, "aaa")
        verify(h, 5.0, 5.01, 1, "aaa", 0)
        verdict = secret.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)],
                               CONFIG)
        self.assertValid(verdict)
        self.assertSkipped(verdict, "1 refusal(s) during or after a data-loss window")

    def test_without_grace_in_the_config_grace_is_zero(self):
        h = History("secret")
        get(h, 0.0, 0.01, 1, "aaa")
        rotate(h, 1.0, 1.1, 2)
        verify(h, 1.5, 1.51, 1, "aaa", 0)
        verdict = secret.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "no secret.grace_ms")

    def test_odd_input_is_counted_not_fatal(self):
        h = rotation()
        h.op("secret-d1", "get", 4.0, 4.1, {"name": NAME}, {"name": NAME, "version": None})
        h.op("secret-d1", "verify", 4.2, 4.3, {"name": NAME}, {"name": NAME, "match": "?"})
        h.op("secret-d1", "verify", 4.4, 4.5, {"name": NAME, "version": "x"}, {"match": 0})
        h.op("secret-d1", "rewrap", 4.6, None, {"name": NAME}, outcome=None)
        verdict = secret.check(h.events(), [], {"secret": "no"})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["unknown"], 1)
        self.assertEqual(verdict["checked"]["incomplete"], 1)


if __name__ == "__main__":
    unittest.main()
