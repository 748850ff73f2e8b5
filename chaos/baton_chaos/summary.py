"""The run for a person (summary.txt, chaos/HISTORY.md): how to reproduce it, what faults
it applied and when, how many operations each workload completed, each checker's verdict with
its measured numbers, and every violation with the events that prove it. It reads only
report.json's dict, so it can be rewritten from a saved report. The last line is the verdict.
"""
from __future__ import annotations

import os
import shlex
from collections import Counter

from .summary_tables import as_json, clip, inline, is_scalar, measured_lines, num, scalar, text_table
from .summary_tables import MAX_COLUMNS, MAX_ROWS  # noqa: F401 (re-exported)

MAX_EVENTS = 50    # per violation; a checker's counterexample is normally a handful
CLUSTER_FAILOVERS = ("cluster-failover", "kill-primary", "pause-primary")


def write_summary(report, path):
    """Writes summary_text(report) to `path`; returns `path`."""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="replace") as out:
        out.write(summary_text(report))
    return path


def summary_text(report) -> str:
    report = report if isinstance(report, dict) else {}
    verdicts = _verdicts(report.get("verdicts"))
    faults = [f for f in report.get("faults") or [] if isinstance(f, dict)]
    lines = _header(report, faults)
    lines += _settings(report.get("config"))
    lines += _faults_table(faults)
    lines += _counts(report.get("counts"))
    lines += _failovers(verdicts, faults, report.get("redis"))
    lines += _checkers(verdicts, faults)
    lines += _violations(verdicts)
    lines.append(_verdict_line(report, verdicts, faults))
    return "\n".join(lines) + "\n"


def _verdict_line(report, verdicts, faults) -> str:
    n = sum(len(_list(v.get("violations"))) for v in verdicts)
    valid = report.get("valid")
    if not isinstance(valid, bool):
        valid = all(v.get("valid") is not False for v in verdicts)
    # A violation makes the run invalid whatever `valid` says: the events are the evidence.
    if valid and n == 0:
        return "VERDICT: valid"
    why = [f"{n} violation{'' if n == 1 else 's'}"]
    if report.get("harness_error"):
        why.append("harness error")
    failed = sum(1 for f in faults if f.get("error"))
    if failed:
        why.append(f"{failed} fault{'' if failed == 1 else 's'} failed")
    return f"VERDICT: INVALID ({', '.join(why)})"


# -- sections ------------------------------------------------------------------------------

def _header(report, faults) -> list:
    config = report.get("config") if isinstance(report.get("config"), dict) else {}
    kinds = Counter(str(f.get("kind")) for f in faults)
    mix = next((d[k] for d in (report, config) for k in ("fault_mix", "faults_mix", "nemesis") if d.get(k)), None)
    workloads = report.get("workloads") or sorted(report.get("counts") or {})
    lines = ["baton chaos run", ""]
    rows = [("seed", report.get("seed", "?")),
            ("duration", _duration(report.get("duration_s"))),
            ("daemons", ", ".join(_daemons(config.get("daemons"))) or "?")]
    if report.get("redis"):
        rows.append(("redis", report["redis"]))
    if mix is not None:
        rows.append(("fault mix", mix if isinstance(mix, str) else as_json(mix)))
    rows.append(("faults run", ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "none"))
    if workloads:
        rows.append(("workloads", ", ".join(map(str, workloads)) if isinstance(workloads, list) else workloads))
    if report.get("bugs"):
        rows.append(("bugs", inline(report["bugs"])))
    if report.get("harness_error"):
        rows.append(("HARNESS ERROR", report["harness_error"]))
    command = report.get("command")
    if command:
        rows.append(("reproduce", shlex.join(map(str, command)) if isinstance(command, list) else command))
    if report.get("timeline"):
        rows.append(("timeline", report["timeline"]))
    width = max(len(k) for k, _ in rows)
    return lines + [f"  {k.ljust(width)}  {v}" for k, v in rows] + [""]


