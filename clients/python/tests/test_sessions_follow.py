#!/usr/bin/python3
"""The typed Python client's followers and the families that need two daemons, against two
real batonds (a, b) on one private redis-server: circuit breakers (`breaker().run()`: ok, fail,
slow, an exception outside `fails_on`, then Open without running), the secret watcher (a
rotation made through a reaches b's watcher, which keeps the value), elections (campaign with
its term, the leader, an observer on the other daemon, a second candidate denied then leading
after a resign, and a leadership lost when its daemon hangs), and sessions (every SESSION verb
as dataclasses; a follower on a hears NODE DRAIN's handoff-out with b's address and a token, a
follower on b the handoff-in, and the resume on b brings the state). Usage:
test_sessions_follow.py BATOND"""
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.dirname(HERE)  # clients/python
sys.path.insert(0, LIBRARY)
sys.path.insert(0, os.path.join(LIBRARY, "..", "..", "tests", "support"))
from local_fleet import (Checks, free_port, raised, start_batond, start_redis, stop_all,  # noqa: E402
                         until)

import baton  # noqa: E402
from baton import (Baton, Denied, Draining, HandoffIn, HandoffOut, Lost, Moved,  # noqa: E402
                   Open, OtherError, Refused)

batond = sys.argv[1]
work = tempfile.mkdtemp(prefix="baton-pyfollow-")
procs = []
check = Checks()


def waited_for(what, predicate, limit=10.0):
    """`until` that answers None instead of raising, so that a check can report it."""
    try:
        return until(what, predicate, limit=limit)
    except RuntimeError:
        return None


def counts(name):
    """This host's window of a breaker: (calls, failures, slow)."""
    fields = baton._replies.as_fields(a.command("BREAKER", "STATE", name))
    return tuple(baton._replies.as_int(fields[k]) for k in ("calls", "failures", "slow"))


# -- the parts ------------------------------------------------------------------------------

def pure_judges():
    """What the watching threads decide, without daemons: which events end a holding."""
    from baton.elect import LeaderEvent, leadership_loss
    from baton.leases import LeaseEvent, lease_event_from, lease_loss
    from baton.sessions import handoff_from_payload, handoff_from_push
    ours = 100
    verdicts = {(kind, token): lease_loss(LeaseEvent(kind, token, "n"), ours) is not None
                for kind in ("acquired", "released", "expired", "lost")
                for token in (ours - 1, ours, ours + 1)}
    check("lease_loss: lost/expired/released of our token and a later acquired are losses; "
          "an earlier holder's events and our own acquired are not",
          {k for k, lost in verdicts.items() if lost}
          == {("lost", ours), ("expired", ours), ("released", ours), ("acquired", ours + 1)},
          repr(verdicts))
    check("lease_event_from reads a lease:<name> message, skips a confirmation",
          lease_event_from([b"message", b"lease:x", b"acquired 42 node-1"])
          == LeaseEvent("acquired", 42, "node-1")
          and lease_event_from([b"subscribe", b"lease:x", 1]) is None)
    terms = {(kind, term): leadership_loss(LeaderEvent(kind, "g", term, "n", "c"), ours)
             is not None for kind in ("leader", "vacant", "lost")
             for term in (ours - 1, ours, ours + 1)}
    check("leadership_loss: lost/vacant of our term and a later leader are losses",
          {k for k, lost in terms.items() if lost}
          == {("lost", ours), ("vacant", ours), ("leader", ours + 1)}, repr(terms))
    check("handoff parsers: an admin's handoff-out has no token; SESSION WATCH's push reads "
          "the same as the channel's message",
          handoff_from_payload(b"handoff-out id1 n2 host:1").token is None
          and handoff_from_push([b"session", b"handoff-out", b"id1", b"n2", b"host:1", b"t"])
          == HandoffOut("id1", "n2", "host:1", "t"))


def breakers():
    pay = a.breaker("py-pay")
    check("run() of a closed breaker answers the call's result and reports ok",
          pay.run(lambda: "paid") == "paid" and counts("py-pay") == (1, 0, 0),
          repr(counts("py-pay")))

    def failing():
        raise ConnectionRefusedError("the dependency is down")

    error = raised(lambda: pay.run(failing))
    check("a call that raises: its exception propagates, reported as a failure",
          isinstance(error, ConnectionRefusedError) and counts("py-pay") == (2, 1, 0),
          repr((error, counts("py-pay"))))
    check("a call past slow_call_ms (300) is reported with its duration: slow",
          pay.run(lambda: time.sleep(0.35) or 7) == 7 and counts("py-pay") == (3, 1, 1),
          repr(counts("py-pay")))
    picky = a.breaker("py-pay", fails_on=(ConnectionError,))
    error = raised(lambda: picky.run(lambda: {}["missing"]))
    check("an exception outside fails_on propagates and counts as ok (the dependency "
          "answered)", isinstance(error, KeyError) and counts("py-pay") == (4, 1, 1),
          repr((error, counts("py-pay"))))
    for _ in range(3):
        raised(lambda: pay.run(failing))
    ran = []
    refused = raised(lambda: pay.run(lambda: ran.append(1)))
    check("three failures in a window of 4 trip it: run() raises Open and does not call",
          isinstance(refused, Open) and not ran and refused.decision.state == "open"
          and not refused.decision.allowed and refused.decision.next_probe_ms > 0
          and refused.name == "py-pay", repr((refused, ran)))
    decision = b.breaker_check("py-pay")
    check("a local breaker is open on its own host only",
          decision.allowed and decision.state == "closed" and not decision.fleet,
          repr(decision))
    unknown = raised(lambda: a.breaker("py-none").run(lambda: None))
    check("a breaker no policy names: OtherError (ERR), nothing run",
          isinstance(unknown, OtherError) and "unknown breaker" in str(unknown), repr(unknown))


