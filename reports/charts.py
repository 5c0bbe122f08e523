"""The PCC report's pictures as inline SVG: a ward map and three small charts.

Hand-made SVG rather than a plotting library: a few hundred lines give charts that
print sharply at any size, need no fonts or scripts from anywhere (text takes the
page's font), and keep the report free of heavy dependencies. Each function returns
one ``<svg>`` element with a ``<title>`` and ``role="img"`` for screen readers.

Colours match the maps (``maps/palette.py``): Okabe-Ito, distinguishable with the
common colour-vision deficiencies, and every legend says its status in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from beatlight.reports.trends import STATUSES, Day

__all__ = ["STATUS_COLOURS", "STATUS_WORDS", "choropleth", "daily_hours", "daily_statuses",
           "lorenz"]  # fmt: skip

#: SPEC rule 10's statuses, as the maps draw them.
STATUS_COLOURS = {"green": "#009E73", "amber": "#E69F00", "red": "#D55E00", "none": "#4D4D4D"}
STATUS_WORDS = {
    "green": "On target (100% or more)",
    "amber": "Close (75% to 99%)",
    "red": "Below target (under 75%)",
    "none": "Nobody seen",
}
PATROL_COLOUR, FOOT_COLOUR = "#56B4E9", "#0072B2"
_NO_OUTLINE = "#FFFFFF"


def choropleth(
    outlines: Mapping[str, Mapping[str, Any]],
    status: Mapping[str, str],
    *,
    districts: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
    width: float = 720.0,
    max_height: float = 860.0,
) -> str:
    """Wards coloured by ``status`` (code -> status), from GeoJSON outlines in WGS84.

    ``districts``: ``{code: (name, outline)}`` drawn as labelled borders on top.
    Longitudes are scaled by cos(latitude) (an equirectangular view, true enough at
    the scale of a force area) and every shape is simplified to a fraction of a pixel.
    """
    codes = [c for c in status if c in outlines]
    if not codes:
        return _svg(width, 60, "Ward map", '<text x="10" y="30">No ward outlines.</text>')
    geoms = np.array([shape(outlines[c]) for c in codes], dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    kx = math.cos(math.radians((miny + maxy) / 2))
    scale = min(width / max((maxx - minx) * kx, 1e-9), max_height / max(maxy - miny, 1e-9))
    height = (maxy - miny) * scale

    def project(geometries: np.ndarray) -> np.ndarray:
        moved = shapely.transform(geometries, lambda xy: np.column_stack(
            ((xy[:, 0] - minx) * kx * scale, (maxy - xy[:, 1]) * scale)))  # fmt: skip
        return shapely.simplify(moved, 0.3, preserve_topology=True)

    parts = []
    for code, geom in zip(codes, project(geoms), strict=True):
        fill = STATUS_COLOURS.get(status[code], _NO_OUTLINE)
        parts.append(f'<path d="{_path(geom)}" fill="{fill}"><title>{escape(code)}</title></path>')
    body = '<g stroke="#FFFFFF" stroke-width="0.6" fill-rule="evenodd">' + "".join(parts) + "</g>"
    if districts:
        names = list(districts)
        borders = project(np.array([shape(districts[c][1]) for c in names], dtype=object))
        lines = "".join(f'<path d="{_path(g)}"/>' for g in borders)
        body += f'<g fill="none" stroke="#000000" stroke-width="1.6">{lines}</g>'
        labels = []
        for code, geom in zip(names, borders, strict=True):
            point = geom.representative_point()
            labels.append(f'<text x="{point.x:.0f}" y="{point.y:.0f}">'
                          f"{escape(districts[code][0])}</text>")  # fmt: skip
        body += ('<g class="labels" font-size="12" font-weight="bold" text-anchor="middle" '
                 'paint-order="stroke" stroke="#FFFFFF" stroke-width="3" stroke-linejoin="round">'
                 + "".join(labels) + "</g>")  # fmt: skip
    return _svg(width, height, "Map of wards coloured by status", body)


def daily_hours(days: Sequence[Day], *, width: float = 720.0, height: float = 240.0) -> str:
    """Force patrol hours per day (foot hours inside): time with police visible somewhere."""
    values = [(d.force["patrol_minutes"] / 60, d.force["foot_minutes"] / 60) if d.force else None
              for d in days]  # fmt: skip
    plot = _Plot(width, height, 24.0, [_day_label(d, len(days)) for d in days], "hours", step=6)
    body = [plot.axes()]
    for i, row in enumerate(values):
        if row is None:
            body.append(plot.note(i, "no data"))
            continue
        patrol, foot = row
        body.append(plot.bar(i, 0, patrol, PATROL_COLOUR, f"{patrol:,.1f} patrol hours"))
        body.append(plot.bar(i, 0, foot, FOOT_COLOUR, f"{foot:,.1f} on foot", narrow=True))
    body.append(_legend([(PATROL_COLOUR, "Patrol hours"), (FOOT_COLOUR, "of which on foot")],
                        plot.left, 14))  # fmt: skip
    return _svg(width, height, "Force patrol hours per day", "".join(body))


def daily_statuses(
    days: Sequence[Day], n_wards: int, *, width: float = 720.0, height: float = 240.0
) -> str:
    """Wards per status each day (stacked bars, best status at the bottom)."""
    plot = _Plot(width, height, max(n_wards, 1), [_day_label(d, len(days)) for d in days], "wards")
    body = [plot.axes()]
    for i, day in enumerate(days):
        if day.statuses is None:
            body.append(plot.note(i, "no data"))
            continue
        base = 0.0
        for status in STATUSES:
            count = day.statuses.get(status, 0)
            if count:
                body.append(plot.bar(i, base, base + count, STATUS_COLOURS[status],
                                     f"{count} {STATUS_WORDS[status].lower()}"))  # fmt: skip
            base += count
    body.append(_legend([(STATUS_COLOURS[s], STATUS_WORDS[s]) for s in STATUSES], plot.left, 14))
    return _svg(width, height, "Wards by status per day", "".join(body))


def lorenz(values: Sequence[float], *, size: float = 300.0) -> str:
    """The Lorenz curve of ``values`` over wards: the closer to the diagonal, the more even."""
    x = np.sort(np.asarray(values, dtype=float))
    pad = 40.0
    span = size - 2 * pad
    total = x.sum()
    if len(x) == 0 or total <= 0:
        return _svg(size, size, "Lorenz curve", f'<text x="{pad}" y="{size / 2}">No patrol.</text>')
    share = np.concatenate([[0.0], np.cumsum(x) / total])
    wards = np.linspace(0.0, 1.0, len(share))
    points = " ".join(f"{pad + w * span:.1f},{pad + (1 - s) * span:.1f}"
                      for w, s in zip(wards, share, strict=True))  # fmt: skip
    body = (
        f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#999999"/>'
        f'<line x1="{pad}" y1="{pad + span}" x2="{pad + span}" y2="{pad}" stroke="#999999" '
        'stroke-dasharray="4 3"/>'
        f'<polyline points="{points}" fill="none" stroke="{FOOT_COLOUR}" stroke-width="2.5"/>'
        f'<text x="{pad + span / 2}" y="{size - 8}" text-anchor="middle">'
        "share of wards, least patrolled first</text>"
        f'<text transform="translate(14 {pad + span / 2}) rotate(-90)" text-anchor="middle">'
        "share of patrol per km²</text>"
        f'<text x="{pad + span * 0.55}" y="{pad + span * 0.4}" fill="#666666">even spread</text>'
    )
    return _svg(size, size, "Lorenz curve of patrol per km² across wards", body)


# -- internals ------------------------------------------------------------------------------


class _Plot:
    """A bar chart's frame: one slot per label, a value axis from 0 to a round top."""

    def __init__(self, width: float, height: float, top: float, labels: list[str],
                 unit: str, step: float | None = None) -> None:  # fmt: skip
        self.left, self.right, self.top_px, self.bottom = 56.0, width - 8.0, 30.0, height - 28.0
        self.ticks = _ticks(top, step)
        self.max = self.ticks[-1]
        self.labels = labels
        self.unit = unit
        self.step = (self.right - self.left) / max(len(labels), 1)

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top_px) * value / self.max

    def axes(self) -> str:
        out = []
        for tick in self.ticks:
            y = self.y(tick)
            out.append(f'<line x1="{self.left}" x2="{self.right}" y1="{y:.1f}" y2="{y:.1f}" '
                       'stroke="#DDDDDD"/>'
                       f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                       f"{tick:,.0f}</text>")  # fmt: skip
        out.append(f'<text transform="translate(12 {(self.top_px + self.bottom) / 2:.0f}) '
                   f'rotate(-90)" text-anchor="middle">{self.unit}</text>')  # fmt: skip
        for i, label in enumerate(self.labels):
            if label:
                x = self.left + (i + 0.5) * self.step
                out.append(f'<text x="{x:.1f}" y="{self.bottom + 16:.1f}" '
                           f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
        return "".join(out)

    def bar(self, i: int, low: float, high: float, colour: str, title: str,
            narrow: bool = False) -> str:  # fmt: skip
        gap = self.step * (0.34 if narrow else 0.12)
        x, y0, y1 = self.left + i * self.step + gap, self.y(low), self.y(high)
        return (f'<rect x="{x:.1f}" y="{y1:.1f}" width="{max(self.step - 2 * gap, 1):.1f}" '
                f'height="{max(y0 - y1, 0):.1f}" fill="{colour}"><title>{escape(title)}</title>'
                "</rect>")  # fmt: skip

    def note(self, i: int, text: str) -> str:
        x = self.left + (i + 0.5) * self.step
        return (f'<text x="{x:.1f}" y="{self.bottom - 6:.1f}" text-anchor="middle" '
                f'font-size="9" fill="#666666">{escape(text)}</text>')  # fmt: skip


def _ticks(top: float, step: float | None = None) -> list[float]:
    """0 and round steps up to at least ``top`` (4 to 6 gridlines unless ``step`` is given)."""
    if step is None:
        raw = top / 5
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [step * k for k in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _day_label(day: Day, n: int) -> str:
    """Every day's label for a fortnight; Mondays only (and the first day) for longer."""
    if n <= 14 or day.day.weekday() == 0:
        return day.day.strftime("%a %d" if n <= 14 else "%d %b")
    return ""


def _legend(items: list[tuple[str, str]], x: float, y: float) -> str:
    out = []
    for colour, label in items:
        out.append(f'<rect x="{x:.0f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 22:.0f}" y="{y}">{escape(label)}</text>')
        x += 30 + 6.2 * len(label)
    return "".join(out)


def _path(geometry: Any) -> str:
    """SVG path data of a (multi)polygon: every ring, closed."""
    rings = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)
            rings.append("M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in xy[:-1]) + "Z")
    return "".join(rings)


def _svg(width: float, height: float, title: str, body: str) -> str:
    # Inline in HTML, an <svg> needs no namespace (and the report names no URL).
    label = escape(title)
    return (f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{label}">'
            f"<title>{label}</title>{body}</svg>")  # fmt: skip