def _settings(config) -> list:
    """One line per setting group (the run's config, as the workloads and checkers saw it)."""
    if not isinstance(config, dict):
        return []
    rows = [(str(k), inline(v)) for k, v in config.items() if k != "daemons"]
    if not rows:
        return []
    width = max(len(k) for k, _ in rows)
    return ["settings"] + [f"  {k.ljust(width)}  {v}" for k, v in rows] + [""]


def _faults_table(faults) -> list:
    if not faults:
        return ["faults: none", ""]
    rows = []
    for f in faults:
        applied = _first_num(f, "t_applied", "t_start")
        healed = _first_num(f, "t_healed", "t_heal")
        took = f"{healed - applied:.3f}s" if applied is not None and healed is not None else "-"
        notes = [n for n, on in (("data loss", f.get("data_loss")), ("clock", f.get("clock"))) if on]
        if f.get("failover"):
            took = num(f.get("failover_s"))
            notes.append(f"failover {took:.3f}s" if took is not None else "failover")
            if num(f.get("t_refailover")) is not None:
                notes.append(f"FAILED OVER AGAIN at {num(f['t_refailover']):.3f}")
            if num(f.get("t_demoted")) is not None:
                old = "primary" if f.get("kind") in CLUSTER_FAILOVERS else "master"
                notes.append(f"old {old} a replica at {num(f['t_demoted']):.3f}")
        if f.get("params"):
            notes.append(as_json(f["params"]))
        if f.get("error"):
            notes.append(f"ERROR {clip(str(f['error']), 80)}")
        if f.get("detail"):
            notes.append(clip(str(f["detail"]), 60))
        rows.append([f.get("id", "?"), f.get("kind", "?"), _target(f.get("target")), _t(applied),
                     _t(healed) if healed is not None else "not healed", took, "; ".join(notes)])
    return [f"faults ({len(faults)})"] + text_table(["id", "kind", "target", "applied", "healed", "took", "notes"],
                                               rows, indent=2) + [""]


def _counts(counts) -> list:
    if not isinstance(counts, dict) or not counts:
        return ["operations: none recorded", ""]
    lines = ["operations"]
    for workload in sorted(counts):
        per_f = counts[workload] if isinstance(counts[workload], dict) else {}
        rows = []
        for f in sorted(per_f):
            c = per_f[f] if isinstance(per_f[f], dict) else {}
            rows.append([f, c.get("ok", 0), c.get("fail", 0), c.get("info", 0)])
        lines.append(f"  {workload}")
        lines += text_table(["f", "ok", "fail", "info"], rows, indent=4) if rows else ["    (none)"]
    return lines + [""]


def _failovers(verdicts, faults=(), redis=None) -> list:
    """Per Sentinel or cluster failover: how long it took, and when every daemon answered from Redis
    again (liveness measures it), against the target of the failover time + 1 s."""
    liveness = next((v for v in verdicts if v.get("checker") == "liveness"), {})
    measured = liveness.get("measured") if isinstance(liveness.get("measured"), dict) else {}
    found = measured.get("failovers")
    if not isinstance(found, dict) or not found:
        return []
    rows, missed = [], 0
    for fid, r in found.items():
        if not isinstance(r, dict):
            continue
        stops = r.get("stopped") if isinstance(r.get("stopped"), dict) else {}
        missed += r.get("met") != "yes"
        rows.append([fid, r.get("kind", "?"), _s(r.get("failover_s")),
                     _s(r.get("served_again_s"), "not yet"), _s(r.get("stopped_s")),
                     " ".join(f"{k}={_s(v)}" for k, v in stops.items()),
                     _s(r.get("target_s")), r.get("met", "?")])
    head = ["failovers (target: every daemon serves from Redis again within the failover time "
            "+ 1 s, counted from the fault)"]
    if redis == "cluster":
        head.append("  (on a cluster: the answers whose keys lie in the failed primary's slots)")
    table = text_table(["id", "kind", "failover", "served again", "longest stop", "per daemon",
                        "target", "met"], rows, indent=2)
    tail = [f"  target missed by {missed} of {len(rows)}" if missed
            else f"  target met by all {len(rows)}"]
    for f in faults:
        if num(f.get("t_refailover")) is not None:
            who = "the cluster failed over again by itself" if redis == "cluster" \
                else "the sentinels failed over again by themselves"
            tail.append(f"  fault {f.get('id')}: {who} "
                        f"at {num(f['t_refailover']):.3f} (to port {f.get('refailover_master')})")
    return head + table + tail + [""]


