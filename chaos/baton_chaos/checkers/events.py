"""Checks the events workload (HISTORY.md, "events"): a reader that moves between daemons
with its last id sees the topic's events in id order, each once, and none missing: every
published event (acknowledged, or of unknown outcome and found by any reader) whose id lies
between the first and the last id a reader saw is among what that reader saw, and a reader
that caught up at the end saw every event acknowledged before; a number sent again after a
lost answer (with its DEDUP key) is in the topic once. What spans a data-loss window
is exempt, and counted."""

from .common import LossWindows, Verdict, collect, integer, label, number

OUT_OF_ORDER = "events out of order or twice"
GAP = "event missed"
WRONG = "event with another payload"
TWICE = "event published twice under one DEDUP key"


def id_key(event_id):
    """Stream ids compare as (ms, seq)."""
    try:
        ms, seq = str(event_id).split("-")
        return int(ms), int(seq)
    except ValueError:
        return None


def check(history, faults, config):
    load = collect(history, "events", ("caught-up",))
    verdict = Verdict("events", ("published", "unknown_publishes", "reads", "events_read",
                                 "unknown", "malformed", "incomplete"))
    if not load:
        verdict.skip("no events operations")
        return verdict.result()
    publishes = load.of("publish")
    acked = [op for op in publishes if op.ok and id_key(op.result.get("id"))]
    reads = [op for op in load.of("read") if op.ok]
    verdict.count("published", len(acked))
    verdict.count("unknown_publishes", sum(1 for op in publishes if op.type == "info"))
    verdict.count("reads", len(reads))
    verdict.count("unknown", load.unknown(("publish", "read"), ("caught-up",)))
    verdict.count("malformed", load.malformed)
    verdict.count("incomplete", load.incomplete)
    losses = LossWindows(faults)
    verdict.measured["exempt_data_loss"] = 0

    # What was published, by id: acknowledged ones, and any a reader saw (an unknown outcome
    # that landed).
    payload_of = {id_key(op.result["id"]): (integer(op.args.get("value")), op) for op in acked}
    by_reader = {}
    for read in reads:
        for item in read.result.get("events") or ():
            if not isinstance(item, list) or len(item) != 2 or id_key(item[0]) is None:
                continue
            by_reader.setdefault(read.process, []).append((id_key(item[0]), item[1], read))
    verdict.count("events_read", sum(len(v) for v in by_reader.values()))
    # Events of unknown outcome that landed (some reader saw them) count as published.
    for seen in by_reader.values():
        for k, value, read in seen:
            payload_of.setdefault(k, (integer(value), read))
    # A number sent again with its DEDUP key after a lost answer is in the topic once.
    ids_of_value = {}
    for k, (value, pub) in payload_of.items():
        ids_of_value.setdefault(value, []).append((k, pub))
    for value, found in sorted(ids_of_value.items(), key=lambda kv: str(kv[0])):
        if value is None or len(found) < 2:
            continue
        found.sort(key=lambda kp: kp[0])
        (k1, p1), (k2, p2) = found[0], found[1]
        if losses.touching(min(p1.t0, p2.t0), max(p1.t1, p2.t1)):
            continue
        verdict.violate(TWICE, f"number {value} is in the topic as {k1} and as {k2}", [p1, p2])
    caught_up = {}
    for event in load.events_of("caught-up"):
        caught_up[label(event.get("process"))] = event
    for reader, seen in sorted(by_reader.items()):
        for (a, _, ra), (b, _, rb) in zip(seen, seen[1:]):
            if b <= a and not losses.touching(ra.t0, rb.t1):
                verdict.violate(OUT_OF_ORDER, f"{reader} saw event {b} after {a}", [ra, rb])
                break
        ids = {k for k, _, _ in seen}
        for k, value, read in seen:
            known = payload_of.get(k)
            if known and known[0] != integer(value):
                verdict.violate(WRONG, f"{reader} saw event {k} as {value}, published as "
                                f"{known[0]}", [known[1], read])
        first, last = seen[0][0], seen[-1][0]
        end = caught_up.get(reader)
        # Readers start from "0": nothing published may come before the first they saw.
        from_start = str(seen[0][2].args.get("after")) == "0"
        for k, (value, pub) in sorted(payload_of.items()):
            before_end = (end is not None and pub.f == "publish" and pub.ok and
                          pub.t1 < number(end.get("t")) and k > last)
            if (first < k < last or before_end or (from_start and k < first)) and k not in ids:
                if losses.touching(pub.t0, seen[-1][2].t1):
                    verdict.measured["exempt_data_loss"] += 1
                    continue
                verdict.violate(GAP, f"{reader} saw events {first} to {last} but not {k} "
                                f"({value}), published by {pub.describe()}",
                                [pub] + ([end] if before_end else []))
    verdict.skip_counted("exempt_data_loss", GAP,
                         "event(s) exempt, a data-loss window lies between publish and read")
    return verdict.result()
