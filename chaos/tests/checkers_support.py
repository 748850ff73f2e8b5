"""Helpers for the checkers' tests: write small histories by hand, one operation per line,
in the shape HISTORY.md describes, and assert on the verdicts they get."""

import json


class History:
    """A history under construction: op() appends an invoke and its completion."""

    def __init__(self, workload):
        self.workload = workload
        self.items = []
        self.next_op = 0

    def op(self, process, f, t0, t1, args, result=None, outcome="ok", node="d1"):
        """Returns [invoke, completion]; outcome None leaves the op without completion."""
        self.next_op += 1
        invoke = self._add(t0, "invoke", process, f, args, node, self.next_op)
        if outcome is None:
            return [invoke]
        done = self._add(t1, outcome, process, f, args if result is None else result, node,
                         self.next_op)
        return [invoke, done]

    def event(self, t, process, f, value, node=None):
        return self._add(t, "event", process, f, value, node, None)

    def _add(self, t, kind, process, f, value, node, op):
        event = {"t": t, "type": kind, "op": op, "process": process,
                 "workload": self.workload, "f": f, "node": node, "value": value}
        self.items.append(event)
        return event

    def events(self):
        """In t order, as the harness writes them (stable for equal times)."""
        return sorted(self.items, key=lambda e: e["t"])


def fault(fault_id, kind, t_start, t_healed, data_loss=False, clock=False, target="d1"):
    return {"id": fault_id, "kind": kind, "target": target, "params": {},
            "t_start": t_start, "t_applied": t_start + 0.01, "t_heal": t_healed - 0.1,
            "t_healed": t_healed, "data_loss": data_loss, "clock": clock, "detail": ""}


class VerdictAsserts:
    """Mixin for unittest.TestCase."""

    def assertValid(self, verdict):
        self.assertTrue(verdict["valid"], json.dumps(verdict["violations"], indent=1))
        self.assertEqual(verdict["violations"], [])

    def assertViolation(self, verdict, rule, involved=()):
        """The verdict breaks `rule`, and its counterexample holds the `involved` events."""
        self.assertFalse(verdict["valid"])
        found = [v for v in verdict["violations"] if v["rule"] == rule]
        self.assertEqual(len(found), 1, f"no single '{rule}' in {verdict['violations']}")
        self.assertTrue(found[0]["message"])
        for event in involved:
            self.assertIn(event, found[0]["events"])
        return found[0]

    def assertOnlyRules(self, verdict, *rules):
        self.assertEqual(sorted(v["rule"] for v in verdict["violations"]), sorted(rules))

    def assertSkipped(self, verdict, fragment):
        self.assertTrue(any(fragment in s for s in verdict["skipped"]),
                        f"'{fragment}' not in {verdict['skipped']}")
