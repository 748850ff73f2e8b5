"""What the timeline picture shows inside its frame (timeline.py): fault bands over the
daemons' lanes, holder bars, error, liveness and session marks, rate sparklines and violation
markers. A lane with more than MAX_MARKS items is binned per pixel column, so long runs stay small.
"""
from __future__ import annotations

import math
from collections import defaultdict

from .timeline_canvas import LEFT, MAX_MARKS, NODE_COLOURS, ROW_H, fault_colour, text_w
from .timeline_read import compact, fault_span, fmt_t, num


def fault_bands(svg, axis, faults, lanes, bottom):
    node_lanes = [l for l in lanes if l["kind"] == "node"]
    if not node_lanes:
        return
    by_key = {l["key"]: l for l in node_lanes}
    nodes_top, nodes_bottom = node_lanes[0]["y"], node_lanes[-1]["y"] + node_lanes[-1]["h"]
    label_slots = defaultdict(lambda: [0.0, 0.0])   # lane key -> right end of the label in each slot
    for f in sorted(faults, key=lambda f: fault_span(f, axis.t_end)[0] or 0.0):
        start, end = fault_span(f, axis.t_end)
        if start is None:
            continue
        target, kind = f.get("target"), str(f.get("kind"))
        lane = by_key.get(target) if isinstance(target, str) else None
        fleet = lane is None   # "all", a list, or a target we have no lane for
        y0, y1 = (nodes_top, nodes_bottom) if fleet else (lane["y"], lane["y"] + lane["h"] - 1)
        x0, x1 = axis.x(start), axis.x(end)
        colour = fault_colour(kind)
        target_text = target if isinstance(target, str) else compact(target)
        tip = (f"fault {f.get('id')}: {kind} on {target_text}\napplied {fmt_t(start)}, healed "
               f"{fmt_t(num(f.get('t_healed')) or num(f.get('t_heal')))}"
               + (", data loss possible" if f.get("data_loss") else "") + (", clock changed" if f.get("clock") else "")
               + (f"\nparams {compact(f.get('params'))}" if f.get("params") else "")
               + (f"\n{f.get('detail')}" if f.get("detail") else ""))
        svg.open({"class": "fault", "data-kind": kind, "data-fault": f.get("id"), "data-target": target_text}, tip)
        svg.el("rect", {"x": x0, "y": y0, "width": max(x1 - x0, 1.5), "height": y1 - y0, "fill": colour,
                        "class": "band"})
        if bottom > nodes_bottom:   # a faint wash below, to relate holders to the fault
            svg.el("rect", {"x": x0, "y": nodes_bottom, "width": max(x1 - x0, 1.5), "height": bottom - nodes_bottom,
                            "fill": colour, "class": "wash"})
        slots = label_slots["*" if fleet else target]
        slot = next((i for i, right in enumerate(slots) if right <= x0), min(range(2), key=slots.__getitem__))
        slots[slot] = x0 + text_w(kind) + 6
        svg.el("text", {"x": x0 + 2, "y": y0 + 10 + 10 * slot, "class": "tl"}, text=kind)
        svg.close()


def draw_lane(svg, axis, lane, data, colour_of):
    kind, y, h = lane["kind"], lane.get("y", 0), lane["h"]
    if kind == "node":
        node = lane["key"]
        shapes = {"info": ("tick", y + h - 8, 6), "fail": ("tick", y + h - 10, 9),
                  "serving": ("dot", y + h - 16, "#2ca02c"), "not-serving": ("ring", y + h - 16, "#d62728")}
        marks = sorted(data["errors"].get(node, []), key=lambda m: m[1] == "fail")
        _marks(svg, axis, marks + data["liveness"].get(node, []), shapes)
    elif kind in ("lease", "election"):
        bars = lane["bars"]
        if len(bars) > MAX_MARKS:
            _binned_bars(svg, axis, bars, y + 3, colour_of, lane["label"])
        else:
            for b in bars:
                _bar(svg, axis, b, y + 3 + b.get("row", 0) * ROW_H, colour_of(b["node"]))
    elif kind == "sessions":
        mid = y + h / 2
        _marks(svg, axis, data["sessions"], {"handoff": ("tri", mid, "#333"), "resume": ("dot", mid, "#333"),
                                             "fail": ("x", mid, "#d62728")})
    elif kind == "rate":
        _sparklines(svg, axis, data["rate"], y, h)


def _bar(svg, axis, b, y, colour):
    x0, x1 = axis.x(b["start"]), axis.x(b["end"])
    w = max(x1 - x0, 1.0)
    svg.open(b["attrs"], b["title"])
    svg.el("rect", {"x": x0, "y": y, "width": w, "height": ROW_H - 3, "fill": colour, "class": "bar"})
    text = b["label"] if text_w(b["label"]) + 4 <= w else b["short"] if text_w(b["short"]) + 4 <= w else None
    if text:
        svg.el("text", {"x": x0 + 2, "y": y + ROW_H - 5, "class": "bt"}, text=text)
    svg.close()


