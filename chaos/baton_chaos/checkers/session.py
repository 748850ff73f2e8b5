"""Checks the session workload (HISTORY.md, "session"): a session survives every fault (its
final resume works), acknowledged state is never lost nor invented, and the owner epoch, the
fencing token of ownership, names one owner and never goes back. Sessions live in Redis, so
what spans a data-loss window is exempt, except invented state, which no loss explains.

On a Sentinel group session state is not WAITed for (STATE SET is the app's own data,
redis/durable_scripts.hpp): a state write acknowledged in a failover window may be lost, so it
is not held against later reads; every write acknowledged outside one still is, across the
failover. Opens, resumes and moves are WAITed for: sessions and owners are judged as ever."""

from collections import defaultdict
from dataclasses import dataclass

from .common import (INF, LossWindows, Verdict, collect, earlier_best, failover_windows, fmt_t,
                     integer, label, value_of)

OP_FS = ("open", "write", "read", "resume", "close")
EVENT_FS = ("handoff-out", "handoff-in")
LOST = "session lost"
WRITE_LOST = "acknowledged write lost"
PHANTOM = "phantom state"
ONE_OWNER = "one owner per epoch"
EPOCH_BACK = "epochs never go back"


def check(history, faults, config):
    load = collect(history, "session", EVENT_FS)
    verdict = Verdict("session", ("sessions", "writes", "reads", "resumes", "final_resumes",
                                  "closes", "handoffs", "unknown", "malformed", "incomplete"))
    if not load:
        verdict.skip("no session operations")
        return verdict.result()
    ops_of, handoffs_of = defaultdict(list), defaultdict(list)
    for op in load.ops:
        if op.ident("id") is not None:
            ops_of[str(op.ident("id"))].append(op)
    for event in load.events_of("handoff-out"):
        handoffs_of[str(value_of(event).get("id"))].append(event)
    verdict.count("sessions", sum(1 for op in load.of("open") if op.ok))
    for key, f in (("writes", "write"), ("reads", "read"), ("resumes", "resume"),
                   ("closes", "close")):
        verdict.count(key, sum(1 for op in load.of(f) if op.ok))
    verdict.count("final_resumes", sum(1 for op in load.of("resume") if is_final(op)))
    verdict.count("handoffs", len(load.events_of("handoff-out")))
    verdict.count("unknown", load.unknown(OP_FS, EVENT_FS))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)

    losses = LossWindows(faults)
    failovers = failover_windows(faults)
    verdict.measured.update(final_unknown=0, final_exempt=0, reads_after_loss=0,
                            owner_exempt=0)
    if failovers:
        verdict.measured["writes_in_failover"] = 0
    for sid, ops in sorted(ops_of.items()):
        check_final(verdict, sid, ops, handoffs_of[sid], losses)
        check_state(verdict, sid, ops, losses, failovers)
        check_owners(verdict, sid, ops, handoffs_of[sid], losses)
    verdict.skip_counted("final_unknown", LOST,
                         "final resume(s) had an unknown outcome (timeout): not proof of loss")
    verdict.skip_counted("final_exempt", LOST,
                         "refused final resume(s) exempt, a data-loss window began after the "
                         "session opened")
    verdict.skip_counted("reads_after_loss", WRITE_LOST,
                         "read/resume answer(s) after a data-loss window compared only with what "
                         "followed it")
    verdict.skip_counted("writes_in_failover", WRITE_LOST,
                         "state write(s) acknowledged in a failover window not held against "
                         "later reads (not WAITed for: a failover may lose them)")
    verdict.skip_counted("owner_exempt", ONE_OWNER,
                         "answer(s) during a data-loss window not compared, nor answers across one")
    return verdict.result()


def is_final(op):
    return op.f == "resume" and op.args.get("final") is True


def seq_of(op):
    """The session's state as answered (null state counts as seq 0), or None if absent."""
    if "seq" not in op.result:
        return None
    return 0 if op.result["seq"] is None else integer(op.result["seq"])


def written_seq(op):
    return integer(op.ident("seq"))


def epoch_of(op):
    return integer(op.result.get("epoch"))


def check_final(verdict, sid, ops, handoffs, losses):
    opened = next((op for op in ops if op.f == "open" and op.ok), None)
    for final in (op for op in ops if is_final(op)):
        if final.ok:
            continue
        if final.type == "info":
            verdict.measured["final_unknown"] += 1
            continue
        if any(op.f == "close" and op.type != "fail" and op.t0 < final.t1 for op in ops):
            continue  # closed, or maybe closed (its answer was lost): refusal is right
        if losses.touching(opened.t0 if opened else -INF, INF):
            verdict.measured["final_exempt"] += 1
            continue
        before = [op for op in ops if op.f == "resume" and op is not final and op.t1 < final.t0]
        last_resume = max(before, key=lambda op: op.t1, default=None)
        moved = [e for e in handoffs if e["t"] < final.t0]
        last_handoff = moved[-1] if moved else None
        history = [opened.describe() if opened else "no open in the history"]
        history += [last_resume.describe()] if last_resume else []
        history += ([f"handoff-out to {value_of(last_handoff).get('target')} at "
                     f"{fmt_t(last_handoff['t'])}"] if last_handoff else [])
        verdict.violate(LOST, f"session {sid} was lost: the final {final.describe()} was "
                        f"refused ({final.result.get('error')}); before: {'; '.join(history)}",
                        [op for op in (opened, last_resume, final) if op]
                        + ([last_handoff] if last_handoff else []))


