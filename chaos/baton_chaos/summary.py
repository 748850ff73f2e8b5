"""The run for a person (summary.txt, chaos/HISTORY.md): how to reproduce it, what faults
it applied and when, how many operations each workload completed, each checker's verdict with
its measured numbers, and every violation with the events that prove it. It reads only
report.json's dict, so it can be rewritten from a saved report. The last line is the verdict.
"""
from __future__ import annotations

import json
import math
import os
import shlex
from collections import Counter

MAX_EVENTS = 50    # per violation; a checker's counterexample is normally a handful
MAX_ROWS = 200     # per measured table, so one huge measurement cannot bury the verdict
MAX_COLUMNS = 16   # wider than this, a measurement is listed rather than tabled


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
    if mix is not None:
        rows.append(("fault mix", mix if isinstance(mix, str) else _json(mix)))
    rows.append(("faults run", ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "none"))
    if workloads:
        rows.append(("workloads", ", ".join(map(str, workloads)) if isinstance(workloads, list) else workloads))
    if report.get("bugs"):
        rows.append(("bugs", _inline(report["bugs"])))
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
    rows = [(str(k), _inline(v)) for k, v in config.items() if k != "daemons"]
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
        if f.get("params"):
            notes.append(_json(f["params"]))
        if f.get("error"):
            notes.append(f"ERROR {_clip(str(f['error']), 80)}")
        if f.get("detail"):
            notes.append(_clip(str(f["detail"]), 60))
        rows.append([f.get("id", "?"), f.get("kind", "?"), _target(f.get("target")), _t(applied),
                     _t(healed) if healed is not None else "not healed", took, "; ".join(notes)])
    return [f"faults ({len(faults)})"] + _table(["id", "kind", "target", "applied", "healed", "took", "notes"],
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
        lines += _table(["f", "ok", "fail", "info"], rows, indent=4) if rows else ["    (none)"]
    return lines + [""]


def _checkers(verdicts, faults) -> list:
    if not verdicts:
        return ["checkers: none ran", ""]
    kinds = {str(f.get("id")): str(f.get("kind")) for f in faults}
    lines = ["checkers"]
    for v in verdicts:
        valid, n = v.get("valid"), len(_list(v.get("violations")))
        status = "FAIL" if valid is False or n else "PASS" if valid is True else "UNKNOWN"
        checked = v.get("checked") if isinstance(v.get("checked"), dict) else {}
        done = " ".join(f"{k}={_scalar(x)}" for k, x in checked.items())
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
            lines += _measured(measured, 6, kinds)
    return lines + [""]


def _violations(verdicts) -> list:
    lines = []
    for v in verdicts:
        for viol in _list(v.get("violations")):
            viol = viol if isinstance(viol, dict) else {"message": viol}
            lines.append(f"  [{v.get('checker', '?')}] {viol.get('rule', '?')}: {viol.get('message', '')}")
            events = _list(viol.get("events"))
            rows = [_event_row(e) for e in events[:MAX_EVENTS]]
            lines += _table(["t", "process", "node", "type", "f", "value"], rows, indent=4) if rows else []
            if len(events) > MAX_EVENTS:
                lines.append(f"    ... {len(events) - MAX_EVENTS} more events")
    return (["violations"] + lines + [""]) if lines else []


def _event_row(e) -> list:
    if not isinstance(e, dict):
        return ["?", "", "", "", "", _json(e)]
    t = _num(e.get("t"))
    return [f"{t:.6f}" if t is not None else "?", e.get("process"), e.get("node"), e.get("type"), e.get("f"),
            _json(e.get("value"))]


# -- measured numbers ----------------------------------------------------------------------
# Each checker measures what it likes; these shapes cover the usual ones as tables: a list of
# flat dicts (one row each), or a dict of flat dicts (the key becomes the first column), e.g.
# liveness recovery per fault or rate overshoot per policy and window.

def _measured(value, indent, kinds) -> list:
    pad = " " * indent
    if not isinstance(value, dict):
        return [pad + _inline(value)]
    lines = []
    for key, x in value.items():
        table = _as_table(x, kinds)
        if table:
            lines.append(f"{pad}{key}")
            lines += _table(*table, indent=indent + 2)
        elif isinstance(x, dict) and x and not all(_is_scalar(y) for y in x.values()):
            lines.append(f"{pad}{key}")
            lines += _measured(x, indent + 2, kinds)
        else:
            lines.append(f"{pad}{key}: {_inline(x)}")
    return lines


def _as_table(x, kinds):
    """(columns, rows) when x is a list of records or a dict of records, else None. A record
    is a dict of scalars, or of dicts of scalars (liveness: serving delay per daemon), which
    become one column each ("serving.d1") while the table stays narrow enough to read."""
    if isinstance(x, list) and x and all(isinstance(r, dict) for r in x):
        keyed, head = [(None, r) for r in x], []
    elif isinstance(x, dict) and x and all(isinstance(r, dict) and r for r in x.values()):
        keyed, head = list(x.items()), [""]
    else:
        return None
    flat = [_flatten(r) for _, r in keyed]
    if any(r is None or not _flat(r) for r in flat) or len({k for r in flat for k in r}) > MAX_COLUMNS:
        return None
    records = [r if k is None else {"": k, **r} for (k, _), r in zip(keyed, flat)]
    columns = head + [c for c in dict.fromkeys(k for r in records for k in r) if c not in head]
    # A fault id alone says little: name its kind, as the faults table does.
    id_col = "fault" if "fault" in columns else "" if head and all(str(r[""]) in kinds for r in records) else None
    if id_col is not None and "kind" not in columns and kinds:
        columns.insert(columns.index(id_col) + 1, "kind")
        for r in records:
            r["kind"] = kinds.get(str(r.get(id_col)), "?")
    rows = [[_scalar(r.get(c, "")) for c in columns] for r in records[:MAX_ROWS]]
    if len(records) > MAX_ROWS:
        rows.append([f"... {len(records) - MAX_ROWS} more"] + [""] * (len(columns) - 1))
    return columns, rows


# -- formatting ----------------------------------------------------------------------------

def _flatten(record):
    out = {}
    for k, v in record.items():
        if isinstance(v, dict):
            if not all(map(_is_scalar, v.values())):
                return None
            out.update({f"{k}.{k2}": v2 for k2, v2 in v.items()})
        else:
            out[k] = v
    return out


def _table(columns, rows, indent=2) -> list:
    cells = [[str(c) for c in columns]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(columns))]
    out = []
    for r in cells:
        # numbers right-aligned, text left-aligned, as a person scans a column
        parts = [c.rjust(w) if _num(c) is not None or c == "-" else c.ljust(w) for c, w in zip(r, widths)]
        out.append(" " * indent + "  ".join(parts).rstrip())
    return out


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


