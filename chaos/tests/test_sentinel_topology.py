"""`--redis single|sentinel` without processes: the flag, which faults each topology can run
(and the reason when it cannot), the seeded schedule on a Sentinel group, the checkers'
failover windows, and the failover times the summary prints. (`--redis cluster`:
test_cluster_topology.py.)"""

import contextlib
import io
import unittest

from baton_chaos import cli, faults
from baton_chaos.checkers import dedup, liveness, rate, session
from baton_chaos.checkers.loss_windows import FOLLOW_S, REPLICATION_MARGIN_S, failover_windows
from baton_chaos.fleet import config_yaml
from baton_chaos.runner import default_settings
from baton_chaos.summary import summary_text


def parse(argv):
    """(exit code or None, stderr, args)."""
    err = io.StringIO()
    args = None
    with contextlib.redirect_stderr(err):
        try:
            args = cli.parse(argv + ["--batond", "/bin/true", "--out", "/tmp/unused-chaos-out"])
        except SystemExit as e:
            return e.code, err.getvalue(), None
    return None, err.getvalue(), args


class RedisFlagTest(unittest.TestCase):
    def test_single_is_the_default_and_sentinel_and_cluster_are_accepted(self):
        self.assertEqual(parse([])[2].redis, "single")
        self.assertEqual(parse(["--redis", "sentinel"])[2].redis, "sentinel")
        self.assertEqual(parse(["--redis", "cluster"])[2].redis, "cluster")

    def test_an_unknown_topology_is_refused(self):
        code, err, _ = parse(["--redis", "ring"])
        self.assertEqual(code, 2)
        self.assertIn("--redis must be single, sentinel or cluster", err)

    def test_faults_a_topology_cannot_run_are_refused_with_the_reason(self):
        for argv, words in (
                (["--redis", "sentinel", "--faults", "partition"], "fault proxies"),
                (["--redis", "sentinel", "--faults", "network"], "fault proxies"),
                (["--redis", "sentinel", "--faults", "data-loss"], "kill-master"),
                (["--redis", "sentinel", "--faults", "redis-pause"], "pause-master"),
                (["--redis", "sentinel", "--schedule", "slow@d1:2"], "fault proxies"),
                (["--redis", "sentinel", "--faults", "clock"], "libfaketime"),
                (["--redis", "sentinel", "--schedule", "clock-skew@d3:5"], "libfaketime"),
                (["--faults", "failover"], "needs --redis sentinel"),
                (["--schedule", "kill-master:1"], "needs --redis sentinel")):
            with self.subTest(argv=argv):
                code, err, _ = parse(argv)
                self.assertEqual(code, 2)
                self.assertIn(words, err)

    def test_a_bad_written_schedule_is_a_usage_error(self):
        code, err, _ = parse(["--schedule", "volcano@d1"])
        self.assertEqual(code, 2)
        self.assertIn("unknown fault", err)


