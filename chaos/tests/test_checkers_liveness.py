"""The liveness checker on hand-written histories: a fleet that recovers after a fault, and
for each rule a history that breaks it, including overlapping faults, where recovery counts
from the last heal."""

import unittest

from baton_chaos.checkers import liveness
from checkers_support import History, VerdictAsserts, fault

CONFIG = {"daemons": ["d1", "d2"], "lease": {"ttl_ms": 1500}, "leases": {"lock_delay_ms": 0},
          "liveness": {"serve_within_s": 10, "lease_slack_s": 2.0}}
LIMIT = 1.5 * (1 + 2 / 3) + 2.0  # 4.5 s to take a lease again


def probe(h, t, fault_id, node, after_s, serving=True):
    return h.event(t, "prober", "serving" if serving else "not-serving",
                   {"fault": fault_id, "node": node, "after_s": after_s}, node=node)


def acquire(h, t0, t1, outcome="ok", name="chaos-lease-0"):
    return h.op("lease-1", "acquire", t0, t1, {"name": name, "ttl_ms": 1500, "wait_ms": 3000},
                {"name": name, "token": int(t1 * 1e6), "validity_ms": 1400}
                if outcome == "ok" else {"name": name, "error": "DENIED"}, outcome)


def recovering(until=30.0):
    """A kill of d2 healed at 8.0; the history lasts until `until`."""
    probes, leases = History("liveness"), History("lease")
    probe(probes, 8.2, 1, "d1", 0.2)
    probe(probes, 8.5, 1, "d2", 0.5)
    acquire(leases, 1.0, 1.01)
    acquire(leases, 9.0, 9.5)
    acquire(leases, until - 0.1, until)
    return probes, leases, [fault(1, "kill", 5.0, 8.0, target="d2")]


def history(*parts):
    return sorted((e for part in parts for e in part.events()), key=lambda e: e["t"])


class LivenessCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_no_faults_is_valid_and_says_so(self):
        verdict = liveness.check([], [], CONFIG)
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no healed faults to recover from"])

    def test_a_recovering_fleet_passes(self):
        probes, leases, faults = recovering()
        verdict = liveness.check(history(probes, leases), faults, CONFIG)
        self.assertValid(verdict)
        record = verdict["measured"]["faults"]["1"]
        self.assertEqual(record["serving"], {"d1": 0.2, "d2": 0.5})
        self.assertAlmostEqual(record["lease"]["chaos-lease-0"], 1.5)

    def test_a_daemon_the_prober_gave_up_on(self):
        probes, leases, faults = recovering()
        gave_up = probe(probes, 23.0, 1, "d3", 15.0, serving=False)
        config = dict(CONFIG, daemons=["d1", "d2", "d3"])
        verdict = liveness.check(history(probes, leases), faults, config)
        found = self.assertViolation(verdict, liveness.NOT_SERVING, [gave_up])
        self.assertIn("d3", found["message"])
        self.assertOnlyRules(verdict, liveness.NOT_SERVING)

    def test_a_daemon_with_no_serving_event(self):
        probes, leases, faults = recovering()
        config = dict(CONFIG, daemons=["d1", "d2", "d3"])
        verdict = liveness.check(history(probes, leases), faults, config)
        found = self.assertViolation(verdict, liveness.NOT_SERVING)
        self.assertIn("d3 has no serving event", found["message"])

    def test_a_daemon_serving_too_late(self):
        probes, leases, faults = recovering()
        late = probe(probes, 20.0, 1, "d3", 12.0)
        config = dict(CONFIG, daemons=["d1", "d2", "d3"])
        verdict = liveness.check(history(probes, leases), faults, config)
        self.assertViolation(verdict, liveness.NOT_SERVING, [late])

    def test_a_run_ending_before_the_limit_is_not_judged(self):
        probes, leases, faults = recovering(until=9.6)
        config = dict(CONFIG, daemons=["d1", "d2", "d3"])
        verdict = liveness.check(history(probes, leases), faults, config)
        self.assertValid(verdict)
        self.assertSkipped(verdict, "not judged")

    def test_a_lease_taken_too_late(self):
        probes, leases = History("liveness"), History("lease")
        probe(probes, 8.2, 1, "d1", 0.2)
        probe(probes, 8.5, 1, "d2", 0.5)
        acquire(leases, 8.5, 11.0, outcome="fail")
        late = acquire(leases, 11.0, 14.0)
        acquire(leases, 29.0, 30.0)
        faults = [fault(1, "kill", 5.0, 8.0)]
        verdict = liveness.check(history(probes, leases), faults, CONFIG)
        found = self.assertViolation(verdict, liveness.LEASE, late)
        self.assertIn("6.000s", found["message"])
        self.assertOnlyRules(verdict, liveness.LEASE)

    def test_a_lease_never_taken_though_asked(self):
        probes, leases = History("liveness"), History("lease")
        probe(probes, 8.2, 1, "d1", 0.2)
        probe(probes, 8.5, 1, "d2", 0.5)
        first = acquire(leases, 9.0, 12.0, outcome="fail")
        last = acquire(leases, 12.0, 15.0, outcome="fail")
        probes.event(30.0, "prober", "note", {})
        verdict = liveness.check(history(probes, leases), [fault(1, "kill", 5.0, 8.0)], CONFIG)
        found = self.assertViolation(verdict, liveness.LEASE, first + last)
        self.assertIn("never taken again", found["message"])

    def test_recovery_counts_from_the_last_overlapping_heal(self):
        probes, leases = History("liveness"), History("lease")
        faults = [fault(1, "kill", 5.0, 8.0, target="d2"),
                  fault(2, "redis-pause", 6.0, 14.0, target="redis")]
        probe(probes, 8.3, 1, "d1", 0.3, serving=False)  # Redis still paused: no verdict yet
        probe(probes, 14.2, 2, "d1", 0.2)
        probe(probes, 14.3, 1, "d2", 6.3)
        probe(probes, 14.4, 2, "d2", 0.4)
        acquire(leases, 14.5, 15.0)
        acquire(leases, 29.0, 30.0)
        verdict = liveness.check(history(probes, leases), faults, CONFIG)
        self.assertValid(verdict)
        record = verdict["measured"]["faults"]["1"]
        self.assertEqual(record["effective_heal"], 14.0)
        self.assertAlmostEqual(record["lease"]["chaos-lease-0"], 1.0)
        self.assertAlmostEqual(record["serving"]["d1"], 0.2)

    def test_odd_input_is_counted_not_fatal(self):
        probes, leases, faults = recovering()
        probes.event(12.0, "prober", "serving", None)
        probes.event(12.1, "prober", "serving", {"fault": 1})
        faults += [{"id": 7, "kind": "kill"}, None, {"id": 8, "t_healed": "later"}]
        verdict = liveness.check(history(probes, leases), faults, {"daemons": "d1"})
        self.assertSkipped(verdict, "no daemons in the config")
        self.assertEqual(verdict["checked"]["faults"], 1)


if __name__ == "__main__":
    unittest.main()
