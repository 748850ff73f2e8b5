"""Tests for the text summary: a hand-written report.json dict in, the text a person reads
out. Checks the parts someone looks for first: the verdict line, the faults, the counts, the
measured numbers, and the events that make up a violation.
"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from baton_chaos.summary import summary_text, write_summary  # noqa: E402

ACQUIRE_1 = {"t": 12.345678, "type": "ok", "op": 17, "process": "lease-2", "workload": "lease",
             "f": "acquire", "node": "d1", "value": {"name": "chaos-lease-0", "token": 41, "validity_ms": 1900}}
ACQUIRE_2 = {"t": 12.5, "type": "ok", "op": 19, "process": "lease-3", "workload": "lease",
             "f": "acquire", "node": "d2", "value": {"name": "chaos-lease-0", "token": 42, "validity_ms": 1900}}


def report(violations=True):
    lease = {"checker": "lease", "valid": not violations, "checked": {"grants": 120, "writes": 800},
             "violations": [{"rule": "overlapping holders", "message": "lease-2 and lease-3 both held chaos-lease-0",
                             "events": [ACQUIRE_1, ACQUIRE_2]}] if violations else [],
             "skipped": ["overlap: the run skewed a clock"]}
    # measured as checkers/liveness.py and checkers/rate.py report them
    liveness = {"checker": "liveness", "valid": True, "checked": {"faults": 2},
                "measured": {"serve_within_s": 10.0, "faults": {
                    "1": {"kind": "kill", "target": "d2", "t_healed": 8.31, "effective_heal": 8.31,
                          "serving": {"d1": 0.05, "d2": 1.25, "d3": None}, "lease": {"chaos-lease-0": 2.5}}},
                    "not_enough_time": 0}}
    rate = {"checker": "rate", "valid": True, "violations": [], "measured": {"windows": {"chaos-gcra/1000ms": {
        "policy": "chaos-gcra", "window_ms": 1000.0, "limit": 20, "bound": 40, "max_redis": 22,
        "max_including_degraded": 45, "overshoot": 5}}}}
    election = {"checker": "election", "valid": True,
                "measured": {"recovery": [{"fault": 2, "after_s": 0.75}]}}
    return {
        "config": {"daemons": ["d1", "d2", "d3"], "ttl_ms": 2000, "grace_ms": 500},
        "seed": 424242, "duration_s": 75.5, "command": ["python3", "-m", "baton_chaos", "--seed", "424242"],
        "faults": [
            {"id": 1, "kind": "kill", "target": "d2", "params": {}, "t_start": 5.0, "t_applied": 5.01,
             "t_heal": 8.0, "t_healed": 8.31, "data_loss": False, "clock": False},
            {"id": 2, "kind": "clock-skew", "target": "d1", "t_start": 20.0, "t_heal": 30.0, "clock": True},
            {"id": 3, "kind": "rolling-restart", "target": ["d1", "d2", "d3"], "t_start": 40.0},
        ],
        "counts": {"lease": {"acquire": {"ok": 120, "fail": 3, "info": 1}, "write": {"ok": 800, "fail": 2, "info": 0}}},
        "verdicts": [lease, liveness, rate, election], "valid": not violations, "timeline": "timeline.svg",
    }


class SummaryTest(unittest.TestCase):
    def test_invalid_run(self):
        text = summary_text(report())
        self.assertEqual(text.rstrip("\n").splitlines()[-1], "VERDICT: INVALID (1 violation)")
        self.assertIn("424242", text)
        self.assertIn("python3 -m baton_chaos --seed 424242", text)
        self.assertIn("d1, d2, d3", text)
        self.assertIn("lease: FAIL", text)
        self.assertIn("SKIPPED overlap: the run skewed a clock", text)
        self.assertIn("[lease] overlapping holders: lease-2 and lease-3 both held chaos-lease-0", text)
        event_lines = [l.split() for l in text.splitlines() if l.strip().startswith("12.")]
        self.assertEqual(len(event_lines), 2)
        self.assertEqual(event_lines[0], ["12.345678", "lease-2", "d1", "ok", "acquire",
                                          '{"name":"chaos-lease-0","token":41,"validity_ms":1900}'])

    def test_faults_table(self):
        lines = summary_text(report()).splitlines()
        kill = next(l for l in lines if l.split()[:2] == ["1", "kill"])
        for part in ("d2", "5.010", "8.310", "3.300s"):
            self.assertIn(part, kill)
        skew = next(l for l in lines if l.split()[:2] == ["2", "clock-skew"])
        self.assertIn("10.000s", skew)   # t_start/t_heal stand in for unconfirmed times
        self.assertIn("clock", skew.split("10.000s")[1])
        self.assertIn("not healed", next(l for l in lines if l.split()[:3] == ["3", "rolling-restart", "d1,d2,d3"]))

    def test_counts_and_measured(self):
        lines = summary_text(report()).splitlines()
        acquire = next(l for l in lines if l.strip().startswith("acquire"))
        self.assertEqual(acquire.split(), ["acquire", "120", "3", "1"])
        header = next(l for l in lines if "serving.d2" in l)
        self.assertIn("lease.chaos-lease-0", header)
        recovery = next(l for l in lines if "1.25" in l)
        self.assertEqual(recovery.split()[:2], ["1", "kill"])
        self.assertIn("2.5", recovery)
        window = next(l for l in lines if l.strip().startswith("chaos-gcra/1000ms"))
        self.assertEqual(window.split(), ["chaos-gcra/1000ms", "chaos-gcra", "1000", "20", "40", "22", "45", "5"])
        recovery = next(l for l in lines if "0.75" in l)
        self.assertEqual(recovery.split(), ["2", "clock-skew", "0.75"])   # a fault id is named by its kind

    def test_valid_run(self):
        text = summary_text(report(violations=False))
        self.assertTrue(text.endswith("VERDICT: valid\n"))
        self.assertIn("lease: PASS", text)
        self.assertNotIn("violations\n", text)

    def test_missing_fields(self):
        for r in ({}, None, {"verdicts": {"lease": {"valid": False, "violations": [{"events": ["odd", {}]}]}},
                             "faults": ["x", {}], "counts": {"lease": "x"}}):
            text = summary_text(r)
            self.assertTrue(text.splitlines()[-1].startswith("VERDICT: "))
        self.assertIn("VERDICT: INVALID (1 violation)", text)

    def test_invalid_without_violations_says_why(self):
        r = report(violations=False)
        r.update(valid=False, harness_error="workload lease crashed")
        r["faults"][2]["error"] = "not confirmed healed"
        text = summary_text(r)
        self.assertTrue(text.endswith("VERDICT: INVALID (0 violations, harness error, 1 fault failed)\n"))
        self.assertIn("ERROR not confirmed healed", text)

    def test_write_summary(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_summary(report(), os.path.join(tmp, "summary.txt"))
            with open(path, encoding="utf-8") as f:
                self.assertEqual(f.read(), summary_text(report()))


if __name__ == "__main__":
    unittest.main()
