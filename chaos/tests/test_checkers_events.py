"""The events checker on hand-written histories: readers that follow the topic, and for each
rule a history that breaks it."""

import unittest

from baton_chaos.checkers import events
from checkers_support import History, VerdictAsserts, fault


def publish(h, t0, t1, value, event_id, outcome="ok"):
    return h.op("events-publisher", "publish", t0, t1, {"value": value},
                {"id": event_id} if outcome == "ok" else {"error": "UNKNOWN"}, outcome=outcome)


def read(h, process, t0, t1, after, got, node="d1"):
    return h.op(process, "read", t0, t1, {"after": after},
                {"events": [[i, v] for i, v in got]}, node=node)


class EventsCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = events.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no events operations"])

    def test_a_reader_that_follows_passes(self):
        h = History("events")
        publish(h, 0.0, 0.01, 1, "100-0")
        publish(h, 0.1, 0.11, 2, "200-0")
        publish(h, 0.2, 0.21, 3, "200-1")
        read(h, "r1", 0.3, 0.31, "0", [("100-0", 1), ("200-0", 2)])
        read(h, "r1", 0.4, 0.41, "200-0", [("200-1", 3)], node="d2")
        verdict = events.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["events_read"], 3)

    def test_a_gap(self):
        h = History("events")
        publish(h, 0.0, 0.01, 1, "100-0")
        missed = publish(h, 0.1, 0.11, 2, "200-0")
        publish(h, 0.2, 0.21, 3, "300-0")
        read(h, "r1", 0.3, 0.31, "0", [("100-0", 1)])
        read(h, "r1", 0.4, 0.41, "100-0", [("300-0", 3)], node="d2")
        self.assertViolation(events.check(h.events(), [], {}), events.GAP, missed)

    def test_an_event_missed_at_the_end_by_a_reader_that_caught_up(self):
        h = History("events")
        publish(h, 0.0, 0.01, 1, "100-0")
        missed = publish(h, 0.1, 0.11, 2, "200-0")
        read(h, "r1", 0.3, 0.31, "0", [("100-0", 1)])
        h.event(0.5, "r1", "caught-up", {"last": "100-0"})
        self.assertViolation(events.check(h.events(), [], {}), events.GAP, missed)

    def test_an_event_missed_at_the_start(self):
        h = History("events")
        missed = publish(h, 0.0, 0.01, 1, "100-0")
        publish(h, 0.1, 0.11, 2, "200-0")
        read(h, "r1", 0.3, 0.31, "0", [("200-0", 2)])
        self.assertViolation(events.check(h.events(), [], {}), events.GAP, missed)

    def test_an_event_twice(self):
        h = History("events")
        publish(h, 0.0, 0.01, 1, "100-0")
        first = read(h, "r1", 0.3, 0.31, "0", [("100-0", 1)])
        again = read(h, "r1", 0.4, 0.41, "0", [("100-0", 1)], node="d2")
        self.assertViolation(events.check(h.events(), [], {}), events.OUT_OF_ORDER,
                             first + again)

    def test_another_payload(self):
        h = History("events")
        pub = publish(h, 0.0, 0.01, 1, "100-0")
        wrong = read(h, "r1", 0.3, 0.31, "0", [("100-0", 9)])
        self.assertViolation(events.check(h.events(), [], {}), events.WRONG, pub + wrong)

    def test_a_number_sent_again_that_landed_once_passes(self):
        h = History("events")
        publish(h, 0.0, 0.5, 1, None, outcome="info")  # the answer was lost...
        publish(h, 0.6, 0.61, 1, "100-0")  # ... sent again with its DEDUP key: the first id
        publish(h, 0.7, 0.71, 2, "200-0")
        read(h, "r1", 0.8, 0.81, "0", [("100-0", 1), ("200-0", 2)])
        self.assertValid(events.check(h.events(), [], {}))

    def test_a_number_sent_again_that_landed_twice(self):
        h = History("events")
        publish(h, 0.0, 0.5, 1, None, outcome="info")
        again = publish(h, 0.6, 0.61, 1, "200-0")
        seen = read(h, "r1", 0.8, 0.81, "0", [("100-0", 1), ("200-0", 1)])
        self.assertViolation(events.check(h.events(), [], {}), events.TWICE, seen + again)

    def test_a_gap_across_data_loss_is_exempt(self):
        h = History("events")
        publish(h, 0.0, 0.01, 1, "100-0")
        publish(h, 0.1, 0.11, 2, "200-0")
        publish(h, 2.0, 2.01, 3, "300-0")
        read(h, "r1", 0.05, 0.06, "0", [("100-0", 1)])
        read(h, "r1", 2.5, 2.51, "100-0", [("300-0", 3)])
        loss = fault(1, "redis-kill", 1.0, 1.5, data_loss=True, target="redis")
        verdict = events.check(h.events(), [loss], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["measured"]["exempt_data_loss"], 1)


if __name__ == "__main__":
    unittest.main()