class FaultSelectionTest(unittest.TestCase):
    def test_all_means_the_topologys_set(self):
        single = faults.parse_mix("all")
        self.assertEqual(single, faults.MIXES["all"])       # unchanged
        group = set(faults.parse_mix("all", "sentinel"))
        self.assertTrue({"failover", "kill-master", "pause-master"} <= group)
        self.assertTrue({"kill", "pause", "drain", "kill-mid-drain", "rolling-restart"} <= group)
        for kind in ("partition", "slow", "lossy", "redis-kill", "redis-pause",
                     "drain-redis-paused", "clock-step", "clock-skew"):
            self.assertNotIn(kind, group)
        self.assertFalse(set(faults.SENTINEL_FAULTS) & set(single))

    def test_mixes_on_a_sentinel_group(self):
        self.assertEqual(faults.parse_mix("redis", "sentinel"), faults.SENTINEL_FAULTS)
        self.assertEqual(faults.parse_mix("sentinel", "sentinel"), faults.SENTINEL_FAULTS)
        self.assertEqual(faults.parse_mix("deploy", "sentinel"),
                         ["rolling-restart", "drain", "kill-mid-drain"])
        self.assertEqual(faults.parse_mix("kill-master,kill", "sentinel"), ["kill-master", "kill"])

    def test_a_written_schedule_targets_the_group(self):
        got = faults.parse_schedule("failover; kill-master:1.5, pause-master", ["d1", "d2"],
                                    redis="sentinel")
        self.assertEqual([(f.kind, f.target, f.hold) for f in got],
                         [("failover", "redis", 0.0), ("kill-master", "redis", 1.5),
                          ("pause-master", "redis", 2.0)])

    def test_the_seeded_schedule_spaces_failovers(self):
        settings = default_settings(3, "sentinel")
        kinds = faults.parse_mix("all", "sentinel")
        plan = faults.schedule(kinds, settings["daemons"], 300, 3, settings)
        again = faults.schedule(kinds, settings["daemons"], 300, 3, settings)
        self.assertEqual([f.record() for f in plan], [f.record() for f in again])
        group = [f for f in plan if f.kind in faults.SENTINEL_FAULTS]
        self.assertEqual(plan[0].kind in faults.SENTINEL_FAULTS, True)  # the first comes first
        self.assertEqual({f.kind for f in group}, set(faults.SENTINEL_FAULTS))
        for a, b in zip(group, group[1:]):
            self.assertGreaterEqual(b.at - a.at, faults.SENTINEL_GAP_S)
        self.assertTrue(all(f.target == "redis" for f in group))
        self.assertEqual(set(kinds), {f.kind for f in plan})  # 5 minutes hold every kind
        only = faults.schedule(faults.SENTINEL_FAULTS, settings["daemons"], 120, 1, settings)
        self.assertGreaterEqual(len(only), 3)
        for a, b in zip(only, only[1:]):
            self.assertGreaterEqual(b.at - a.at, faults.SENTINEL_GAP_S)

    def test_a_single_redis_schedule_is_unchanged(self):
        # The seed-3 schedule of `--faults all` as it was before topologies existed.
        settings = default_settings(3)
        plan = faults.schedule(faults.parse_mix("all"), settings["daemons"], 60, 3, settings)
        self.assertEqual([(f.kind, f.at) for f in plan],
                         [("clock-skew", 3.0), ("slow", 14.809), ("cpu-starve", 19.589),
                          ("lossy", 26.455), ("clock-step", 34.316), ("redis-kill", 39.726)])
        self.assertNotIn("failover", plan[0].record())

    def test_daemons_wait_for_a_replica_on_a_sentinel_group_only(self):
        group = config_yaml("/tmp/x", default_settings(3, "sentinel"))
        self.assertIn("wait_replicas: 1", group)
        self.assertIn("wait_timeout_ms: 500", group)
        self.assertIn("wait_short: fail", group)
        self.assertNotIn("wait_replicas", config_yaml("/tmp/x", default_settings(3)))


# -- the checkers on a Sentinel group ---------------------------------------------------------

def failover_fault(fid=1, t_start=10.0, t_applied=10.01, t_failover=12.0, t_demoted=30.0,
                   kind="kill-master"):
    return {"id": fid, "kind": kind, "target": "redis", "t_start": t_start,
            "t_applied": t_applied, "t_heal": t_failover, "t_healed": t_failover + 0.5,
            "failover": True, "t_failover": t_failover,
            "failover_s": round(t_failover - t_applied, 3), "t_demoted": t_demoted}


def op(n, t0, t1, workload, f, node, value, result, kind="ok", process=None):
    process = process or f"{workload}-0"
    inv = {"t": t0, "type": "invoke", "op": n, "process": process, "workload": workload,
           "f": f, "node": node, "value": value}
    done = {"t": t1, "type": kind, "op": n, "process": process, "workload": workload, "f": f,
            "node": node, "value": result}
    return [inv, done]


