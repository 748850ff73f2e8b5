"""Draws a chaos run as one SVG (timeline.svg, chaos/HISTORY.md): faults as bands over the
daemons and Redis, lease holders and leaders as bars, session marks, errors and the checkers'
violations on one time axis, with <title> tooltips for the details. A person looks at it
before reading the history; long runs are binned per pixel column so the file stays small.
Here the parts meet: timeline_read reads the run, timeline_layout plans the frame,
timeline_draw fills it, on timeline_canvas' surface.
"""
from __future__ import annotations

import os

from . import timeline_draw as draw
from . import timeline_layout as layout
from . import timeline_read as read
from .timeline_canvas import (  # noqa: F401 (the geometry and palette are this module's names too)
    FAULT_COLOURS, FLEET_TARGETS, LEFT, MARK_LANE_H, MAX_LANES, MAX_MARKS, MAX_POLICIES, MAX_ROWS,
    NODE_COLOURS, NODE_LANE_H, PLOT_W, RATE_LANE_H, RIGHT, ROW_H, SPARE_COLOURS, STYLE, WIDTH, Axis, Svg,
    spare)


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
    events = sorted((e for e in (history or []) if isinstance(e, dict) and read.num(e.get("t")) is not None),
                    key=lambda e: read.num(e["t"]))
    faults = [f for f in (faults or []) if isinstance(f, dict)]
    config = config if isinstance(config, dict) else {}
    violations = read.violations(verdicts)
    axis = Axis(read.end_time(events, faults, config, violations))

    daemons = read.daemon_ids(config)
    node_colour = {d: NODE_COLOURS[i % len(NODE_COLOURS)] for i, d in enumerate(daemons)}
    colour_of = lambda node: node_colour.get(node) or ("#999999" if node is None else spare(str(node)))
    data = {
        "errors": read.error_marks(events), "liveness": read.liveness_marks(events),
        "grants": read.lease_grants(events, axis.t_end), "leaders": read.leaders(events, axis.t_end),
        "sessions": read.session_marks(events), "rate": read.rate_series(events, axis),
    }
    lanes = layout.plan_lanes(daemons, data)

    svg = Svg()
    title = (f"baton chaos timeline: {len(events)} events, {len(faults)} faults, "
             f"{len(violations)} violation{'' if len(violations) == 1 else 's'}, 0 to {axis.t_end:.1f} s")
    svg.el("text", {"x": 12, "y": 20, "class": "lbl sec"}, text=title)
    y = layout.legend(svg, faults, daemons, colour_of, 30)
    top = y + 40   # room for the axis' title and labels above the lanes
    for lane in lanes:
        lane["y"], top = top, top + lane["h"]
    bottom = top
    plot_top = lanes[0]["y"]
    layout.lane_backgrounds(svg, lanes)
    layout.grid(svg, axis, plot_top, bottom)
    draw.fault_bands(svg, axis, faults, lanes, bottom)
    for lane in lanes:
        draw.draw_lane(svg, axis, lane, data, colour_of)
    draw.violation_markers(svg, axis, violations, plot_top - 2, bottom)
    height = bottom + 30
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{WIDTH}" height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}">'
            f"<style>{STYLE}</style><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>")
    return head + "\n".join(svg.parts) + "\n</svg>\n"