def _num(x):
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _first_num(d, *keys):
    return next((v for v in (_num(d.get(k)) for k in keys) if v is not None), None)


def _is_scalar(x) -> bool:
    return x is None or isinstance(x, (str, int, float, bool))


def _flat(d) -> bool:
    return all(_is_scalar(v) or (isinstance(v, list) and len(v) <= 8 and all(map(_is_scalar, v)))
               for v in d.values())


def _scalar(x) -> str:
    if isinstance(x, float):
        return f"{x:.3f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:.4g}"
    if isinstance(x, list):
        return ",".join(_scalar(y) for y in x)
    return "-" if x is None else str(x)


def _inline(x) -> str:
    if x in ({}, []):
        return "none"
    if _is_scalar(x):
        return _scalar(x)
    if isinstance(x, list) and all(map(_is_scalar, x)):
        shown = ", ".join(_scalar(y) for y in x[:20])
        return shown + (f", ... ({len(x)} in all)" if len(x) > 20 else "")
    if isinstance(x, dict) and all(map(_is_scalar, x.values())):
        return ", ".join(f"{k}={_scalar(v)}" for k, v in x.items())
    return _clip(_json(x), 400)


def _json(x) -> str:
    return json.dumps(x, separators=(",", ":"), default=str)


def _clip(s, limit) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _t(t) -> str:
    return "-" if t is None else f"{t:.3f}"


def _duration(d) -> str:
    d = _num(d)
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
    return str(target) if _is_scalar(target) else _json(target)