def secret_watcher():
    a.command("SECRET", "PUT", "py/api-key", "first")
    rotations = []
    with b.watch_secret("py/api-key", on_rotated=rotations.append) as watcher:
        check("watch_secret holds the current value at once",
              watcher.value == b"first" and watcher.current is not None
              and watcher.current.state == "current" and not rotations,
              repr((watcher.current, rotations)))
        a.command("SECRET", "PUT", "py/api-key", "second")  # through the other daemon
        got = waited_for("the rotation", lambda: rotations)
        check("a PUT through the other daemon reaches the watcher: on_rotated with the new "
              "version, value kept", got is not None and len(rotations) == 1
              and rotations[0].value == b"second" and watcher.value == b"second"
              and rotations[0].version > 1, repr((rotations, watcher.current)))
    with b.watch_secret("py/later") as absent:
        check("a watcher of a secret not PUT yet holds None", absent.current is None)
        a.command("SECRET", "PUT", "py/later", "now")
        check("... and its first PUT once it comes",
              waited_for("the first PUT", lambda: absent.value == b"now") is not None,
              repr(absent.current))
    check("closed watchers stop", not watcher.alive and not absent.alive)


def elections():
    check("leader() of a group nobody leads is None", a.leader("py-group") is None)
    changes = []
    observer = b.observe_leaders("py-group", on_change=changes.append)  # the other daemon
    first = waited_for("the observer's first event", lambda: changes)
    check("an observer first hears the leader now: vacant, term 0",
          first is not None and changes[0].event == "vacant" and changes[0].term == 0
          and changes[0].group == "py-group", repr(changes))
    with a.campaign("py-group", "alpha", ttl_ms=3000) as alpha:
        check("campaign answers a Leadership with a term", alpha.term > 0
              and alpha.candidate == "alpha" and not alpha.lost.is_set(), repr(alpha))
        leader = b.leader("py-group")
        check("leader() on any daemon names it", leader is not None
              and leader.candidate == "alpha" and leader.node == "py-a"
              and leader.term == alpha.term and leader.remaining_ms > 0, repr(leader))
        heard = waited_for("the observer hearing alpha",
                           lambda: [c for c in changes if c.event == "leader"])
        check("the observer on the other daemon hears alpha lead under its term",
              heard is not None and heard[0].term == alpha.term
              and heard[0].candidate == "alpha" and heard[0].node == "py-a", repr(changes))
        denied = raised(lambda: b.campaign("py-group", "beta", timeout_ms=300))
        check("a second candidate with a timeout is Denied", isinstance(denied, Denied),
              repr(denied))
        results, lost_reasons = {}, []
        beta_thread = threading.Thread(target=lambda: results.update(
            beta=b.campaign("py-group", "beta", ttl_ms=2000, timeout_ms=10_000,
                            on_lost=lost_reasons.append)))
        beta_thread.start()
        time.sleep(0.3)  # not an assertion: gives beta time to queue before alpha resigns
    beta_thread.join(15)
    beta = results.get("beta")
    check("after alpha's block ends (resign), the waiting candidate leads under a later term",
          beta is not None and beta.term > alpha.term and not alpha.lost.is_set(),
          repr((beta, alpha)))
    seen = waited_for("the observer hearing beta",
                      lambda: [c for c in changes if c.candidate == "beta"])
    check("the observer hears alpha's term end (vacant), then beta lead",
          seen is not None and [(c.event, c.candidate) for c in changes[1:]]
          == [("leader", "alpha"), ("vacant", "alpha"), ("leader", "beta")], repr(changes))
    if beta is None:
        observer.close()
        return

    # The leader's daemon hangs: beta's watch connection goes silent and beta is told.
    os.kill(batond_b.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        told = beta.lost.wait(10)
        took = time.monotonic() - stopped_at
    finally:
        os.kill(batond_b.pid, signal.SIGCONT)
    check("the leader's daemon hangs: lost within the TTL (2 s, +0.5 s of slack), check() "
          "raises Lost, on_lost says why",
          told and took <= 2.5 and isinstance(raised(beta.check), Lost)
          and len(lost_reasons) == 1 and "answered nothing" in lost_reasons[0],
          f"{took:.2f} s, {lost_reasons!r}")
    at_exit = raised(lambda: beta.__exit__(None, None, None))
    gone = waited_for("beta's term to end", lambda: (lambda leader: leader is None or (
        leader.term != beta.term))(b.leader("py-group")) or None)
    check("... and leaving the block after a loss resigns quietly (the loss was told), the "
          "term ends", at_exit is None and gone is not None,
          repr((at_exit, b.leader("py-group"))))
    observer.close()
    check("a closed observer stops", not observer.alive)
    until("py-b to serve again", lambda: b.ping())


def sessions():
    opened = a.session_open("py-user", ttl_ms=60_000, meta='{"plan": "pro"}')
    check("session_open: an id, a v1 token, owner and epoch 1",
          len(opened.id) == 32 and opened.token.startswith("v1.") and opened.owner == "py-a"
          and opened.epoch == 1 and opened.ttl_ms == 60_000, repr(opened))
    version = a.session_state_set(opened.id, b"cart=3\x00")
    got = b.session_get(opened.id)
    check("session_get on any daemon: the user, meta and state version",
          got is not None and got.user == "py-user" and got.meta == '{"plan": "pro"}'
          and got.owner == "py-a" and got.state_version == version == 1
          and 0 < got.expires_in_ms <= 60_000, repr(got))
    state = a.session_state(opened.id)
    check("session_state: the blob as bytes", state.state == b"cart=3\x00"
          and state.state_version == 1, repr(state))
    touched = a.session_touch(opened.id)
    check("session_touch: owner, epoch and ttl", touched is not None
          and touched.owner == "py-a" and touched.ttl_ms == 60_000, repr(touched))
    listed = a.session_list("py-user")
    check("session_list: the user's sessions", [s.id for s in listed] == [opened.id],
          repr(listed))
    check("get and touch of a session that does not exist: None",
          a.session_get("0" * 32) is None and a.session_touch("0" * 32) is None)

    arrivals = []
    with a.follow_sessions() as leaving, b.follow_sessions(on_handoff=arrivals.append):
        drained = a.command("NODE", "DRAIN")
        handoff = leaving.next_handoff(timeout_s=15)
        check("NODE DRAIN: the follower on the draining daemon gets HandoffOut with b's "
              "address and a token",
              isinstance(handoff, HandoffOut) and handoff.id == opened.id
              and handoff.target_node == "py-b" and handoff.target_address == "py-b"
              and (handoff.token or "").startswith("v1."), repr((handoff, drained)))
        came = waited_for("the handoff-in on b", lambda: arrivals)
        check("... the follower on the target gets HandoffIn from a",
              came is not None and arrivals == [HandoffIn(id=opened.id, from_node="py-a")],
              repr(arrivals))
    token = handoff.token if isinstance(handoff, HandoffOut) and handoff.token else "none"
    resumed = sockets[getattr(handoff, "target_address", "py-b")].session_resume(token)
    check("session_resume on the target with the pushed token brings the state",
          resumed.id == opened.id and resumed.owner == "py-b" and resumed.state == b"cart=3\x00"
          and resumed.user == "py-user" and resumed.token.startswith("v1.")
          and resumed.token != token, repr(resumed))
    check("the old owner may not write any more: Moved",
          isinstance(raised(lambda: a.session_state_set(opened.id, "x")), Moved))
    check("the spent token is Refused",
          isinstance(raised(lambda: b.session_resume(token)), Refused))
    check("a draining daemon refuses session_open: Draining names b",
          isinstance(error := raised(lambda: a.session_open("py-user")), Draining)
          and "py-b" in str(error), repr(error))
    check("session_close: True, then False; then session_get is None",
          b.session_close(opened.id) and not b.session_close(opened.id)
          and b.session_get(opened.id) is None)


began = time.monotonic()
try:
    kek_file = os.path.join(work, "follow.kek")
    with open(kek_file, "w") as f:
        f.write("d1" * 32 + "\n")
    redis_sock = start_redis(work, procs)
    config = (f"secrets:\n  keks:\n    - {{id: d1, file: {kek_file}}}\n"
              "breakers:\n  policies:\n"
              "    - {name: py-pay, window: {calls: 4}, minimum_calls: 4, open_ms: 60000,"
              " slow_call_ms: 300, scope: local}\n")
    _, sock_a, _ = start_batond(batond, work, procs, "py-a", redis_sock, free_port(), config)
    batond_b, sock_b, _ = start_batond(batond, work, procs, "py-b", redis_sock, free_port(),
                                       config)
    a, b = Baton(sock_a), Baton(sock_b)
    sockets = {"py-a": a, "py-b": b}  # a node's address is its id unless configured
    for name, part in [("pure judges", pure_judges), ("breakers", breakers), ("secret watcher", secret_watcher),
                       ("elections", elections), ("sessions", sessions)]:
        check.section(name, part)
    a.close()
    b.close()
finally:
    stop_all(procs)
    shutil.rmtree(work, ignore_errors=True)

print(f"     ({time.monotonic() - began:.1f} s)")
sys.exit(check.exit_code())
