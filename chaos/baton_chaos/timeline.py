"""Draws a chaos run as one SVG (timeline.svg, chaos/HISTORY.md): faults as bands over the
daemons and Redis, lease holders and leaders as bars, session marks, errors and the checkers'
violations on one time axis, with <title> tooltips for the details. A person looks at it
before reading the history; long runs are binned per pixel column so the file stays small.
"""
from __future__ import annotations

import json
import math
import os
import re
import zlib
from collections import defaultdict

# -- geometry and palette ------------------------------------------------------------------

WIDTH = 1600
LEFT = 150            # lane labels live left of the plot
RIGHT = 24
PLOT_W = WIDTH - LEFT - RIGHT
NODE_LANE_H = 34
ROW_H = 14            # one row of bars in a lease or election lane
MAX_ROWS = 4          # bars overlapping beyond this share the last row
MARK_LANE_H = 22
RATE_LANE_H = 44
MAX_MARKS = 2000      # above this many marks in one lane, marks are binned per pixel column
MAX_LANES = 40        # per section (lease names, election groups): beyond, a note says so
MAX_POLICIES = 8      # rate sparklines; more policies are drawn as one total

FAULT_COLOURS = {
    "kill": "#d62728", "pause": "#ff7f0e", "redis-kill": "#8c564b", "redis-pause": "#e377c2",
    "partition": "#9467bd", "slow": "#bcbd22", "lossy": "#17becf", "clock-step": "#1f77b4",
    "clock-skew": "#6baed6", "cpu-starve": "#7f7f7f", "rolling-restart": "#2ca02c",
    "drain": "#74c476", "drain-redis-paused": "#a55194", "kill-mid-drain": "#ff9896",
}
NODE_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                "#ff7f0e", "#393b79", "#7f7f7f"]
SPARE_COLOURS = ["#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
                 "#756bb1"]
FLEET_TARGETS = {None, "", "all", "*", "fleet"}

STYLE = ("text{font:10px sans-serif;fill:#222}.lbl{font-size:11px}.sec{font-weight:bold}"
         ".tl{font-size:9px;fill:#555}.grid{stroke:#e2e2e2}.band{fill-opacity:.28}"
         ".wash{fill-opacity:.06}.bar{fill-opacity:.85;stroke:#333;stroke-width:.4}"
         ".bt{font-size:9px;fill:#fff}.fail{stroke:#d62728;fill:#d62728}"
         ".info{stroke:#ff7f0e;fill:#ff7f0e}.viol{stroke:#e00000;stroke-width:2}"
         ".spark{fill:none;stroke-width:1.2}")


def render_timeline(history, faults, config, verdicts, path):
    """Writes the run's picture to `path` (an SVG file); returns `path`."""
    text = timeline_svg(history, faults, config, verdicts)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="replace") as out:
        out.write(text)
    return path


def timeline_svg(history, faults, config, verdicts) -> str:
    """The SVG text. Inputs as in HISTORY.md; anything missing or malformed is skipped."""
    events = sorted((e for e in (history or []) if isinstance(e, dict) and _num(e.get("t")) is not None),
                    key=lambda e: _num(e["t"]))
    faults = [f for f in (faults or []) if isinstance(f, dict)]
    config = config if isinstance(config, dict) else {}
    violations = _violations(verdicts)
    axis = _Axis(_end_time(events, faults, config, violations))

    daemons = _daemon_ids(config)
    node_colour = {d: NODE_COLOURS[i % len(NODE_COLOURS)] for i, d in enumerate(daemons)}
    colour_of = lambda node: node_colour.get(node) or ("#999999" if node is None else _spare(str(node)))
    data = {
        "errors": _error_marks(events), "liveness": _liveness_marks(events),
        "grants": _lease_grants(events, axis.t_end), "leaders": _leaders(events, axis.t_end),
        "sessions": _session_marks(events), "rate": _rate_series(events, axis),
    }
    lanes = _layout(daemons, data)

    svg = _Svg()
    title = (f"baton chaos timeline: {len(events)} events, {len(faults)} faults, "
             f"{len(violations)} violation{'' if len(violations) == 1 else 's'}, 0 to {axis.t_end:.1f} s")
    svg.el("text", {"x": 12, "y": 20, "class": "lbl sec"}, text=title)
    y = _legend(svg, faults, daemons, colour_of, 30)
    top = y + 40   # room for the axis' title and labels above the lanes
    for lane in lanes:
        lane["y"], top = top, top + lane["h"]
    bottom = top
    plot_top = lanes[0]["y"]
    _lane_backgrounds(svg, lanes)
    _grid(svg, axis, plot_top, bottom)
    _fault_bands(svg, axis, faults, lanes, bottom)
    for lane in lanes:
        _draw_lane(svg, axis, lane, data, colour_of)
    _violation_markers(svg, axis, violations, plot_top - 2, bottom)
    height = bottom + 30
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{WIDTH}" height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}">'
            f"<style>{STYLE}</style><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>")
    return head + "\n".join(svg.parts) + "\n</svg>\n"