def check_state(verdict, sid, ops, losses, failovers=None):
    writes = [op for op in ops if op.f == "write" and integer(op.ident("seq")) is not None]
    acked = [op for op in writes if op.ok]
    if failovers:
        fragile = [op for op in acked if failovers.touching(op.t0, op.t1)]
        verdict.measured["writes_in_failover"] += len(fragile)
        acked = [op for op in acked if op not in fragile]
    readers = [op for op in ops if op.f in ("read", "resume") and op.ok and seq_of(op) is not None]
    verdict.measured["reads_after_loss"] += sum(1 for r in readers if losses.floor(r.t1) > -INF)
    for reader, write in earlier_best(acked, readers, written_seq, losses):
        if write is not None and seq_of(reader) < written_seq(write):
            verdict.violate(WRITE_LOST, f"session {sid}: {reader.describe()} answered seq "
                            f"{seq_of(reader)}, but {write.describe()} had acknowledged seq "
                            f"{written_seq(write)} before it was asked", [write, reader])
    # Invented state: more than any write sent before the answer came back.
    sent = sorted(writes, key=lambda op: op.t0)
    highest, index = None, 0
    for reader in sorted(readers, key=lambda op: op.t1):
        while index < len(sent) and sent[index].t0 < reader.t1:
            if highest is None or written_seq(sent[index]) > written_seq(highest):
                highest = sent[index]
            index += 1
        if seq_of(reader) > (written_seq(highest) if highest else 0):
            basis = (f"the highest write sent by then was seq {written_seq(highest)} "
                     f"({highest.describe()})" if highest else "no write had been sent")
            verdict.violate(PHANTOM, f"session {sid}: {reader.describe()} answered seq "
                            f"{seq_of(reader)}, but {basis}", [highest, reader] if highest
                            else [reader])


@dataclass
class Claim:
    """Who owned a session at which epoch, and the evidence: an ok answer (during its
    interval), or a handoff-out push (by the time it was pushed)."""
    t0: float
    t1: float
    owner: object
    epoch: int
    evidence: object
    text: str

    def describe(self):
        return self.text


def claims_of(ops, handoffs):
    """(answers, moves): owners the session's ok answers named, and the owners each
    handoff-out implies. A move is fenced and adds one to the epoch (lua/session_move.lua),
    so the pushing node owned epoch - 1 and the target owns epoch."""
    answers = [Claim(op.t0, op.t1, label(op.result.get("owner")), epoch_of(op), op,
                     op.describe()) for op in ops
               if op.f in ("open", "resume", "read") and op.ok and epoch_of(op) is not None]
    moves = []
    for event in handoffs:
        value, t = value_of(event), event["t"]
        epoch, pusher = integer(value.get("epoch")), label(value.get("from", event.get("node")))
        if epoch is None:
            continue
        text = (f"the handoff-out {pusher} pushed at {fmt_t(t)}, moving it to "
                f"{value.get('target')} at epoch {epoch}")
        moves.append(Claim(t, t, label(value.get("target")), epoch, event, text))
        moves.append(Claim(t, t, pusher, epoch - 1, event,
                           f"{text}, so {pusher} owned epoch {epoch - 1}"))
    return answers, moves


def check_owners(verdict, sid, ops, handoffs, losses):
    answers, moves = claims_of(ops, handoffs)
    first = {}
    for claim in sorted(answers + moves, key=lambda c: c.t1):
        stretch = losses.epoch(claim.t0, claim.t1)
        if stretch is None:
            verdict.measured["owner_exempt"] += 1
            continue
        earlier = first.setdefault((stretch, claim.epoch), claim)
        if earlier.owner != claim.owner:
            verdict.violate(ONE_OWNER, f"session {sid} epoch {claim.epoch} had two owners: "
                            f"{earlier.owner} ({earlier.describe()}) and {claim.owner} "
                            f"({claim.describe()})", [earlier.evidence, claim.evidence])
    # A push tells of a move already made, but not when: it only bounds later answers.
    targets = moves[0::2]
    for claim, best in earlier_best(answers + targets, answers, lambda c: c.epoch, losses):
        if best is not None and claim.epoch < best.epoch:
            verdict.violate(EPOCH_BACK, f"session {sid}: {claim.describe()} answered epoch "
                            f"{claim.epoch} (owner {claim.owner}) after {best.describe()} had "
                            f"answered epoch {best.epoch} (owner {best.owner})",
                            [best.evidence, claim.evidence])
