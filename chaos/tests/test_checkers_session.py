"""The session checker on hand-written histories: a session that moves and survives, and for
each rule a history that breaks it, with the events the counterexample must name."""

import unittest

from baton_chaos.checkers import session
from checkers_support import History, VerdictAsserts, fault

SID = "5f" * 16


def opened(h, t0=0.0, t1=0.01, process="sess-1", node="d1"):
    return h.op(process, "open", t0, t1, {"user": process},
                {"id": SID, "token_id": "aaa", "owner": node, "epoch": 1}, node=node)


def write(h, t0, t1, seq, outcome="ok", process="sess-1", node="d1"):
    result = {"id": SID, "seq": seq, "state_version": seq}
    if outcome != "ok":
        result = {"id": SID, "seq": seq, "error": "MOVED to node d2"}
    return h.op(process, "write", t0, t1, {"id": SID, "seq": seq}, result, outcome, node)


def read(h, t0, t1, seq, epoch=None, owner=None, process="sess-1", node="d1"):
    result = {"id": SID, "seq": seq, "state_version": 1}
    if epoch is not None:
        result.update(epoch=epoch, owner=owner)
    return h.op(process, "read", t0, t1, {"id": SID}, result, node=node)


def resume(h, t0, t1, epoch, seq, owner="d2", final=False, outcome="ok", process="sess-1"):
    result = {"id": SID, "owner": owner, "epoch": epoch, "seq": seq, "state_version": 1,
              "token_id": "bbb"}
    if outcome != "ok":
        result = {"id": SID, "token_id": "aaa", "error": "REFUSED used already"}
    return h.op(process, "resume", t0, t1, {"id": SID, "token_id": "aaa", "final": final},
                result, outcome, node=owner)


def moved_session():
    h = History("session")
    opened(h)
    write(h, 0.1, 0.11, 1)
    read(h, 0.2, 0.21, 1, epoch=1, owner="d1")
    h.event(0.3, "sess-1", "handoff-out", {"id": SID, "target": "d2", "token_id": "ccc"}, "d1")
    write(h, 0.35, 0.36, 2, outcome="fail")  # MOVED: certainly not written
    resume(h, 0.4, 0.41, 2, 1)
    write(h, 0.5, 0.51, 2, node="d2")
    read(h, 0.5, 0.6, 1, node="d2")  # concurrent with the write: may miss it
    resume(h, 5.0, 5.01, 3, 2, owner="d1", final=True)
    return h