# -- small helpers -------------------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(s) -> str:
    # Error texts come from the network: drop what XML 1.0 cannot carry at all.
    s = _XML_BAD.sub("?", str(s))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _num(x):
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


def _compact(v, limit=240) -> str:
    s = json.dumps(v, separators=(",", ":"), default=str)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _spare(name: str) -> str:
    # crc32, not hash(): the same name gets the same colour in every run.
    return SPARE_COLOURS[zlib.crc32(name.encode("utf-8", "replace")) % len(SPARE_COLOURS)]


def _fault_colour(kind) -> str:
    return FAULT_COLOURS.get(kind) or _spare(str(kind))


def _natural(s):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(s))]


def _text_w(s, px=5.4) -> float:
    return len(str(s)) * px


def _daemon_ids(config) -> list:
    d = config.get("daemons")
    if isinstance(d, int) and not isinstance(d, bool):
        return [f"d{i}" for i in range(1, d + 1)]
    if isinstance(d, dict):
        return [str(k) for k in d]
    if isinstance(d, (list, tuple)):
        return [str(x.get("id") or x.get("name")) if isinstance(x, dict) else str(x) for x in d]
    return []


def _fault_span(f, t_end):
    start = _num(f.get("t_applied"))
    start = _num(f.get("t_start")) if start is None else start
    end = _num(f.get("t_healed"))
    end = _num(f.get("t_heal")) if end is None else end
    return start, end if end is not None else t_end


def _end_time(events, faults, config, violations) -> float:
    ends = [_num(events[-1]["t"])] if events else []
    for f in faults:
        ends += [_num(f.get(k)) for k in ("t_start", "t_applied", "t_heal", "t_healed")]
    ends += [_num(config.get("duration_s")), _num(config.get("duration"))]
    ends += [v["t"] for v in violations]
    ends = [t for t in ends if t is not None and t > 0]
    return max(ends) if ends else 1.0


class _Axis:
    """Seconds since start to x; a column is one pixel of the plot, the unit of binning."""

    def __init__(self, t_end: float):
        self.t_end = t_end

    def x(self, t) -> float:
        return LEFT + min(max(t / self.t_end, 0.0), 1.0) * PLOT_W

    def col(self, t) -> int:
        return min(int(self.x(t) - LEFT), PLOT_W - 1)

    def t_of_col(self, c) -> float:
        return c * self.t_end / PLOT_W


class _Svg:
    def __init__(self):
        self.parts: list[str] = []

    @staticmethod
    def _attrs(attrs) -> str:
        out = []
        for k, v in attrs.items():
            if v is None:
                continue
            if isinstance(v, float):
                v = f"{v:.1f}".rstrip("0").rstrip(".")
            out.append(f' {k}="{_esc(v)}"')
        return "".join(out)

    def el(self, tag, attrs, title=None, text=None):
        a = self._attrs(attrs)
        if title is None and text is None:
            self.parts.append(f"<{tag}{a}/>")
            return
        inner = f"<title>{_esc(_clip(title))}</title>" if title else ""
        self.parts.append(f"<{tag}{a}>{inner}{_esc(text) if text is not None else ''}</{tag}>")

    def open(self, attrs, title=None):
        inner = f"<title>{_esc(_clip(title))}</title>" if title else ""
        self.parts.append(f"<g{self._attrs(attrs)}>{inner}")

    def close(self):
        self.parts.append("</g>")


