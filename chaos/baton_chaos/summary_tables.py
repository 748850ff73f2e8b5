"""Text tables and cells for the run summary (summary.py): aligned columns (numbers to the
right), checkers' measured numbers turned into tables where their shape allows, and values
written short enough for one line.
"""
from __future__ import annotations

import json
import math

MAX_ROWS = 200     # per measured table, so one huge measurement cannot bury the verdict
MAX_COLUMNS = 16   # wider than this, a measurement is listed rather than tabled


# -- measured numbers ----------------------------------------------------------------------
# Each checker measures what it likes; these shapes cover the usual ones as tables: a list of
# flat dicts (one row each), or a dict of flat dicts (the key becomes the first column), e.g.
# liveness recovery per fault or rate overshoot per policy and window.

def measured_lines(value, indent, kinds) -> list:
    pad = " " * indent
    if not isinstance(value, dict):
        return [pad + inline(value)]
    lines = []
    for key, x in value.items():
        table = _as_table(x, kinds)
        if table:
            lines.append(f"{pad}{key}")
            lines += text_table(*table, indent=indent + 2)
        elif isinstance(x, dict) and x and not all(is_scalar(y) for y in x.values()):
            lines.append(f"{pad}{key}")
            lines += measured_lines(x, indent + 2, kinds)
        else:
            lines.append(f"{pad}{key}: {inline(x)}")
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
    rows = [[scalar(r.get(c, "")) for c in columns] for r in records[:MAX_ROWS]]
    if len(records) > MAX_ROWS:
        rows.append([f"... {len(records) - MAX_ROWS} more"] + [""] * (len(columns) - 1))
    return columns, rows


# -- formatting ----------------------------------------------------------------------------

def _flatten(record):
    out = {}
    for k, v in record.items():
        if isinstance(v, dict):
            if not all(map(is_scalar, v.values())):
                return None
            out.update({f"{k}.{k2}": v2 for k2, v2 in v.items()})
        else:
            out[k] = v
    return out


def text_table(columns, rows, indent=2) -> list:
    cells = [[str(c) for c in columns]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(columns))]
    out = []
    for r in cells:
        # numbers right-aligned, text left-aligned, as a person scans a column
        parts = [c.rjust(w) if num(c) is not None or c == "-" else c.ljust(w) for c, w in zip(r, widths)]
        out.append(" " * indent + "  ".join(parts).rstrip())
    return out


def num(x):
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def is_scalar(x) -> bool:
    return x is None or isinstance(x, (str, int, float, bool))


def _flat(d) -> bool:
    return all(is_scalar(v) or (isinstance(v, list) and len(v) <= 8 and all(map(is_scalar, v)))
               for v in d.values())


def scalar(x) -> str:
    if isinstance(x, float):
        return f"{x:.3f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:.4g}"
    if isinstance(x, list):
        return ",".join(scalar(y) for y in x)
    return "-" if x is None else str(x)


def inline(x) -> str:
    if x in ({}, []):
        return "none"
    if is_scalar(x):
        return scalar(x)
    if isinstance(x, list) and all(map(is_scalar, x)):
        shown = ", ".join(scalar(y) for y in x[:20])
        return shown + (f", ... ({len(x)} in all)" if len(x) > 20 else "")
    if isinstance(x, dict) and all(map(is_scalar, x.values())):
        return ", ".join(f"{k}={scalar(v)}" for k, v in x.items())
    return clip(as_json(x), 400)


def as_json(x) -> str:
    return json.dumps(x, separators=(",", ":"), default=str)


def clip(s, limit) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"
