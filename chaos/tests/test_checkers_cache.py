"""The cache checker on hand-written histories: near-cache reads that follow the writes, and
for each way of breaking the rule a history that does, with the events it must name."""

import unittest

from baton_chaos.checkers import cache
from checkers_support import History, VerdictAsserts, fault

KEY = "chaos-cache-0"
CONFIG = {"cache": {"near_bound_s": 1.0}}


def put(h, t0, t1, value, node="d1"):
    return h.op("cache-writer-0", "set", t0, t1, {"key": KEY, "value": value},
                {"key": KEY}, node=node)


def get(h, process, t0, t1, value, source="near", degraded=0, node="d2"):
    return h.op(process, "get", t0, t1, {"key": KEY},
                {"key": KEY, "value": value, "source": source, "degraded": degraded}, node=node)


class CacheCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = cache.check([], [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no cache operations"])

    def test_reads_that_follow_the_writes_pass(self):
        h = History("cache")
        put(h, 0.0, 0.01, 1)
        get(h, "cache-1", 0.02, 0.03, 1, "redis")
        get(h, "cache-2", 0.5, 0.51, 1)
        put(h, 1.0, 1.01, 2)
        get(h, "cache-2", 1.2, 1.21, 1)  # near, within the bound: may still be the old one
        get(h, "cache-1", 1.02, 1.03, 2, "redis")
        get(h, "cache-2", 2.5, 2.51, 2)
        verdict = cache.check(h.events(), [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["near"], 3)

    def test_a_near_read_past_the_bound_that_missed_a_write(self):
        h = History("cache")
        put(h, 0.0, 0.01, 1)
        wrote = put(h, 1.0, 1.01, 2)
        stale = get(h, "cache-2", 2.5, 2.51, 1)
        verdict = cache.check(h.events(), [], CONFIG)
        self.assertViolation(verdict, cache.STALE, wrote + stale)

    def test_a_redis_read_after_a_write_must_see_it_at_once(self):
        h = History("cache")
        wrote = put(h, 0.0, 0.01, 1)
        stale = get(h, "cache-1", 0.1, 0.11, None, "redis")
        self.assertViolation(cache.check(h.events(), [], CONFIG), cache.STALE, wrote + stale)

    def test_a_set_of_unknown_outcome_may_land_after_a_later_one(self):
        h = History("cache")
        h.op("cache-writer-0", "set", 0.0, 2.0, {"key": KEY, "value": 1}, {"key": KEY,
             "error": "UNKNOWN"}, outcome="info")
        put(h, 0.5, 0.51, 2)
        get(h, "cache-1", 3.0, 3.01, 1, "redis")  # the first set landed last
        self.assertValid(cache.check(h.events(), [], CONFIG))

    def test_a_redis_read_is_not_exempt_for_a_fault_on_its_daemon(self):
        h = History("cache")
        wrote = put(h, 0.0, 0.01, 1)
        stale = get(h, "cache-1", 3.0, 3.01, None, "redis", node="d3")
        verdict = cache.check(h.events(), [fault(1, "pause", 1.0, 2.9, target="d3")], CONFIG)
        self.assertViolation(verdict, cache.STALE, wrote + stale)

    def test_degraded_and_daemon_faults_and_data_loss_are_exempt(self):
        h = History("cache")
        put(h, 0.0, 0.01, 1)
        put(h, 1.0, 1.01, 2)
        get(h, "cache-1", 3.0, 3.01, 1, degraded=1)
        get(h, "cache-2", 3.0, 3.01, 1, node="d3")
        get(h, "cache-3", 9.0, 9.01, None, "redis", node="d1")
        faults = [fault(1, "pause", 1.5, 2.8, target="d3"),
                  fault(2, "redis-kill", 5.0, 6.0, data_loss=True, target="redis")]
        verdict = cache.check(h.events(), faults, CONFIG)
        self.assertValid(verdict)
        for key in ("exempt_degraded", "exempt_daemon_fault", "exempt_data_loss"):
            self.assertEqual(verdict["measured"][key], 1, key)


if __name__ == "__main__":
    unittest.main()