def _clip(s, limit=600) -> str:
    s = str(s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _fmt_t(t) -> str:
    return "?" if t is None else f"{t:.3f}s"


# -- what the history says -----------------------------------------------------------------

def _violations(verdicts) -> list:
    if isinstance(verdicts, dict):
        verdicts = [verdicts] if "violations" in verdicts or "checker" in verdicts else list(verdicts.values())
    out = []
    for v in verdicts or []:
        if not isinstance(v, dict):
            continue
        for viol in v.get("violations") or []:
            if not isinstance(viol, dict):
                continue
            ts = [_num(e.get("t")) for e in viol.get("events") or [] if isinstance(e, dict)]
            ts = [t for t in ts if t is not None]
            if ts:
                out.append({"t": min(ts), "checker": v.get("checker", "?"), "rule": viol.get("rule", "?"),
                            "message": viol.get("message", "")})
    return out


def _error_marks(events) -> dict:
    """node -> [(t, "fail"|"info", tooltip)] for every fail and info completion."""
    marks = defaultdict(list)
    for e in events:
        if e.get("type") in ("fail", "info"):
            t, v = _num(e["t"]), _val(e)
            what = v.get("error") if v.get("error") is not None else _compact(v)
            marks[e.get("node")].append((t, e["type"], f"{_fmt_t(t)} {e['type']} {e.get('workload')}/"
                                         f"{e.get('f')} by {e.get('process')} on {e.get('node')}: {what}"))
    return marks


def _liveness_marks(events) -> dict:
    marks = defaultdict(list)
    for e in events:
        if e.get("type") == "event" and e.get("f") in ("serving", "not-serving"):
            v, t = _val(e), _num(e["t"])
            node = v.get("node", e.get("node"))
            marks[node].append((t, e["f"], f"{_fmt_t(t)} {node} {e['f']} after fault {v.get('fault')}"
                                f" ({v.get('after_s')} s after healing)"))
    return marks


def _lease_grants(events, t_end) -> dict:
    """name -> bars. A grant's belief runs from acquire ok to the least of its last safe_until,
    its release invoke and its abandon event (HISTORY.md, lease)."""
    invokes, grants = {}, {}
    for e in events:
        if e.get("workload") not in (None, "lease"):
            continue
        typ, f, v, t = e.get("type"), e.get("f"), _val(e), _num(e["t"])
        key = (str(v.get("name")), str(v.get("token")))
        if typ == "invoke":
            invokes[e.get("op")] = e
            if f == "release" and key in grants:
                grants[key]["ends"].append((t, "release"))
        elif typ == "ok" and f in ("acquire", "renew"):
            inv = invokes.get(e.get("op"))
            inv_t = _num(inv["t"]) if inv else t
            validity = _num(v.get("validity_ms"))
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
                      f"acquired {_fmt_t(g['start'])}, belief ends {_fmt_t(end)} by {why}\n"
                      f"renewals: {g['renewals']}"
                      + ("\nbelief ran out before the answer arrived" if end < g["start"] else ""))})
    return lanes


def _leaders(events, t_end) -> dict:
    """group -> bars: from join ok to the resign invoke, a lost event or the next leader."""
    terms, by_group = {}, defaultdict(list)
    for e in events:
        if e.get("workload") not in (None, "election"):
            continue
        typ, f, v, t = e.get("type"), e.get("f"), _val(e), _num(e["t"])
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
                          f"from {_fmt_t(bar['start'])} to {_fmt_t(end)}: {why}")})
        lanes[group] = out
    return lanes


def _session_marks(events) -> list:
    """[(t, kind, tooltip)]: handoff-out events, resume oks, failed session operations."""
    marks = []
    for e in events:
        if e.get("workload") not in (None, "session"):
            continue
        typ, f, v, t = e.get("type"), e.get("f"), _val(e), _num(e["t"])
        who = f"{e.get('process')} on {e.get('node')}"
        if typ == "event" and f == "handoff-out":
            marks.append((t, "handoff", f"{_fmt_t(t)} handoff-out of {v.get('id')} to {v.get('target')}"
                                        f" (token {v.get('token_id')}), told {who}"))
        elif typ == "ok" and f == "resume":
            marks.append((t, "resume", f"{_fmt_t(t)} resume ok {v.get('id')}: owner {v.get('owner')} epoch"
                                       f" {v.get('epoch')} seq {v.get('seq')}, by {who}"))
        elif typ == "fail" and e.get("workload") == "session":
            marks.append((t, "fail", f"{_fmt_t(t)} session {f} failed ({who}): {v.get('error')}"))
    return marks


def _rate_series(events, axis) -> dict:
    """policy -> admissions per bin; a bin is a second, or a pixel column when that is wider."""
    width = max(1.0, axis.t_end / PLOT_W)
    n = int(axis.t_end / width) + 1
    series = {}
    for e in events:
        if e.get("workload") == "rate" and e.get("type") == "ok" and e.get("f") == "check":
            v = _val(e)
            if v.get("allowed") in (1, True, "1"):
                counts = series.setdefault(str(v.get("policy")), [0] * n)
                counts[min(int(_num(e["t"]) / width), n - 1)] += 1
    if len(series) > MAX_POLICIES:
        series = {f"all {len(series)} policies": [sum(c) for c in zip(*series.values())]}
    return {"width": width, "series": series}


# -- layout and drawing --------------------------------------------------------------------

def _layout(daemons, data) -> list:
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


