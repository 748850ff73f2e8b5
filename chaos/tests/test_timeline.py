"""Tests for the timeline picture: small hand-built runs in, SVG out, read back with
xml.etree so that a broken escape or a missing lane fails here rather than in a browser.
A long synthetic run checks that binning keeps the file small.
"""
import os
import random
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from baton_chaos.timeline import render_timeline, timeline_svg  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
CONFIG = {"daemons": ["d1", "d2", "d3"], "ttl_ms": 2000}


class Recorder:
    """Builds a history the way the harness writes it: invokes and completions share an op."""

    def __init__(self):
        self.events, self.next_op = [], 1

    def op(self, t0, t1, process, workload, f, node, value, type_="ok", answer=None):
        op, self.next_op = self.next_op, self.next_op + 1
        self.events.append({"t": t0, "type": "invoke", "op": op, "process": process,
                            "workload": workload, "f": f, "node": node, "value": value})
        self.events.append({"t": t1, "type": type_, "op": op, "process": process,
                            "workload": workload, "f": f, "node": node, "value": answer or value})

    def event(self, t, process, workload, f, node, value):
        self.events.append({"t": t, "type": "event", "op": None, "process": process,
                            "workload": workload, "f": f, "node": node, "value": value})

    def history(self):
        return sorted(self.events, key=lambda e: e["t"])


def small_run():
    r = Recorder()
    lease = "chaos-lease-0"
    r.op(1.0, 1.01, "lease-1", "lease", "acquire", "d1", {"name": lease, "ttl_ms": 2000, "wait_ms": 3000},
         answer={"name": lease, "token": 1000000123, "validity_ms": 1900})
    r.op(2.0, 2.01, "lease-1", "lease", "renew", "d1", {"name": lease, "token": 1000000123, "ttl_ms": 2000},
         answer={"name": lease, "token": 1000000123, "validity_ms": 1900})
    r.op(3.0, 3.01, "lease-1", "lease", "release", "d1", {"name": lease, "token": 1000000123})
    r.op(3.5, 3.6, "lease-2", "lease", "acquire", "d2", {"name": lease, "ttl_ms": 2000, "wait_ms": 3000},
         answer={"name": lease, "token": 1000000456, "validity_ms": 1900})
    r.event(4.0, "lease-2", "lease", "abandon", "d2", {"name": lease, "token": 1000000456, "reason": "lost <conn> & \x01"})
    r.op(5.0, 5.5, "lease-3", "lease", "acquire", "d3", {"name": lease, "ttl_ms": 2000, "wait_ms": 3000},
         "info", {"name": lease, "error": "timeout"})
    r.op(1.0, 1.1, "elect-1", "election", "join", "d1", {"group": "g", "candidate": "a", "ttl_ms": 2000},
         answer={"group": "g", "term": 777000001, "validity_ms": 1900})
    r.op(6.0, 6.1, "elect-2", "election", "join", "d2", {"group": "g", "candidate": "b", "ttl_ms": 2000},
         answer={"group": "g", "term": 777000002, "validity_ms": 1900})
    r.event(2.5, "session-1", "session", "handoff-out", "d1", {"id": "s1", "target": "d2", "token_id": "abc"})
    r.op(2.6, 2.7, "session-1", "session", "resume", "d2", {"id": "s1", "token_id": "abc", "final": False},
         answer={"id": "s1", "owner": "d2", "epoch": 2, "seq": 4, "state_version": 5, "token_id": "abc"})
    r.op(2.8, 2.9, "session-1", "session", "write", "d2", {"id": "s1", "seq": 5}, "fail",
         {"id": "s1", "seq": 5, "error": "MOVED d3"})
    for k in range(20):
        r.op(k * 0.3, k * 0.3 + 0.01, "rate-1", "rate", "check", "d1", {"policy": "api", "key": "k", "cost": 1},
             answer={"policy": "api", "key": "k", "allowed": k % 2, "limited": 0, "source": "redis", "degraded": 0})
    faults = [
        {"id": 1, "kind": "kill", "target": "d2", "params": {}, "t_start": 3.4, "t_applied": 3.41,
         "t_heal": 5.0, "t_healed": 5.3, "data_loss": False, "clock": False, "detail": "SIGKILL"},
        {"id": 2, "kind": "redis-pause", "target": "redis", "t_start": 4.0, "t_heal": 4.5},
        {"id": 3, "kind": "rolling-restart", "target": "all", "t_start": 6.5, "t_applied": 6.5, "t_healed": 9.0},
    ]
    return r.history(), faults


def parse(text):
    return ET.fromstring(text.encode("utf-8"))


def groups(root, cls):
    return [g for g in root.iter(SVG + "g") if cls in (g.get("class") or "").split()]


