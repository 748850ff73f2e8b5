"""The rate checker on hand-written histories: admissions within the bounds, and for each
rule a history that breaks it, with the events the counterexample must name; plus a large
history, since real runs hold tens of thousands of checks."""

import time
import unittest

from baton_chaos.checkers import rate
from checkers_support import History, VerdictAsserts, fault


def config(algorithm="gcra", failure_mode="closed", limit=2, window_ms=1000):
    return {"rate": {"policies": [{"name": "p", "algorithm": algorithm,
                                   "failure_mode": failure_mode,
                                   "windows": [{"window_ms": window_ms, "limit": limit}]}]}}


def check(h, t0, t1, allowed=1, source="redis", key="k", process="rate-1"):
    return h.op(process, "check", t0, t1, {"policy": "p", "key": key, "cost": 1},
                {"policy": "p", "key": key, "allowed": allowed, "limited": 1 - allowed,
                 "source": source, "degraded": int(source in ("open", "closed", "local"))})


def burst(h, count, start=0.0, step=0.1, source="redis", key="k"):
    return [check(h, start + i * step, start + i * step + 0.01, source=source, key=key)
            for i in range(count)]


def burst_events(count):
    h = History("rate")
    burst(h, count)
    return h.events()


class RateCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = rate.check([], [], config())
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no rate operations"])

    def test_admissions_within_the_bound_pass(self):
        h = History("rate")
        burst(h, 4)  # gcra, limit 2: at most 4 in any span under 1 s
        check(h, 0.5, 0.51, allowed=0)
        check(h, 0.6, 0.61, allowed=0, source="cache")
        burst(h, 4, start=1.5, key="other")
        verdict = rate.check(h.events(), [], config())
        self.assertValid(verdict)
        window = verdict["measured"]["windows"]["p/1000ms"]
        self.assertEqual((window["max_redis"], window["bound"], window["overshoot"]), (4, 4, 0))

    def test_too_many_admissions_within_a_window(self):
        h = History("rate")
        admitted = burst(h, 5)
        verdict = rate.check(h.events(), [], config())
        found = self.assertViolation(verdict, rate.OVER, admitted[0] + admitted[-1])
        self.assertIn("5", found["message"])
        self.assertIn("bound 4", found["message"])

    def test_admissions_that_may_have_spread_over_a_window_pass(self):
        h = History("rate")
        burst(h, 4, start=0.2)
        check(h, 0.0, 1.05)  # might have been admitted after the others' window
        self.assertValid(rate.check(h.events(), [], config()))

    def test_sliding_log_allows_only_the_limit(self):
        h = History("rate")
        admitted = burst(h, 3)
        verdict = rate.check(h.events(), [], config(algorithm="sliding_log"))
        self.assertViolation(verdict, rate.OVER, admitted[0] + admitted[-1])

    def test_admissions_around_data_loss_are_not_counted(self):
        h = History("rate")
        burst(h, 3, start=0.0)
        burst(h, 3, start=0.7)
        faults = [fault(1, "redis-kill", 0.4, 0.6, data_loss=True)]
        verdict = rate.check(h.events(), faults, config())
        self.assertValid(verdict)
        self.assertSkipped(verdict, "data-loss window")

    def test_local_failure_mode_adds_at_most_gcra_on_every_share(self):
        # One daemon (none listed): its share is the whole limit, 2, and GCRA on it admits
        # at most 2 x 2 within a window, on top of Redis' 4.
        h = History("rate")
        burst(h, 4)
        burst(h, 4, start=0.05, source="local")
        faults = [fault(1, "redis-pause", 0.0, 1.0)]
        verdict = rate.check(h.events(), faults, config(failure_mode="local"))
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["windows"]["p/1000ms"]["overshoot"], 4)
        self.assertEqual(verdict["measured"]["windows"]["p/1000ms"]["bound_under_faults"], 8)

    def test_local_shares_follow_the_daemons(self):
        cfg = dict(config(failure_mode="local", limit=6), daemons=["d1", "d2", "d3"])
        verdict = rate.check(History("rate").events() + burst_events(1), [], cfg)
        self.assertEqual(verdict["measured"]["windows"]["p/1000ms"]["bound_under_faults"],
                         12 + 2 * 2 * 3)

    def test_local_failure_mode_beyond_its_bound(self):
        h = History("rate")
        redis = burst(h, 4)  # 0.0 to 0.31
        local = burst(h, 5, start=0.05, source="local")  # the last one 0.45 to 0.46
        faults = [fault(1, "redis-pause", 0.0, 1.0)]
        verdict = rate.check(h.events(), faults, config(failure_mode="local"))
        self.assertViolation(verdict, rate.OVER_MODE, redis[0] + local[-1])
        self.assertOnlyRules(verdict, rate.OVER_MODE)

    def test_closed_failure_mode_never_admits(self):
        h = History("rate")
        burst(h, 4)
        burst(h, 1, start=0.05, source="closed")
        faults = [fault(1, "redis-pause", 0.0, 1.0)]
        verdict = rate.check(h.events(), faults, config(failure_mode="closed"))
        self.assertOnlyRules(verdict, rate.OVER_MODE)

    def test_open_failure_mode_is_unbounded(self):
        h = History("rate")
        burst(h, 4)
        burst(h, 9, start=0.05, source="open")
        faults = [fault(1, "redis-pause", 0.0, 1.0)]
        verdict = rate.check(h.events(), faults, config(failure_mode="open"))
        self.assertValid(verdict)
        window = verdict["measured"]["windows"]["p/1000ms"]
        self.assertEqual((window["overshoot"], window["bound_under_faults"]), (9, "unbounded"))

    def test_degraded_answers_without_faults(self):
        h = History("rate")
        burst(h, 2)
        degraded = check(h, 0.5, 0.51, allowed=0, source="closed")
        verdict = rate.check(h.events(), [], config())
        self.assertViolation(verdict, rate.DEGRADED, degraded)
        self.assertOnlyRules(verdict, rate.DEGRADED)

    def test_policies_missing_from_the_config_are_counted(self):
        h = History("rate")
        burst(h, 9)
        verdict = rate.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "no rate policies")
        self.assertEqual(verdict["checked"]["unknown_policy"], 9)

    def test_fifty_thousand_checks_take_seconds_at_most(self):
        h = History("rate")
        for i in range(50_000):
            check(h, i * 0.001, i * 0.001 + 0.0005 * (i % 7), key=f"k{i % 3}",
                  source="redis" if i % 5 else "local")
        events = h.events()
        cfg = config(limit=20_000, failure_mode="local")
        cfg["rate"]["policies"][0]["windows"].append({"window_ms": 100, "limit": 5000})
        began = time.monotonic()
        verdict = rate.check(events, [fault(1, "redis-pause", 10.0, 20.0)], cfg)
        self.assertLess(time.monotonic() - began, 5.0)
        self.assertValid(verdict)

    def test_odd_input_is_counted_not_fatal(self):
        h = History("rate")
        burst(h, 2)
        h.op("rate-1", "check", 1.0, 1.1, {"policy": "p"}, {"allowed": "yes"})
        h.op("rate-1", "check", 1.2, None, {"policy": "p", "key": "k"}, outcome=None)
        h.op("rate-1", "peek", 1.3, 1.4, {"policy": "p", "key": "k"})
        odd = config()
        odd["rate"]["policies"].append({"name": "q", "windows": [{"window_ms": "x"}, None]})
        verdict = rate.check(h.events(), [], odd)
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["incomplete"], 1)
        self.assertEqual(verdict["checked"]["unknown"], 1)


if __name__ == "__main__":
    unittest.main()