def _legend(svg, faults, daemons, colour_of, y) -> float:
    items = [("band", _fault_colour(k), k) for k in sorted({str(f.get("kind")) for f in faults})]
    items += [("bar", colour_of(d), f"via {d}") for d in daemons]
    items += [("tri", "#333", "handoff-out"), ("dot", "#333", "resume ok"), ("x", "#d62728", "failed session op"),
              ("tick", "#d62728", "fail"), ("tick", "#ff7f0e", "info"), ("dot", "#2ca02c", "serving again"),
              ("ring", "#d62728", "not serving"), ("viol", "#e00000", "violation")]
    x = 12.0
    svg.open({"class": "legend"})
    for shape, colour, label in items:
        w = 18 + _text_w(label, 5.8) + 14
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


def _lane_backgrounds(svg, lanes):
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


def _grid(svg, axis, top, bottom):
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


def _fault_bands(svg, axis, faults, lanes, bottom):
    node_lanes = [l for l in lanes if l["kind"] == "node"]
    if not node_lanes:
        return
    by_key = {l["key"]: l for l in node_lanes}
    nodes_top, nodes_bottom = node_lanes[0]["y"], node_lanes[-1]["y"] + node_lanes[-1]["h"]
    label_slots = defaultdict(lambda: [0.0, 0.0])   # lane key -> right end of the label in each slot
    for f in sorted(faults, key=lambda f: _fault_span(f, axis.t_end)[0] or 0.0):
        start, end = _fault_span(f, axis.t_end)
        if start is None:
            continue
        target, kind = f.get("target"), str(f.get("kind"))
        lane = by_key.get(target) if isinstance(target, str) else None
        fleet = lane is None   # "all", a list, or a target we have no lane for
        y0, y1 = (nodes_top, nodes_bottom) if fleet else (lane["y"], lane["y"] + lane["h"] - 1)
        x0, x1 = axis.x(start), axis.x(end)
        colour = _fault_colour(kind)
        target_text = target if isinstance(target, str) else _compact(target)
        tip = (f"fault {f.get('id')}: {kind} on {target_text}\napplied {_fmt_t(start)}, healed "
               f"{_fmt_t(_num(f.get('t_healed')) or _num(f.get('t_heal')))}"
               + (", data loss possible" if f.get("data_loss") else "") + (", clock changed" if f.get("clock") else "")
               + (f"\nparams {_compact(f.get('params'))}" if f.get("params") else "")
               + (f"\n{f.get('detail')}" if f.get("detail") else ""))
        svg.open({"class": "fault", "data-kind": kind, "data-fault": f.get("id"), "data-target": target_text}, tip)
        svg.el("rect", {"x": x0, "y": y0, "width": max(x1 - x0, 1.5), "height": y1 - y0, "fill": colour,
                        "class": "band"})
        if bottom > nodes_bottom:   # a faint wash below, to relate holders to the fault
            svg.el("rect", {"x": x0, "y": nodes_bottom, "width": max(x1 - x0, 1.5), "height": bottom - nodes_bottom,
                            "fill": colour, "class": "wash"})
        slots = label_slots["*" if fleet else target]
        slot = next((i for i, right in enumerate(slots) if right <= x0), min(range(2), key=slots.__getitem__))
        slots[slot] = x0 + _text_w(kind) + 6
        svg.el("text", {"x": x0 + 2, "y": y0 + 10 + 10 * slot, "class": "tl"}, text=kind)
        svg.close()


def _draw_lane(svg, axis, lane, data, colour_of):
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
    text = b["label"] if _text_w(b["label"]) + 4 <= w else b["short"] if _text_w(b["short"]) + 4 <= w else None
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
               title=f"{name}: held mostly via {node} from {_fmt_t(axis.t_of_col(c0))} to "
                     f"{_fmt_t(axis.t_of_col(c1 + 1))}, {n} bars start here ({len(bars)} in the lane, binned)")
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


def _violation_markers(svg, axis, violations, top, bottom):
    for v in violations:
        x = axis.x(v["t"])
        svg.open({"class": "violation", "data-rule": v["rule"], "data-checker": v["checker"]},
                 f"{v['checker']}: {v['rule']} at {_fmt_t(v['t'])}\n{v['message']}")
        svg.el("line", {"x1": x, "x2": x, "y1": top, "y2": bottom, "class": "viol"})
        svg.el("path", {"d": f"M{x - 5:.1f} {top - 8:.1f}h10l-5 8z", "fill": "#e00000"})
        svg.el("rect", {"x": x - 3, "y": top, "width": 6, "height": bottom - top, "fill": "transparent"})
        svg.close()