def _s(x, none="-") -> str:
    x = num(x)
    return none if x is None else f"{x:.3f}s"


def _checkers(verdicts, faults) -> list:
    if not verdicts:
        return ["checkers: none ran", ""]
    kinds = {str(f.get("id")): str(f.get("kind")) for f in faults}
    lines = ["checkers"]
    for v in verdicts:
        valid, n = v.get("valid"), len(_list(v.get("violations")))
        status = "FAIL" if valid is False or n else "PASS" if valid is True else "UNKNOWN"
        checked = v.get("checked") if isinstance(v.get("checked"), dict) else {}
        done = " ".join(f"{k}={scalar(x)}" for k, x in checked.items())
        line = f"  {v.get('checker', '?')}: {status}"
        line += f" ({n} violation{'' if n == 1 else 's'})" if n else ""
        lines.append(line + (f"  checked {done}" if done else ""))
        if v.get("error"):
            lines.append(f"    ERROR {v['error']}")
        for part in _list(v.get("skipped")):
            lines.append(f"    SKIPPED {part}")
        measured = v.get("measured")
        if measured not in (None, {}, []):
            lines.append("    measured")
            lines += measured_lines(measured, 6, kinds)
    return lines + [""]


def _violations(verdicts) -> list:
    lines = []
    for v in verdicts:
        for viol in _list(v.get("violations")):
            viol = viol if isinstance(viol, dict) else {"message": viol}
            lines.append(f"  [{v.get('checker', '?')}] {viol.get('rule', '?')}: {viol.get('message', '')}")
            events = _list(viol.get("events"))
            rows = [_event_row(e) for e in events[:MAX_EVENTS]]
            lines += text_table(["t", "process", "node", "type", "f", "value"], rows, indent=4) if rows else []
            if len(events) > MAX_EVENTS:
                lines.append(f"    ... {len(events) - MAX_EVENTS} more events")
    return (["violations"] + lines + [""]) if lines else []


def _event_row(e) -> list:
    if not isinstance(e, dict):
        return ["?", "", "", "", "", as_json(e)]
    t = num(e.get("t"))
    return [f"{t:.6f}" if t is not None else "?", e.get("process"), e.get("node"), e.get("type"), e.get("f"),
            as_json(e.get("value"))]



# -- helpers -------------------------------------------------------------------------------

def _verdicts(verdicts) -> list:
    if isinstance(verdicts, dict):
        if "checker" in verdicts or "violations" in verdicts:
            verdicts = [verdicts]
        else:   # {checker: verdict}
            verdicts = [{"checker": k, **v} if isinstance(v, dict) else {"checker": k, "error": v}
                        for k, v in verdicts.items()]
    return [v for v in verdicts or [] if isinstance(v, dict)]


def _list(x) -> list:
    return x if isinstance(x, list) else [] if x is None else [x]


def _first_num(d, *keys):
    return next((v for v in (num(d.get(k)) for k in keys) if v is not None), None)


def _t(t) -> str:
    return "-" if t is None else f"{t:.3f}"


def _duration(d) -> str:
    d = num(d)
    if d is None:
        return "?"
    return f"{d:.1f} s" + (f" ({int(d // 60)}m{int(d % 60):02d}s)" if d >= 60 else "")


def _daemons(d) -> list:
    if isinstance(d, int) and not isinstance(d, bool):
        return [f"d{i}" for i in range(1, d + 1)]
    if isinstance(d, dict):
        return [str(k) for k in d]
    if isinstance(d, list):
        return [str(x.get("id") or x.get("name")) if isinstance(x, dict) else str(x) for x in d]
    return []


def _target(target) -> str:
    if isinstance(target, list):
        return ",".join(map(str, target))
    return str(target) if is_scalar(target) else as_json(target)