class TimelineTest(unittest.TestCase):
    def test_small_run_has_lanes_bands_bars(self):
        history, faults = small_run()
        root = parse(timeline_svg(history, faults, CONFIG, []))
        node_lanes = [g.get("data-lane") for g in groups(root, "lane") if g.get("data-kind") == "node"]
        self.assertEqual(node_lanes, ["d1", "d2", "d3", "redis"])
        bands = {g.get("data-fault"): g.get("data-kind") for g in groups(root, "fault")}
        self.assertEqual(bands, {"1": "kill", "2": "redis-pause", "3": "rolling-restart"})
        for g in groups(root, "fault"):
            self.assertIn(g.get("data-kind"), "".join(g.itertext()))
        grants = {g.get("data-token"): "".join(g.itertext()) for g in groups(root, "grant")}
        self.assertEqual(set(grants), {"1000000123", "1000000456"})
        self.assertIn("000123", grants["1000000123"])
        self.assertIn("lease-1", grants["1000000123"])
        terms = [g.get("data-term") for g in groups(root, "leader")]
        self.assertEqual(terms, ["777000001", "777000002"])
        self.assertEqual(groups(root, "violation"), [])

    def test_belief_ends_at_the_earliest_of_safe_until_release_and_abandon(self):
        history, faults = small_run()
        r = Recorder()   # a grant renewed once, then left to run out
        r.op(1.0, 1.2, "lease-9", "lease", "acquire", "d3", {"name": "other", "ttl_ms": 500, "wait_ms": 0},
             answer={"name": "other", "token": 9, "validity_ms": 500})
        r.op(1.3, 1.4, "lease-9", "lease", "renew", "d3", {"name": "other", "token": 9, "ttl_ms": 1000},
             answer={"name": "other", "token": 9, "validity_ms": 1000})
        root = parse(timeline_svg(history + r.history(), faults, CONFIG, []))
        tips = {g.get("data-token"): g.find(SVG + "title").text for g in groups(root, "grant")}
        self.assertIn("ends 3.000s by release", tips["1000000123"])
        self.assertIn("ends 4.000s by abandon", tips["1000000456"])
        self.assertIn("ends 2.300s by safe_until", tips["9"])

    def test_violation_marker_carries_the_rule(self):
        history, faults = small_run()
        verdicts = [{"checker": "lease", "valid": False, "violations": [
            {"rule": "overlapping holders", "message": "two <holders> & more",
             "events": [history[5], history[2]]}]},
            {"checker": "rate", "valid": True, "violations": []}]
        root = parse(timeline_svg(history, faults, CONFIG, verdicts))
        markers = groups(root, "violation")
        self.assertEqual(len(markers), 1)
        self.assertEqual(markers[0].get("data-rule"), "overlapping holders")
        self.assertIn("overlapping holders", markers[0].find(SVG + "title").text)

    def test_empty_and_malformed_inputs_do_not_crash(self):
        for args in (([], [], {}, []), (None, None, None, None),
                     ([{"t": "x"}, {"type": "ok"}, {"t": 1, "type": "ok", "value": "oops"}, 7],
                      [{"kind": "kill"}, {"t_start": None}, "junk"], {"daemons": 2}, {"lease": {"violations": [{}]}})):
            root = parse(timeline_svg(*args))
            self.assertEqual(root.tag, SVG + "svg")

    def test_writes_a_file(self):
        history, faults = small_run()
        with tempfile.TemporaryDirectory() as tmp:
            path = render_timeline(history, faults, CONFIG, [], os.path.join(tmp, "out", "timeline.svg"))
            with open(path, encoding="utf-8") as f:
                self.assertEqual(parse(f.read()).tag, SVG + "svg")

    def test_long_run_is_binned_and_small(self):
        rng, r = random.Random(7), Recorder()
        t, token = 0.0, 1
        while len(r.events) < 100_000:
            t += rng.uniform(0.005, 0.03)
            node = rng.choice(["d1", "d2", "d3"])
            kind = rng.random()
            if kind < 0.4:
                token += 1
                r.op(t, t + 0.002, f"lease-{token % 8}", "lease", "acquire", node,
                     {"name": f"chaos-lease-{token % 2}", "ttl_ms": 500, "wait_ms": 0},
                     answer={"name": f"chaos-lease-{token % 2}", "token": token, "validity_ms": 400})
            elif kind < 0.6:
                r.op(t, t + 0.5, "session-1", "session", "write", node, {"id": "s", "seq": 1}, "fail",
                     {"id": "s", "seq": 1, "error": "MOVED d1"})
            elif kind < 0.8:
                r.op(t, t + 1.0, "dedup-1", "dedup", "claim", node, {"key": "k"}, "info", {"key": "k", "error": "timeout"})
            else:
                r.op(t, t + 0.001, "rate-1", "rate", "check", node, {"policy": "p", "key": "k", "cost": 1},
                     answer={"policy": "p", "key": "k", "allowed": 1})
        faults = [{"id": i, "kind": rng.choice(["kill", "pause", "partition"]), "target": rng.choice(["d1", "d2", "d3"]),
                   "t_start": i * 10.0, "t_heal": i * 10.0 + 4} for i in range(int(t / 10))]
        text = timeline_svg(r.history(), faults, CONFIG, [])
        root = parse(text)
        self.assertLess(len(text.encode()), 1_500_000)
        self.assertTrue(groups(root, "binned"), "the lease lanes should have been binned")
        self.assertLess(sum(1 for _ in root.iter()), 60_000)


if __name__ == "__main__":
    unittest.main()