class FailoverWindowsTest(unittest.TestCase):
    def test_window_from_before_the_fault_until_the_daemons_followed(self):
        w = failover_windows([failover_fault()]).windows[0]
        self.assertAlmostEqual(w.start, 10.0 - REPLICATION_MARGIN_S)
        self.assertAlmostEqual(w.end, 12.0 + FOLLOW_S)   # before the demotion at 30
        early = failover_windows([failover_fault(t_demoted=13.0)]).windows[0]
        self.assertAlmostEqual(early.end, 13.0)          # the old master took no write after
        never = failover_windows([dict(failover_fault(), t_failover=None, t_demoted=None)])
        self.assertEqual(never.windows[0].end, float("inf"))
        self.assertFalse(failover_windows([{"id": 2, "kind": "kill", "t_start": 1.0}]))
        # The sentinels failed over again by themselves: the window reaches past that one.
        again = failover_windows([failover_fault(t_demoted=13.0, **{})
                                  | {"t_refailover": 15.0}]).windows[0]
        self.assertAlmostEqual(again.end, 15.0 + FOLLOW_S)

    def test_a_state_write_lost_in_a_failover_is_exempt_but_not_outside_one(self):
        opened = op(1, 1.0, 1.1, "session", "open", "d1", {"user": "u"},
                    {"id": "s1", "owner": "d1", "epoch": 1, "token_id": "t"})
        in_window = op(2, 10.2, 10.3, "session", "write", "d1", {"id": "s1", "seq": 5},
                       {"id": "s1", "seq": 5, "state_version": 5})
        read = op(3, 20.0, 20.1, "session", "read", "d1", {"id": "s1"},
                  {"id": "s1", "seq": 4, "state_version": 4})
        history = opened + in_window + read
        v = session.check(history, [failover_fault()], {})
        self.assertTrue(v["valid"], v["violations"])
        self.assertEqual(v["measured"]["writes_in_failover"], 1)
        # The same loss with the write acknowledged a second before the fault: a violation.
        before = op(2, 8.0, 8.1, "session", "write", "d1", {"id": "s1", "seq": 5},
                    {"id": "s1", "seq": 5, "state_version": 5})
        v = session.check(opened + before + read, [failover_fault()], {})
        self.assertFalse(v["valid"])
        self.assertEqual(v["violations"][0]["rule"], session.WRITE_LOST)

    def test_a_claim_lost_in_a_failover_is_exempt(self):
        first = op(1, 10.1, 10.2, "dedup", "claim", "d1", {"key": "k", "ttl_ms": 5000},
                   {"status": "new", "result": None}, process="dedup-1")
        second = op(2, 12.5, 12.6, "dedup", "claim", "d2", {"key": "k", "ttl_ms": 5000},
                    {"status": "new", "result": None}, process="dedup-2")
        v = dedup.check(first + second, [failover_fault()], {})
        self.assertTrue(v["valid"], v["violations"])
        self.assertEqual(v["measured"]["exempt_failover_claims"], 1)
        v = dedup.check(first + second, [], {})
        self.assertFalse(v["valid"])

    def test_rate_counts_twice_the_bound_across_a_failover_only(self):
        policy = {"name": "p", "algorithm": "sliding_log", "failure_mode": "closed",
                  "windows": [{"window_ms": 1000, "limit": 3}]}
        config = {"daemons": ["d1"], "rate": {"policies": [policy]}}
        checks = []
        for i in range(5):  # 5 admissions within 0.5 s: over 3, not over 6
            checks += op(i + 1, 11.0 + i * 0.1, 11.05 + i * 0.1, "rate", "check", "d1",
                         {"policy": "p", "key": "k", "cost": 1},
                         {"allowed": 1, "limited": 0, "source": "redis", "degraded": 0})
        v = rate.check(checks, [failover_fault()], config)
        self.assertTrue(v["valid"], v["violations"])
        self.assertEqual(v["measured"]["windows"]["p/1000ms"]["max_across_failover"], 5)
        v = rate.check(checks, [dict(failover_fault(), failover=False, id=9, kind="kill")],
                       config)
        self.assertIn(rate.OVER, [x["rule"] for x in v["violations"]])

    def test_liveness_measures_the_stop_against_the_failover_time(self):
        history = []
        n = 0
        for t in [9.0, 9.5, 10.0, 12.6, 13.0, 13.5]:   # d1: stopped 10.0 -> 12.6
            n += 1
            history += op(n, t - 0.01, t, "session", "read", "d1", {"id": "s"},
                          {"id": "s", "seq": 1, "state_version": 1})
        for t in [9.9, 14.0]:                          # d2: stopped until 14.0
            n += 1
            history += op(n, t - 0.01, t, "rate", "check", "d2", {"policy": "p", "key": "k"},
                          {"allowed": 1, "source": "redis", "degraded": 0})
        n += 1                                          # a failure mode's answer is no service
        history += op(n, 12.9, 13.0, "rate", "check", "d2", {"policy": "p", "key": "k"},
                      {"allowed": 1, "source": "local", "degraded": 1})
        fault = failover_fault(t_applied=10.0, t_failover=12.0)
        v = liveness.check(history, [fault], {"daemons": ["d1", "d2"]})
        got = v["measured"]["failovers"]["1"]
        self.assertEqual(got["failover_s"], 2.0)
        self.assertEqual(got["stopped"], {"d1": 2.6, "d2": 4.0})
        self.assertEqual(got["served_again_s"], 4.0)
        self.assertEqual(got["target_s"], 3.0)
        self.assertEqual(got["met"], "no")
        text = summary_text({"verdicts": [v], "faults": [fault]})
        line = next(l for l in text.splitlines() if l.split()[:2] == ["1", "kill-master"]
                    and "d1=" in l)
        for part in ("2.000s", "4.000s", "3.000s", "no"):
            self.assertIn(part, line)
        self.assertIn("target missed by 1 of 1", text)
        text = summary_text({"verdicts": [v], "faults": [dict(fault, t_refailover=14.5,
                                                                refailover_master=7002)]})
        self.assertIn("fault 1: the sentinels failed over again by themselves at 14.500 (to "
                      "port 7002)", text)
        self.assertIn("FAILED OVER AGAIN at 14.500", text)


if __name__ == "__main__":
    unittest.main()