class SessionCheckerTest(VerdictAsserts, unittest.TestCase):
    def test_empty_history_is_valid_and_says_so(self):
        verdict = session.check([], [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["skipped"], ["no session operations"])

    def test_a_moved_session_passes(self):
        verdict = session.check(moved_session().events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["final_resumes"], 1)
        self.assertEqual(verdict["checked"]["writes"], 2)

    def test_a_refused_final_resume_is_a_lost_session(self):
        h = History("session")
        start = opened(h)
        moved = h.event(0.3, "sess-1", "handoff-out", {"id": SID, "target": "d2",
                                                      "token_id": "ccc"}, "d1")
        last = resume(h, 0.4, 0.41, 2, 0)
        final = resume(h, 5.0, 5.01, 3, 0, final=True, outcome="fail")
        verdict = session.check(h.events(), [], {})
        found = self.assertViolation(verdict, session.LOST, start + [moved] + last + final)
        self.assertIn(SID, found["message"])
        self.assertIn("REFUSED", found["message"])

    def test_a_closed_session_may_refuse_its_final_resume(self):
        h = History("session")
        opened(h)
        h.op("sess-1", "close", 0.2, 0.21, {"id": SID}, {"id": SID, "closed": 1})
        resume(h, 5.0, 5.01, 3, 0, final=True, outcome="fail")
        self.assertValid(session.check(h.events(), [], {}))

    def test_a_final_resume_after_data_loss_is_exempt(self):
        h = History("session")
        opened(h)
        resume(h, 5.0, 5.01, 3, 0, final=True, outcome="fail")
        verdict = session.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "1 refused final resume(s) exempt")

    def test_a_timed_out_final_resume_is_not_proof(self):
        h = History("session")
        opened(h)
        resume(h, 5.0, 7.0, 3, 0, final=True, outcome="info")
        verdict = session.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "unknown outcome")

    def test_a_read_missing_an_acknowledged_write(self):
        h = History("session")
        opened(h)
        acked = write(h, 0.1, 0.11, 1)
        stale = read(h, 0.2, 0.21, None)  # no state: seq 0
        verdict = session.check(h.events(), [], {})
        self.assertViolation(verdict, session.WRITE_LOST, acked + stale)
        self.assertOnlyRules(verdict, session.WRITE_LOST)

    def test_a_resume_missing_an_acknowledged_write(self):
        h = History("session")
        opened(h)
        acked = write(h, 0.1, 0.11, 2)
        stale = resume(h, 0.2, 0.21, 2, 1)
        verdict = session.check(h.events(), [], {})
        self.assertViolation(verdict, session.WRITE_LOST, acked + stale)

    def test_writes_lost_across_data_loss_are_exempt(self):
        h = History("session")
        opened(h)
        write(h, 0.1, 0.11, 1)
        read(h, 5.0, 5.01, 0)
        verdict = session.check(h.events(), [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)], {})
        self.assertValid(verdict)
        self.assertSkipped(verdict, "after a data-loss window")

    def test_state_never_written_is_phantom(self):
        h = History("session")
        opened(h)
        sent = write(h, 0.1, 0.11, 1)
        invented = read(h, 0.2, 0.21, 4)
        verdict = session.check(h.events(), [], {})
        self.assertViolation(verdict, session.PHANTOM, sent + invented)
        self.assertOnlyRules(verdict, session.PHANTOM)

    def test_a_write_whose_answer_was_lost_may_show(self):
        h = History("session")
        opened(h)
        write(h, 0.1, 3.0, 1, outcome="info")
        read(h, 0.2, 0.21, 1)
        self.assertValid(session.check(h.events(), [], {}))

    def test_two_owners_of_one_epoch(self):
        h = History("session")
        opened(h)
        first = resume(h, 0.2, 0.21, 2, 0, owner="d2")
        second = read(h, 0.3, 0.31, 0, epoch=2, owner="d3")
        verdict = session.check(h.events(), [], {})
        self.assertViolation(verdict, session.ONE_OWNER, first + second)
        self.assertOnlyRules(verdict, session.ONE_OWNER)

    def test_a_handoff_names_both_owners(self):
        h = History("session")
        opened(h)
        h.event(0.3, "sess-1", "handoff-out", {"id": SID, "from": "d1", "target": "d2",
                                               "epoch": 2, "token_id": "ccc"}, "d1")
        resume(h, 0.4, 0.41, 3, 0, owner="d3")
        self.assertValid(session.check(h.events(), [], {}))

    def test_a_handoff_by_a_node_that_no_longer_owned_the_session(self):
        h = History("session")
        opened(h)
        moved = resume(h, 0.2, 0.21, 2, 0, owner="d2")  # the client failed over to d2
        stale = h.event(0.3, "sess-1", "handoff-out", {"id": SID, "from": "d1", "target": "d3",
                                                       "epoch": 3, "token_id": "ccc"}, "d1")
        verdict = session.check(h.events(), [], {})
        found = self.assertViolation(verdict, session.ONE_OWNER, moved + [stale])
        self.assertIn("so d1 owned epoch 2", found["message"])

    def test_an_answer_older_than_a_pushed_move(self):
        h = History("session")
        opened(h)
        pushed = h.event(0.3, "sess-1", "handoff-out", {"id": SID, "from": "d1", "target": "d2",
                                                        "epoch": 2, "token_id": "ccc"}, "d1")
        older = read(h, 0.5, 0.51, 0, epoch=1, owner="d1")
        verdict = session.check(h.events(), [], {})
        self.assertViolation(verdict, session.EPOCH_BACK, [pushed] + older)

    def test_an_epoch_going_back(self):
        h = History("session")
        opened(h)
        newer = resume(h, 0.2, 0.21, 3, 0, owner="d2")
        older = read(h, 0.3, 0.31, 0, epoch=2, owner="d2")
        verdict = session.check(h.events(), [], {})
        self.assertViolation(verdict, session.EPOCH_BACK, newer + older)
        self.assertOnlyRules(verdict, session.EPOCH_BACK)

    def test_epochs_across_data_loss_are_exempt(self):
        h = History("session")
        opened(h)
        resume(h, 0.2, 0.21, 3, 0, owner="d2")
        read(h, 5.0, 5.01, 0, epoch=2, owner="d3")
        faults = [fault(1, "redis-kill", 1.0, 2.0, data_loss=True)]
        self.assertValid(session.check(h.events(), faults, {}))

    def test_odd_input_is_counted_not_fatal(self):
        h = moved_session()
        h.op("sess-2", "open", 6.0, None, {"user": "sess-2"}, outcome=None)
        h.op("sess-2", "read", 6.1, 6.2, {}, {"seq": "x"})
        h.op("sess-2", "read", 6.3, 6.4, {"id": SID}, {"id": SID, "seq": 2, "epoch": "?"})
        h.event(6.5, "sess-1", "unknown-token", {"id": SID})
        verdict = session.check(h.events(), [], {})
        self.assertValid(verdict)
        self.assertEqual(verdict["checked"]["incomplete"], 1)
        self.assertEqual(verdict["checked"]["unknown"], 1)


if __name__ == "__main__":
    unittest.main()
