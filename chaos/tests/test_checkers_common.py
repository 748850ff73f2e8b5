"""What all checkers share: pairing invokes with completions, the data-loss windows, the
verdict's first-counterexample rule, and check_all, which must survive a crashing checker."""

import copy
import random
import unittest
from unittest import mock

from baton_chaos import checkers
from baton_chaos.checkers import common
from checkers_support import History, VerdictAsserts, fault


class CollectTest(unittest.TestCase):
    def test_pairs_by_op_and_keeps_events(self):
        h = History("lease")
        h.op("a", "acquire", 0.0, 0.5, {"name": "n"}, {"name": "n", "token": 1})
        h.op("b", "acquire", 0.1, 0.2, {"name": "n"}, {"name": "n", "error": "DENIED"}, "fail")
        h.event(0.3, "a", "abandon", {"name": "n", "token": 1})
        load = common.collect(h.events(), "lease")
        self.assertEqual([(op.process, op.type, op.t1) for op in load.ops],
                         [("a", "ok", 0.5), ("b", "fail", 0.2)])
        self.assertEqual(len(load.events), 1)
        self.assertEqual(load.ops[0].ident("token"), 1)

    def test_an_op_never_completed_is_info_until_forever(self):
        h = History("lease")
        h.op("a", "acquire", 0.0, None, {"name": "n"}, outcome=None)
        load = common.collect(h.events(), "lease")
        self.assertEqual((load.ops[0].type, load.ops[0].t1, load.incomplete),
                         ("info", common.INF, 1))

    def test_other_workloads_and_junk_are_left_out(self):
        h = History("secret")
        h.op("a", "get", 0.0, 0.1, {"name": "s"})
        events = h.events() + [None, {"t": 1.0, "type": "weird", "op": 5, "workload": "lease"}]
        load = common.collect(events, "lease")
        self.assertFalse(load)
        self.assertEqual(load.malformed, 2)

    def test_events_without_a_workload_are_taken_by_kind(self):
        event = {"t": 1.0, "type": "event", "f": "serving", "value": {"node": "d1"}}
        self.assertEqual(common.collect([event], "liveness", ("serving",)).events, [event])


class LossWindowsTest(unittest.TestCase):
    def setUp(self):
        self.losses = common.LossWindows([fault(1, "redis-kill", 5.0, 8.0, data_loss=True),
                                          fault(2, "kill", 1.0, 2.0)])

    def test_only_data_loss_faults_make_windows(self):
        self.assertEqual(len(self.losses.windows), 1)
        self.assertIn("redis-kill", self.losses.windows[0].describe())

    def test_touching_between_and_within(self):
        self.assertIsNotNone(self.losses.touching(1.0, 9.0))   # across
        self.assertIsNotNone(self.losses.touching(6.0, 7.0))   # within
        self.assertIsNone(self.losses.touching(1.0, 4.9))
        self.assertIsNone(self.losses.touching(8.1, 9.0))

    def test_epochs_and_floor(self):
        self.assertEqual(self.losses.epoch(1.0, 2.0), 0)
        self.assertEqual(self.losses.epoch(9.0, 9.5), 1)
        self.assertIsNone(self.losses.epoch(4.0, 6.0))
        self.assertEqual(self.losses.floor(4.0), -common.INF)
        self.assertEqual(self.losses.floor(9.0), 8.0)


class VerdictTest(unittest.TestCase):
    def test_keeps_the_counterexample_complete_earliest_and_counts_all(self):
        verdict = common.Verdict("x", ("things",))
        verdict.violate("r", "late", [{"t": 5.0}, {"t": 9.0}])
        verdict.violate("r", "early", [{"t": 6.0}, {"t": 7.0}])
        result = verdict.result()
        self.assertFalse(result["valid"])
        self.assertEqual([v["message"] for v in result["violations"]], ["early"])
        self.assertEqual(result["measured"]["violations_of_rule"], {"r": 2})
        self.assertEqual(result["checked"], {"things": 0})

    def test_times_for_people(self):
        self.assertEqual(common.fmt_t(12.3456), "12.346s")
        self.assertEqual(common.fmt_t(common.INF), "never")
        self.assertEqual(common.fmt_t(None), "?")


