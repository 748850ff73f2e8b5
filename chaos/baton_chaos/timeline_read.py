"""Reads a chaos run for the timeline picture (timeline.py): turns the history (HISTORY.md),
the faults and the checkers' verdicts into bars, marks and series with their tooltips. Input
is untrusted: events or fields that are missing or malformed are skipped, never fatal.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict

from .timeline_canvas import MAX_POLICIES, PLOT_W

# -- values --------------------------------------------------------------------------------

def num(x):
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _val(e) -> dict:
    v = e.get("value")
    return v if isinstance(v, dict) else {}


def compact(v, limit=240) -> str:
    s = json.dumps(v, separators=(",", ":"), default=str)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def fmt_t(t) -> str:
    return "?" if t is None else f"{t:.3f}s"


def daemon_ids(config) -> list:
    d = config.get("daemons")
    if isinstance(d, int) and not isinstance(d, bool):
        return [f"d{i}" for i in range(1, d + 1)]
    if isinstance(d, dict):
        return [str(k) for k in d]
    if isinstance(d, (list, tuple)):
        return [str(x.get("id") or x.get("name")) if isinstance(x, dict) else str(x) for x in d]
    return []


def fault_span(f, t_end):
    start = num(f.get("t_applied"))
    start = num(f.get("t_start")) if start is None else start
    end = num(f.get("t_healed"))
    end = num(f.get("t_heal")) if end is None else end
    return start, end if end is not None else t_end


def end_time(events, faults, config, violations) -> float:
    ends = [num(events[-1]["t"])] if events else []
    for f in faults:
        ends += [num(f.get(k)) for k in ("t_start", "t_applied", "t_heal", "t_healed")]
    ends += [num(config.get("duration_s")), num(config.get("duration"))]
    ends += [v["t"] for v in violations]
    ends = [t for t in ends if t is not None and t > 0]
    return max(ends) if ends else 1.0


# -- what the history says -----------------------------------------------------------------

def violations(verdicts) -> list:
    if isinstance(verdicts, dict):
        verdicts = [verdicts] if "violations" in verdicts or "checker" in verdicts else list(verdicts.values())
    out = []
    for v in verdicts or []:
        if not isinstance(v, dict):
            continue
        for viol in v.get("violations") or []:
            if not isinstance(viol, dict):
                continue
            ts = [num(e.get("t")) for e in viol.get("events") or [] if isinstance(e, dict)]
            ts = [t for t in ts if t is not None]
            if ts:
                out.append({"t": min(ts), "checker": v.get("checker", "?"), "rule": viol.get("rule", "?"),
                            "message": viol.get("message", "")})
    return out


def error_marks(events) -> dict:
    """node -> [(t, "fail"|"info", tooltip)] for every fail and info completion."""
    marks = defaultdict(list)
    for e in events:
        if e.get("type") in ("fail", "info"):
            t, v = num(e["t"]), _val(e)
            what = v.get("error") if v.get("error") is not None else compact(v)
            marks[e.get("node")].append((t, e["type"], f"{fmt_t(t)} {e['type']} {e.get('workload')}/"
                                         f"{e.get('f')} by {e.get('process')} on {e.get('node')}: {what}"))
    return marks


def liveness_marks(events) -> dict:
    marks = defaultdict(list)
    for e in events:
        if e.get("type") == "event" and e.get("f") in ("serving", "not-serving"):
            v, t = _val(e), num(e["t"])
            node = v.get("node", e.get("node"))
            marks[node].append((t, e["f"], f"{fmt_t(t)} {node} {e['f']} after fault {v.get('fault')}"
                                f" ({v.get('after_s')} s after healing)"))
    return marks


def lease_grants(events, t_end) -> dict:
    """name -> bars. A grant's belief runs from acquire ok to the least of its last safe_until,
    its release invoke and its abandon event (HISTORY.md, lease)."""
    invokes, grants = {}, {}
    for e in events:
        if e.get("workload") not in (None, "lease"):
            continue
        typ, f, v, t = e.get("type"), e.get("f"), _val(e), num(e["t"])
        key = (str(v.get("name")), str(v.get("token")))
        if typ == "invoke":
            invokes[e.get("op")] = e
            if f == "release" and key in grants:
                grants[key]["ends"].append((t, "release"))
        elif typ == "ok" and f in ("acquire", "renew"):
            inv = invokes.get(e.get("op"))
            inv_t = num(inv["t"]) if inv else t
            validity = num(v.get("validity_ms"))
            safe = inv_t + validity / 1000 if validity is not None else None
            if f == "acquire" and key not in grants:
                grants[key] = {"name": key[0], "token": key[1], "start": t, "node": e.get("node"),
                               "process": e.get("process"), "safe": safe, "renewals": 0, "ends": []}
            elif f == "renew" and key in grants:
                grants[key]["renewals"] += 1
                grants[key]["safe"] = safe if safe is not None else grants[key]["safe"]
        elif typ == "event" and f == "abandon" and key in grants:
            grants[key]["ends"].append((t, f"abandon ({v.get('reason')})"))
        if typ in ("ok", "fail", "info"):
            invokes.pop(e.get("op"), None)
    lanes = defaultdict(list)
    for g in grants.values():
        ends = list(g["ends"]) + ([(g["safe"], "safe_until")] if g["safe"] is not None else [])
        end, why = min(ends) if ends else (t_end, "still held when the run ended")
        tok = g["token"]
        lanes[g["name"]].append({
            "start": g["start"], "end": max(end, g["start"]), "node": g["node"],
            "label": f"{tok[-6:]} {g['process']}", "short": tok[-6:],
            "attrs": {"class": "grant", "data-lease": g["name"], "data-token": tok},
            "title": (f"lease {g['name']} token {tok}\nby {g['process']} via {g['node']}\n"
                      f"acquired {fmt_t(g['start'])}, belief ends {fmt_t(end)} by {why}\n"
                      f"renewals: {g['renewals']}"
                      + ("\nbelief ran out before the answer arrived" if end < g["start"] else ""))})
    return lanes


def leaders(events, t_end) -> dict:
    """group -> bars: from join ok to the resign invoke, a lost event or the next leader."""
    terms, by_group = {}, defaultdict(list)
    for e in events:
        if e.get("workload") not in (None, "election"):
            continue
        typ, f, v, t = e.get("type"), e.get("f"), _val(e), num(e["t"])
        group, term = str(v.get("group")), str(v.get("term"))
        if typ == "ok" and f == "join" and (group, term) not in terms:
            bar = {"group": group, "term": term, "start": t, "node": e.get("node"),
                   "process": e.get("process"), "ends": []}
            terms[(group, term)] = bar
            by_group[group].append(bar)
        elif typ == "invoke" and f == "resign" and (group, term) in terms:
            terms[(group, term)]["ends"].append((t, "resign"))
        elif typ == "event" and (f == "lost" or v.get("event") == "lost"):
            if (group, term) in terms:
                terms[(group, term)]["ends"].append((t, f"lost (seen by {e.get('process')})"))
            elif v.get("term") is None:   # the leader's own connection may not name the term
                for bar in by_group.get(group, []):
                    if bar["process"] == e.get("process") and bar["start"] <= t:
                        bar["ends"].append((t, "lost"))
    lanes = {}
    for group, bars in by_group.items():
        out = []
        for i, bar in enumerate(bars):
            ends = [x for x in bar["ends"] if x[0] >= bar["start"]]
            nxt = next((b for b in bars[i + 1:] if b["term"] != bar["term"]), None)
            if nxt:
                ends.append((nxt["start"], f"next leader (term {nxt['term']})"))
            end, why = min(ends) if ends else (t_end, "still leader when the run ended")
            out.append({
                "start": bar["start"], "end": end, "node": bar["node"],
                "label": f"{bar['term'][-6:]} {bar['process']}", "short": bar["term"][-6:],
                "attrs": {"class": "leader", "data-group": group, "data-term": bar["term"]},
                "title": (f"election {group} term {bar['term']}\nleader {bar['process']} via {bar['node']}\n"
                          f"from {fmt_t(bar['start'])} to {fmt_t(end)}: {why}")})
        lanes[group] = out
    return lanes


def session_marks(events) -> list:
    """[(t, kind, tooltip)]: handoff-out events, resume oks, failed session operations."""
    marks = []
    for e in events:
        if e.get("workload") not in (None, "session"):
            continue
        typ, f, v, t = e.get("type"), e.get("f"), _val(e), num(e["t"])
        who = f"{e.get('process')} on {e.get('node')}"
        if typ == "event" and f == "handoff-out":
            marks.append((t, "handoff", f"{fmt_t(t)} handoff-out of {v.get('id')} to {v.get('target')}"
                                        f" (token {v.get('token_id')}), told {who}"))
        elif typ == "ok" and f == "resume":
            marks.append((t, "resume", f"{fmt_t(t)} resume ok {v.get('id')}: owner {v.get('owner')} epoch"
                                       f" {v.get('epoch')} seq {v.get('seq')}, by {who}"))
        elif typ == "fail" and e.get("workload") == "session":
            marks.append((t, "fail", f"{fmt_t(t)} session {f} failed ({who}): {v.get('error')}"))
    return marks


def rate_series(events, axis) -> dict:
    """policy -> admissions per bin; a bin is a second, or a pixel column when that is wider."""
    width = max(1.0, axis.t_end / PLOT_W)
    n = int(axis.t_end / width) + 1
    series = {}
    for e in events:
        if e.get("workload") == "rate" and e.get("type") == "ok" and e.get("f") == "check":
            v = _val(e)
            if v.get("allowed") in (1, True, "1"):
                counts = series.setdefault(str(v.get("policy")), [0] * n)
                counts[min(int(num(e["t"]) / width), n - 1)] += 1
    if len(series) > MAX_POLICIES:
        series = {f"all {len(series)} policies": [sum(c) for c in zip(*series.values())]}
    return {"width": width, "series": series}