def _binned_bars(svg, axis, bars, y, colour_of, name):
    # Too many grants to draw one by one: per pixel column, the node that held longest; runs of
    # columns with the same node become one rectangle.
    cover = defaultdict(lambda: defaultdict(float))
    starts = defaultdict(int)
    for b in bars:
        c0, c1 = axis.col(b["start"]), axis.col(b["end"])
        starts[c0] += 1
        for c in range(c0, c1 + 1):
            lo, hi = max(b["start"], axis.t_of_col(c)), min(b["end"], axis.t_of_col(c + 1))
            cover[c][b["node"]] += max(hi - lo, 1e-9)
    runs = []
    for c in sorted(cover):
        node = max(cover[c], key=cover[c].get)
        if runs and runs[-1][2] == node and runs[-1][1] == c - 1:
            runs[-1][1] = c
            runs[-1][3] += starts[c]
        else:
            runs.append([c, c, node, starts[c]])
    svg.open({"class": "binned", "data-lane": name, "data-bars": len(bars)})
    for c0, c1, node, n in runs:
        svg.el("rect", {"x": LEFT + c0, "y": y, "width": c1 - c0 + 1, "height": ROW_H - 3, "fill": colour_of(node)},
               title=f"{name}: held mostly via {node} from {fmt_t(axis.t_of_col(c0))} to "
                     f"{fmt_t(axis.t_of_col(c1 + 1))}, {n} bars start here ({len(bars)} in the lane, binned)")
    svg.close()


def _marks(svg, axis, marks, shapes):
    """Draws (t, kind, tooltip) marks one by one, or binned per pixel column and kind when
    there are more than MAX_MARKS: then a mark's height grows with the log of its count."""
    if len(marks) <= MAX_MARKS:
        for t, kind, tip in marks:
            _shape(svg, axis.x(t), kind, shapes.get(kind), tip)
        return
    bins = {}
    for t, kind, _ in marks:
        key = (axis.col(t), kind)
        n, lo, hi = bins.get(key, (0, t, t))
        bins[key] = (n + 1, min(lo, t), max(hi, t))
    for (c, kind), (n, lo, hi) in sorted(bins.items(), key=lambda kv: kv[0][1] == "fail"):
        shape = shapes.get(kind)
        if not shape:
            continue
        mid = shape[1]
        hh = min(4 + 2.5 * math.log2(n), 12)
        # Terse on purpose: a long run has thousands of these.
        colour = None if kind in ("fail", "info") else shape[2] if isinstance(shape[2], str) else "#333"
        svg.el("rect", {"x": LEFT + c, "y": mid - hh / 2, "width": 1, "height": hh, "fill": colour,
                        "class": kind if colour is None else None},
               title=f"{n} {kind} {lo:.2f}-{hi:.2f}s")


def _shape(svg, x, kind, shape, tip):
    if not shape:
        return
    form, y, extra = shape
    if form == "tick":
        svg.el("line", {"x1": x, "x2": x, "y1": y, "y2": y + extra, "class": kind, "stroke-width": 1.5}, title=tip)
    elif form == "dot":
        svg.el("circle", {"cx": x, "cy": y, "r": 2.5, "fill": extra}, title=tip)
    elif form == "ring":
        svg.el("circle", {"cx": x, "cy": y, "r": 3, "fill": "none", "stroke": extra}, title=tip)
    elif form == "tri":
        svg.el("path", {"d": f"M{x - 3:.1f} {y - 4:.1f}l7 4l-7 4z", "fill": extra}, title=tip)
    elif form == "x":
        svg.el("path", {"d": f"M{x - 3:.1f} {y - 3:.1f}l6 6m0 -6l-6 6", "stroke": extra, "stroke-width": 1.5},
               title=tip)


def _sparklines(svg, axis, rate, y, h):
    series, width = rate["series"], rate["width"]
    peak = max((max(c) for c in series.values()), default=0) / width
    if peak <= 0:
        svg.el("text", {"x": LEFT + 4, "y": y + h / 2, "class": "tl"}, text="no admissions")
        return
    svg.el("text", {"x": LEFT + 2, "y": y + 9, "class": "tl"}, text=f"peak {peak:.1f}/s")
    for i, (policy, counts) in enumerate(sorted(series.items())):
        colour = NODE_COLOURS[i % len(NODE_COLOURS)]
        pts = " ".join(f"{axis.x((k + 0.5) * width):.1f},{y + h - 3 - (c / width) / peak * (h - 14):.1f}"
                       for k, c in enumerate(counts))
        rates = [c / width for c in counts]
        svg.el("polyline", {"points": pts, "stroke": colour, "class": "spark", "data-policy": policy},
               title=f"rate policy {policy}: admissions per second, peak {max(rates):.1f}, "
                     f"mean {sum(rates) / len(rates):.2f} (bins of {width:.2f} s)")


def violation_markers(svg, axis, violations, top, bottom):
    for v in violations:
        x = axis.x(v["t"])
        svg.open({"class": "violation", "data-rule": v["rule"], "data-checker": v["checker"]},
                 f"{v['checker']}: {v['rule']} at {fmt_t(v['t'])}\n{v['message']}")
        svg.el("line", {"x1": x, "x2": x, "y1": top, "y2": bottom, "class": "viol"})
        svg.el("path", {"d": f"M{x - 5:.1f} {top - 8:.1f}h10l-5 8z", "fill": "#e00000"})
        svg.el("rect", {"x": x - 3, "y": top, "width": 6, "height": bottom - top, "fill": "transparent"})
        svg.close()