class CheckAllTest(VerdictAsserts, unittest.TestCase):
    def test_every_checker_answers_an_empty_run(self):
        verdicts = checkers.check_all([], [], {})
        self.assertEqual([v["checker"] for v in verdicts], list(checkers.CHECKERS))
        for verdict in verdicts:
            self.assertValid(verdict)
            self.assertEqual(len(verdict["skipped"]), 1)

    def test_a_crashing_checker_fails_alone(self):
        def broken(history, faults, config):
            raise KeyError("oops")

        with mock.patch.dict(checkers.CHECKERS, {"rate": broken}):
            verdicts = {v["checker"]: v for v in checkers.check_all([], [], {})}
        self.assertFalse(verdicts["rate"]["valid"])
        self.assertEqual(verdicts["rate"]["violations"][0]["rule"], "checker crashed")
        self.assertIn("oops", verdicts["rate"]["violations"][0]["message"])
        self.assertTrue(verdicts["lease"]["valid"])

    def test_a_few_checkers_by_name(self):
        verdicts = checkers.check_all(None, None, None, names=("lease", "dedup"))
        self.assertEqual([v["checker"] for v in verdicts], ["lease", "dedup"])


class OddInputTest(unittest.TestCase):
    """No checker may crash on a damaged history: fields missing or of the wrong type."""

    WEIRD = [None, 0, -5, 1.5, "x", "12", True, [], {}, float("inf"), float("nan"), {"a": 1}]

    def sample(self):
        h = History("lease")
        h.op("lease-1", "acquire", 0.0, 0.01, {"name": "n", "ttl_ms": 1000},
             {"name": "n", "token": 5, "validity_ms": 900})
        h.op("lease-1", "write", 0.1, 0.11, {"name": "n", "token": 5, "value": 1,
                                              "safe_until": 0.9})
        h.event(0.2, "lease-1", "abandon", {"name": "n", "token": 5})
        for workload, f, args, result in (
                ("election", "join", {"group": "g", "candidate": "c"}, {"group": "g", "term": 3}),
                ("session", "resume", {"id": "s", "final": True}, {"id": "s", "epoch": 2}),
                ("secret", "verify", {"name": "s", "version": 1, "value_id": "a"}, {"match": 0}),
                ("rate", "check", {"policy": "p", "key": "k"}, {"allowed": 1, "source": "redis"}),
                ("dedup", "claim", {"key": "k", "ttl_ms": 100}, {"key": "k", "status": "new"})):
            other = History(workload)
            other.op("x", f, 0.3, 0.4, args, result)
            h.items += other.items
        h.event(0.5, "prober", "serving", {"fault": 1, "node": "d1", "after_s": 0.1})
        h.event(0.6, "sess-1", "handoff-out", {"id": "s", "from": "d1", "target": "d2",
                                               "epoch": 2})
        return h.events()

    def test_damaged_histories_do_not_crash_any_checker(self):
        rng = random.Random(5)
        config = {"daemons": ["d1"], "rate": {"policies": [
            {"name": "p", "windows": [{"window_ms": 1000, "limit": 1}], "failure_mode": "local"}]}}
        for _ in range(300):
            events = copy.deepcopy(self.sample())
            for event in events:
                target = event if rng.random() < 0.5 else event["value"]
                if isinstance(target, dict) and target and rng.random() < 0.4:
                    target[rng.choice(list(target))] = rng.choice(self.WEIRD)
            loss = fault(1, "redis-kill", rng.uniform(0, 1), rng.choice([0.2, 0.8]),
                         data_loss=rng.random() < 0.5)
            loss[rng.choice(list(loss))] = rng.choice(self.WEIRD)
            faults = [loss]
            for name, check in checkers.CHECKERS.items():
                with self.subTest(checker=name):
                    self.assertIn("valid", check(events, faults, config))


if __name__ == "__main__":
    unittest.main()
