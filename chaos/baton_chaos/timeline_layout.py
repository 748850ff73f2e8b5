"""The frame of the timeline picture (timeline.py): which lanes there are and how tall (one
per daemon and Redis, lease name and election group, then sessions and rate), the legend,
the lanes' labels and the time axis' grid.
"""
from __future__ import annotations

import math
import re

from .timeline_canvas import (LEFT, MARK_LANE_H, MAX_LANES, MAX_MARKS, MAX_ROWS, NODE_LANE_H, PLOT_W,
                              RATE_LANE_H, ROW_H, WIDTH, fault_colour, text_w)


def _natural(s):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(s))]


def plan_lanes(daemons, data) -> list:
    nodes = list(daemons)
    seen = set(data["errors"]) | set(data["liveness"])
    nodes += sorted((n for n in seen if n is not None and str(n) not in nodes and n != "redis"), key=_natural)
    lanes = [{"kind": "section", "label": "daemons and Redis", "h": 16}]
    lanes += [{"kind": "node", "key": n, "label": str(n), "h": NODE_LANE_H} for n in nodes + ["redis"]]
    if data["errors"].get(None):
        lanes.append({"kind": "node", "key": None, "label": "(no node)", "h": NODE_LANE_H})
    for section, kind, bars_by in (("leases", "lease", data["grants"]), ("elections", "election", data["leaders"])):
        if not bars_by:
            continue
        names = sorted(bars_by, key=_natural)
        lanes.append({"kind": "section", "label": section, "h": 16})
        for name in names[:MAX_LANES]:
            bars = sorted(bars_by[name], key=lambda b: b["start"])
            rows = 1 if len(bars) > MAX_MARKS else _assign_rows(bars)
            lanes.append({"kind": kind, "key": name, "label": name, "bars": bars, "h": rows * ROW_H + 6})
        if len(names) > MAX_LANES:
            lanes.append({"kind": "note", "label": f"{len(names) - MAX_LANES} more {section} not drawn", "h": 14})
    if data["sessions"]:
        lanes.append({"kind": "section", "label": "sessions", "h": 16})
        lanes.append({"kind": "sessions", "key": "sessions", "label": "handoff/resume/fail", "h": MARK_LANE_H})
    if data["rate"]["series"]:
        lanes.append({"kind": "section", "label": "rate", "h": 16})
        lanes.append({"kind": "rate", "key": "rate", "label": "admissions per second", "h": RATE_LANE_H})
    return lanes


def _assign_rows(bars) -> int:
    # Overlapping bars go to separate rows, so two holders at once are visible as two bars.
    row_ends = []
    for b in bars:
        free = [i for i, end in enumerate(row_ends) if end <= b["start"]]
        if free:
            b["row"] = free[0]
        elif len(row_ends) < MAX_ROWS:
            b["row"] = len(row_ends)
            row_ends.append(0.0)
        else:
            b["row"] = min(range(len(row_ends)), key=row_ends.__getitem__)
        row_ends[b["row"]] = max(row_ends[b["row"]], b["end"])
    return max(1, len(row_ends))


def legend(svg, faults, daemons, colour_of, y) -> float:
    items = [("band", fault_colour(k), k) for k in sorted({str(f.get("kind")) for f in faults})]
    items += [("bar", colour_of(d), f"via {d}") for d in daemons]
    items += [("tri", "#333", "handoff-out"), ("dot", "#333", "resume ok"), ("x", "#d62728", "failed session op"),
              ("tick", "#d62728", "fail"), ("tick", "#ff7f0e", "info"), ("dot", "#2ca02c", "serving again"),
              ("ring", "#d62728", "not serving"), ("viol", "#e00000", "violation")]
    x = 12.0
    svg.open({"class": "legend"})
    for shape, colour, label in items:
        w = 18 + text_w(label, 5.8) + 14
        if x + w > WIDTH - 12:
            x, y = 12.0, y + 16
        if shape in ("band", "bar"):
            svg.el("rect", {"x": x, "y": y, "width": 14, "height": 10, "fill": colour,
                            "class": "band" if shape == "band" else "bar", "data-kind": label})
        elif shape == "tri":
            svg.el("path", {"d": f"M{x + 3:.1f} {y}l8 5l-8 5z", "fill": colour})
        elif shape in ("dot", "ring"):
            svg.el("circle", {"cx": x + 7, "cy": y + 5, "r": 3, "fill": colour if shape == "dot" else "none",
                              "stroke": colour})
        elif shape == "x":
            svg.el("path", {"d": f"M{x + 3:.1f} {y + 1}l8 8m0 -8l-8 8", "stroke": colour, "stroke-width": 1.5})
        else:
            svg.el("line", {"x1": x + 7, "x2": x + 7, "y1": y, "y2": y + 10, "stroke": colour,
                            "stroke-width": 2})
        svg.el("text", {"x": x + 18, "y": y + 9}, text=label)
        x += w
    svg.close()
    return y + 10


def lane_backgrounds(svg, lanes):
    for i, lane in enumerate(lanes):
        y, kind = lane["y"], lane["kind"]
        if kind in ("section", "note"):
            svg.el("text", {"x": 8 if kind == "section" else LEFT + 4, "y": y + 12,
                            "class": "lbl sec" if kind == "section" else "tl"}, text=lane["label"])
            continue
        svg.open({"class": "lane", "data-kind": kind, "data-lane": lane["key"] if lane["key"] is not None else ""})
        svg.el("rect", {"x": LEFT, "y": y, "width": PLOT_W, "height": lane["h"] - 1,
                        "fill": "#f6f6f6" if i % 2 else "#fbfbfb"})
        label = lane["label"] if len(lane["label"]) <= 24 else lane["label"][:23] + "…"
        svg.el("text", {"x": LEFT - 6, "y": y + min(lane["h"] / 2 + 4, 15), "text-anchor": "end", "class": "lbl"},
               title=lane["label"], text=label)
        svg.close()


def grid(svg, axis, top, bottom):
    step = _tick_step(axis.t_end)
    svg.open({"class": "axis"})
    svg.el("text", {"x": LEFT, "y": top - 18, "class": "tl"}, text="seconds since start")
    k = 0
    while k * step <= axis.t_end + 1e-9:
        t = k * step
        x = axis.x(t)
        svg.el("line", {"x1": x, "x2": x, "y1": top - 4, "y2": bottom, "class": "grid"})
        for ty in (top - 6, bottom + 12):
            svg.el("text", {"x": x, "y": ty, "text-anchor": "middle", "class": "tl"}, text=_tick_label(t, step))
        k += 1
    svg.close()


def _tick_step(span) -> float:
    raw = span / 15
    steps = [m * 10 ** e for e in range(-3, 2) for m in (1, 2, 5)] + [60, 120, 300, 600, 900, 1800, 3600, 7200]
    return next((s for s in sorted(steps) if s >= raw), raw)


def _tick_label(t, step) -> str:
    if step >= 60:
        m, s = divmod(int(round(t)), 60)
        return f"{m}m{s:02d}s" if s else f"{m}m"
    return f"{t:.{max(0, -int(math.floor(math.log10(step))))}f}s"
