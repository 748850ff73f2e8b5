"""`--redis cluster` without processes: which faults a cluster can run (and the reason when it
cannot), the seeded schedule of cluster faults, the slots of the workloads' keys, the parsing
of the nodes' answers, and the failover records the checkers and the summary read."""

import unittest

from baton_chaos import faults
from baton_chaos.checkers import liveness
from baton_chaos.checkers.loss_windows import FOLLOW_S, failover_windows
from baton_chaos.cluster_replies import info_field, owns, parse_nodes, parse_slots
from baton_chaos.cluster_slots import key_in_slots, key_slot, slots_of_tags, workload_tags
from baton_chaos.fleet import config_yaml
from baton_chaos.runner import default_settings
from baton_chaos.summary import summary_text

from test_sentinel_topology import op, parse


class ClusterFaultSelectionTest(unittest.TestCase):
    def test_all_means_the_cluster_faults_and_the_daemon_faults(self):
        kinds = set(faults.parse_mix("all", "cluster"))
        self.assertTrue(set(faults.CLUSTER_FAULTS) <= kinds)
        self.assertTrue({"kill", "pause", "cpu-starve", "drain", "kill-mid-drain",
                         "rolling-restart"} <= kinds)
        for kind in ("partition", "slow", "lossy", "redis-kill", "redis-pause",
                     "drain-redis-paused", "clock-step", "clock-skew", "failover",
                     "kill-master", "pause-master"):
            self.assertNotIn(kind, kinds)
        self.assertEqual(faults.parse_mix("cluster", "cluster"), faults.CLUSTER_FAULTS)
        self.assertEqual(faults.parse_mix("redis", "cluster"), faults.CLUSTER_FAULTS)

    def test_faults_a_cluster_cannot_run_are_refused_with_the_reason(self):
        for argv, words in (
                (["--redis", "cluster", "--faults", "network"], "MOVED"),
                (["--redis", "cluster", "--schedule", "partition@d1:2"], "fault proxies"),
                (["--redis", "cluster", "--faults", "redis-kill"], "kill-primary"),
                (["--redis", "cluster", "--faults", "clock"], "libfaketime"),
                (["--redis", "cluster", "--faults", "sentinel"], "needs --redis sentinel"),
                (["--redis", "cluster", "--faults", "kill-master"], "needs --redis sentinel"),
                (["--redis", "sentinel", "--faults", "cluster"], "needs --redis cluster"),
                (["--faults", "migrate-slot"], "needs --redis cluster"),
                (["--redis", "cluster", "--schedule", "migrate-slot/keys=lease+volcano"],
                 "keys are workloads")):
            with self.subTest(argv=argv):
                code, err, _ = parse(argv)
                self.assertEqual(code, 2)
                self.assertIn(words, err)

    def test_a_written_schedule_targets_the_cluster_with_its_parameters(self):
        got = faults.parse_schedule("cluster-failover/shard=2; kill-primary:1.5, "
                                    "migrate-slot:1/keys=lease+secret/to=2", ["d1"],
                                    redis="cluster")
        self.assertEqual([(f.kind, f.target, f.hold) for f in got],
                         [("cluster-failover", "redis", 0.0), ("kill-primary", "redis", 1.5),
                          ("migrate-slot", "redis", 1.0)])
        self.assertEqual(got[0].params, {"shard": 2, "replica": 0})
        self.assertEqual(got[2].params, {"keys": "lease+secret", "to": 2})

    def test_the_seeded_schedule_spaces_cluster_faults(self):
        settings = default_settings(3, "cluster")
        plan = faults.schedule(faults.CLUSTER_FAULTS, settings["daemons"], 60, 3, settings)
        again = faults.schedule(faults.CLUSTER_FAULTS, settings["daemons"], 60, 3, settings)
        self.assertEqual([f.record() for f in plan], [f.record() for f in again])
        self.assertEqual({f.kind for f in plan}, set(faults.CLUSTER_FAULTS))  # 60 s hold all
        for a, b in zip(plan, plan[1:]):
            self.assertGreaterEqual(b.at - a.at, faults.CLUSTER_GAP_S)
        for f in plan:
            self.assertEqual(f.target, "redis")
            if f.kind == "migrate-slot":
                self.assertEqual(f.params["keys"].split("+")[0], "lease")
                self.assertIn(f.params["to"], (1, 2))
            else:
                self.assertIn(f.params["shard"], (0, 1, 2))
        mixed = faults.schedule(faults.parse_mix("all", "cluster"), settings["daemons"], 300, 3,
                                settings)
        self.assertEqual({f.kind for f in mixed}, set(faults.parse_mix("all", "cluster")))

    def test_daemons_wait_for_a_replica_on_a_cluster(self):
        text = config_yaml("/tmp/x", default_settings(3, "cluster"))
        self.assertIn("wait_replicas: 1", text)
        self.assertIn("wait_timeout_ms: 500", text)
        self.assertIn("call_timeout_ms: 1000", text)


