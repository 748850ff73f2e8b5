"""chaos/run's flags: bad ones are refused with a clear message and exit status 2 before
anything starts; a written schedule is read, checked and keeps its parameters."""

import contextlib
import io
import unittest

from baton_chaos import cli, faults


def refused(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), self_exit() as code:
        cli.parse(argv + ["--batond", "/bin/true"])
    return code[0], err.getvalue()


@contextlib.contextmanager
def self_exit():
    code = [None]
    try:
        yield code
    except SystemExit as e:
        code[0] = e.code


class CliTest(unittest.TestCase):
    def test_bad_flags_exit_2_with_a_reason(self):
        for argv, words in ((["--faults", "earthquake"], "unknown fault or mix"),
                            (["--workloads", "lease,teleport"], "unknown workload"),
                            (["--daemons", "1"], "--daemons must be 2 to 9"),
                            (["--duration", "soon"], "not a duration")):
            with self.subTest(argv=argv):
                code, err = refused(argv)
                self.assertEqual(code, 2)
                self.assertIn(words, err)

    def test_missing_batond_is_refused(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self_exit() as code:
            cli.parse(["--batond", "/nonexistent/batond"])
        self.assertEqual(code[0], 2)
        self.assertIn("no batond at", err.getvalue())

    def test_a_written_schedule_keeps_its_order_targets_and_parameters(self):
        got = faults.parse_schedule("partition@d1:3, clock-skew@d2:20/rate=0.5; redis-kill",
                                    ["d1", "d2", "d3"])
        self.assertEqual([(f.kind, f.target, f.hold) for f in got],
                         [("partition", "d1", 3.0), ("clock-skew", "d2", 20.0),
                          ("redis-kill", "redis", 2.0)])
        self.assertEqual(got[1].params, {"rate": 0.5})
        for bad in ("partition@d9", "volcano@d1", "slow@d1:2/speed=3"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                faults.parse_schedule(bad, ["d1", "d2", "d3"])

    def test_the_same_seed_gives_the_same_schedule(self):
        from baton_chaos.runner import default_settings
        settings = default_settings(3)
        kinds = faults.parse_mix("all")
        one = faults.schedule(kinds, settings["daemons"], 300, 7, settings)
        again = faults.schedule(kinds, settings["daemons"], 300, 7, settings)
        other = faults.schedule(kinds, settings["daemons"], 300, 8, settings)
        self.assertEqual([f.record() for f in one], [f.record() for f in again])
        self.assertNotEqual([f.record() for f in one], [f.record() for f in other])
        self.assertEqual(set(kinds), {f.kind for f in one})  # 5 minutes hold every kind


if __name__ == "__main__":
    unittest.main()
