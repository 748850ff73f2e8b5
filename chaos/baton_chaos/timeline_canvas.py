"""The drawing surface of the timeline picture (timeline.py): its geometry, palette and limits,
an SVG element writer that escapes what came from the network, and the time axis that maps
seconds to x and to pixel columns, the unit of binning.
"""
from __future__ import annotations

import re
import zlib

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

# -- SVG text and the time axis ------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(s) -> str:
    # Error texts come from the network: drop what XML 1.0 cannot carry at all.
    s = _XML_BAD.sub("?", str(s))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def clip(s, limit=600) -> str:
    s = str(s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def text_w(s, px=5.4) -> float:
    return len(str(s)) * px


def spare(name: str) -> str:
    # crc32, not hash(): the same name gets the same colour in every run.
    return SPARE_COLOURS[zlib.crc32(name.encode("utf-8", "replace")) % len(SPARE_COLOURS)]


def fault_colour(kind) -> str:
    return FAULT_COLOURS.get(kind) or spare(str(kind))


class Axis:
    """Seconds since start to x; a column is one pixel of the plot, the unit of binning."""

    def __init__(self, t_end: float):
        self.t_end = t_end

    def x(self, t) -> float:
        return LEFT + min(max(t / self.t_end, 0.0), 1.0) * PLOT_W

    def col(self, t) -> int:
        return min(int(self.x(t) - LEFT), PLOT_W - 1)

    def t_of_col(self, c) -> float:
        return c * self.t_end / PLOT_W


class Svg:
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
            out.append(f' {k}="{esc(v)}"')
        return "".join(out)

    def el(self, tag, attrs, title=None, text=None):
        a = self._attrs(attrs)
        if title is None and text is None:
            self.parts.append(f"<{tag}{a}/>")
            return
        inner = f"<title>{esc(clip(title))}</title>" if title else ""
        self.parts.append(f"<{tag}{a}>{inner}{esc(text) if text is not None else ''}</{tag}>")

    def open(self, attrs, title=None):
        inner = f"<title>{esc(clip(title))}</title>" if title else ""
        self.parts.append(f"<g{self._attrs(attrs)}>{inner}")

    def close(self):
        self.parts.append("</g>")