class SlotsTest(unittest.TestCase):
    def test_key_slot_is_redis_keyslot(self):
        self.assertEqual(key_slot("123456789"), 0x31C3)   # CRC16/XMODEM's check value
        self.assertEqual(key_slot("foo"), 12182)           # CLUSTER KEYSLOT foo
        self.assertEqual(key_slot("baton:lease:{chaos-lease-0}:fence"),
                         key_slot("{chaos-lease-0}"))
        self.assertEqual(key_slot("a{}b"), key_slot("a{}b"))
        self.assertNotEqual(key_slot("a{}b"), key_slot("{}"))  # an empty tag hashes the key

    def test_workload_tags_name_the_keys_batond_uses(self):
        settings = default_settings(3, "cluster")
        tags = workload_tags(settings, ["lease", "election", "dedup"], now=5.0)
        self.assertEqual(tags["lease"], ["chaos-lease-0"])
        self.assertEqual(tags["election"], ["elect:chaos-group"])
        self.assertEqual(tags["dedup"], ["chaos-dedup-2", "chaos-dedup-3"])
        slots = slots_of_tags({"lease": ["chaos-lease-0"]})
        self.assertEqual(list(slots), [key_slot("{chaos-lease-0}")])

    def test_a_probe_key_lies_in_the_slots_asked_for(self):
        for ranges in ([[0, 5460]], [[12728, 12728]], [[100, 200], [16000, 16383]]):
            key = key_in_slots(ranges, "chaos-probe")
            self.assertTrue(any(a <= key_slot(key) <= b for a, b in ranges), (key, ranges))

    def test_the_nodes_answers_are_read(self):
        nodes = parse_nodes(
            "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
            "b2 127.0.0.1:7001@17001 slave,fail? a1 0 0 1 connected\n"
            "c3 :0@0 master,noaddr - 0 0 2 disconnected\n")
        self.assertEqual(sorted(nodes), [0, 7000, 7001])
        self.assertTrue(nodes[7000].healthy)
        self.assertFalse(nodes[7001].healthy)
        self.assertEqual(nodes[7001].primary_id, "a1")
        table = parse_slots([[5461, 16383, ["127.0.0.1", 7002, "c3"]],
                             [0, 5460, ["127.0.0.1", 7000, "a1"], ["127.0.0.1", 7001, "b2"]]])
        self.assertEqual(table, [(0, 5460, 7000), (5461, 16383, 7002)])
        self.assertTrue(owns(table, [(10, 20)], 7000))
        self.assertFalse(owns(table, [(5000, 6000)], 7000))
        self.assertEqual(info_field("# Replication\r\nrole:slave\r\nmaster_port:7000\r\n",
                                    "master_port"), "7000")


class ClusterFailoverRecordTest(unittest.TestCase):
    def fault(self, **extra):
        return dict({"id": 1, "kind": "pause-primary", "target": "redis", "t_start": 10.0,
                     "t_applied": 10.0, "t_heal": 13.0, "t_healed": 13.1, "failover": True,
                     "t_failover": 12.0, "failover_s": 2.0, "t_demoted": 13.1,
                     "old_master": 7000, "new_master": 7001}, **extra)

    def test_the_window_and_the_table_read_a_cluster_failover_as_a_sentinel_one(self):
        w = failover_windows([self.fault()]).windows[0]
        self.assertAlmostEqual(w.end, 13.1)                      # demoted before 12 + 5
        w = failover_windows([self.fault(t_demoted=30.0)]).windows[0]
        self.assertAlmostEqual(w.end, 12.0 + FOLLOW_S)
        self.assertFalse(failover_windows([{"id": 2, "kind": "migrate-slot", "t_start": 1.0}]))
        history = []
        for n, t in enumerate([9.0, 12.5, 13.0]):
            history += op(n + 1, t - 0.01, t, "session", "read", "d1", {"id": "s"},
                          {"id": "s", "seq": 1, "state_version": 1})
        fault = self.fault(t_refailover=14.0, refailover_master=7002)
        v = liveness.check(history, [fault], {"daemons": ["d1"]})
        text = summary_text({"verdicts": [v], "faults": [fault], "redis": "cluster"})
        self.assertIn("the cluster failed over again by itself at 14.000 (to port 7002)", text)
        self.assertIn("old primary a replica at 13.100", text)

    def test_a_cluster_failover_is_measured_on_its_primarys_slots(self):
        from baton_chaos.checkers.slots import key_slot
        inside, outside = key_slot("{a}"), key_slot("{b}")
        self.assertNotEqual(inside, outside)
        history, n = [], 0
        for t, name in [(9.9, "a"), (11.0, "b"), (11.5, "b"), (12.4, "a"), (12.9, "b"),
                        (13.0, "a"), (15.9, "a")]:   # a later gap is the workload's, not ours
            n += 1
            history += op(n, t - 0.01, t, "lease", "renew", "d1", {"name": name, "token": 1},
                          {"validity_ms": 1000})
        n += 1  # the harness's probe of the slots counts as an answer too
        history += op(n, 12.0, 12.1, "probe", "slot", "d1", {"key": "a"}, {"key": "a"})
        fault = self.fault(slots=[[inside, inside]])
        got = liveness.check(history, [fault], {"daemons": ["d1"]})["measured"]["failovers"]["1"]
        self.assertEqual(got["stopped"], {"d1": 2.1})      # 10.0 -> 12.1: b's answers ignored
        self.assertEqual(got["served_again_s"], 2.1)
        whole = liveness.check(history, [self.fault()], {"daemons": ["d1"]})
        self.assertEqual(whole["measured"]["failovers"]["1"]["stopped"], {"d1": 2.9})


if __name__ == "__main__":
    unittest.main()
