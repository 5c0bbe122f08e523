"""Residents' page of one ward: its published days and weeks in words and a small chart.

Plain HTML with no script (it prints, and works with JavaScript off), from a Jinja2
template with autoescaping. Pure: a :class:`WardPage` in, HTML out; the figures are
the public view's (:func:`api.publication.public_ward`: whole hours, small unit counts
suppressed), gathered by ``api.routes.public_pages``, so the page can show nothing
finer than the public API. The chart is inline SVG with a title and a table beside it
holding the same figures, so no one relies on the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from beatlight.maps.palette import STATUS_LABELS

__all__ = ["PAGE_SECURITY_POLICY", "Period", "WardPage", "not_found_page", "ward_page",
           "wards_index_page"]  # fmt: skip

#: The pages run no script and load nothing: styles are inline, the chart is inline SVG.
PAGE_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STATUS_WORDS = dict(STATUS_LABELS["public"])  # type: ignore[arg-type]
PATROL_COLOUR, FOOT_COLOUR, GAP_COLOUR = "#56B4E9", "#0072B2", "#6B6B6B"


@dataclass(frozen=True)
class Period:
    """One published day or week of a ward: its dates and its public figures."""

    period: str  # "day" or "week"
    first_day: date
    figures: dict[str, Any]  # api.publication.public_ward's fields

    @property
    def hours(self) -> int:
        return 24 if self.period == "day" else 24 * 7


@dataclass(frozen=True)
class WardPage:
    """What a ward's page shows (every figure already published)."""

    code: str
    name: str
    neighbourhood: str
    neighbourhood_name: str
    neighbours: list[dict[str, str]]  # the neighbourhood's other wards: code, name
    weeks: list[Period]  # newest first
    days: list[Period]  # newest first
    zones: list[dict[str, Any]] = field(default_factory=list)  # public zones' figures
    zones_week: date | None = None
    timezone: str = "Europe/London"
    publish_delay_hours: float = 24.0
    min_units: int = 3
    boundary_attribution: str = ""
    map_url: str = "/maps/public"
    index_url: str = "/public/wards"
    data_url: str = "/api/v1/public/visibility"


def ward_page(page: WardPage) -> str:
    """The ward's page as one HTML document."""
    return _template("ward.html").render(
        page=page, map_url=page.map_url, index_url=page.index_url,
        latest=page.weeks[0] if page.weeks else None,
        latest_day=page.days[0] if page.days else None,
        week_chart=_chart(list(reversed(page.weeks)), "week"),
        day_chart=_chart(list(reversed(page.days)), "day"),
        words=_words, when=_when, long_date=long_date, status_words=_STATUS_WORDS,
        hours=_hours, colours={"patrol": PATROL_COLOUR, "foot": FOOT_COLOUR, "gap": GAP_COLOUR},
    )  # fmt: skip


def wards_index_page(places: list[dict[str, str]], map_url: str = "/maps/public") -> str:
    """Every ward, by neighbourhood, each a link to its page (finding a ward without a map)."""
    hoods: dict[str, list[dict[str, str]]] = {}
    for place in sorted(places, key=lambda p: (p["neighbourhood_name"].casefold(),
                                               p["name"].casefold())):  # fmt: skip
        hoods.setdefault(place["neighbourhood_name"], []).append(place)
    return _template("wards.html").render(hoods=hoods, map_url=map_url,
                                          index_url="/public/wards")  # fmt: skip


def not_found_page(asked: str, map_url: str = "/maps/public",
                   index_url: str = "/public/wards") -> str:  # fmt: skip
    """A 404 in plain words: no ward has the code asked for."""
    return _template("not_found.html").render(asked=asked, map_url=map_url, index_url=index_url)


def long_date(day: date) -> str:
    """``Monday 2 November 2026``."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _when(period: Period) -> str:
    if period.period == "day":
        return long_date(period.first_day)
    last = period.first_day + timedelta(days=6)
    return f"the week {long_date(period.first_day)} to {long_date(last)}"


def _hours(n: int | None, what: str = "") -> str:
    """``about 5 hours`` (``less than half an hour`` for 0), then ``what``."""
    text = "less than half an hour" if not n else f"about {n} hour{'' if n == 1 else 's'}"
    return f"{text} {what}".strip()


def _words(period: Period, min_units: int = 3) -> list[str]:
    """The period's figures as sentences a resident reads."""
    f = period.figures
    if f["status"] == "none":
        lines = ["No visible patrol was recorded."]
    else:
        foot = f" ({_hours(f['foot_hours'], 'on foot')})" if f["foot_hours"] else " (none on foot)"
        lines = [f"{_hours(f['patrol_hours'], 'of visible patrol').capitalize()}{foot}."]
    per = "a day" if period.period == "day" else "a week"
    lines.append(f"The commitment is {_hours(f['target_hours'])} {per}: "
                 f"{_STATUS_WORDS[f['status']].lower()}.")  # fmt: skip
    gap = f["longest_gap_hours"]
    if gap >= period.hours:
        lines.append("Nobody was seen at any time.")
    else:
        lines.append(f"The longest time with nobody seen was {_hours(gap)}.")
    if f["units_suppressed"]:
        lines.append(f"Seen by fewer than {min_units} different patrols (the exact number is "
                     "not published).")  # fmt: skip
    elif f["distinct_units"]:
        n = f["distinct_units"]
        lines.append(f"Seen by {n} different patrol{'' if n == 1 else 's'}.")
    lines.append(f"Patrols passed through {round(f['coverage'] * 100)}% of the ward.")
    return lines


def _chart(periods: list[Period], kind: str) -> str | None:
    """Bars per period, oldest first: patrol hours (foot hours inside them) against a tick at
    the commitment; below, the longest time with nobody seen. Inline SVG, or None."""
    if not periods:
        return None
    from html import escape

    width, left, top, band, gap_band = 560, 44, 26, 120, 60
    step = (width - left - 8) / len(periods)
    bar = min(36.0, step * 0.6)
    highest = max([1] + [max(p.figures["patrol_hours"], p.figures["target_hours"])
                         for p in periods])  # fmt: skip
    longest = periods[0].hours
    gap_top = top + band + 50
    height = gap_top + gap_band + 30
    what = "weeks" if kind == "week" else "days"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="chart-{kind}-title" class="chart">',
        f'<title id="chart-{kind}-title">Patrol hours against the commitment, hours on foot, '
        f"and the longest time with nobody seen, over the last {len(periods)} published "
        f"{what} (the same figures are in the table below)</title>",
        f'<text x="0" y="{top - 14}" font-size="11">Visible patrol and the commitment, '
        "in hours</text>",
        f'<text x="{left - 6}" y="{top + band}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{left - 6}" y="{top + 8}" font-size="11" text-anchor="end">{highest}</text>',
        f'<line x1="{left}" y1="{top}" x2="{width}" y2="{top}" stroke="#8a8a8a" '
        'stroke-dasharray="2 3"/>',
        f'<line x1="{left}" y1="{top + band}" x2="{width}" y2="{top + band}" stroke="#1a1a1a"/>',
        f'<text x="0" y="{gap_top - 14}" font-size="11">Longest time with nobody seen, in '
        f"hours (the whole {kind} is {longest})</text>",
        f'<text x="{left - 6}" y="{gap_top + gap_band}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{left - 6}" y="{gap_top + 8}" font-size="11" text-anchor="end">{longest}</text>',
        f'<line x1="{left}" y1="{gap_top}" x2="{width}" y2="{gap_top}" stroke="#8a8a8a" '
        'stroke-dasharray="2 3"/>',
        f'<line x1="{left}" y1="{gap_top + gap_band}" x2="{width}" y2="{gap_top + gap_band}" '
        'stroke="#1a1a1a"/>',
    ]
    for i, p in enumerate(periods):
        f = p.figures
        x = left + i * step + (step - bar) / 2
        scale = band / highest
        patrol_h, foot_h = f["patrol_hours"] * scale, f["foot_hours"] * scale
        tick = top + band - f["target_hours"] * scale
        gap_h = gap_band * min(f["longest_gap_hours"], longest) / longest
        label = escape(f"{p.first_day.day} {p.first_day:%b}")
        parts += [
            f'<rect x="{x:.1f}" y="{top + band - patrol_h:.1f}" width="{bar:.1f}" '
            f'height="{patrol_h:.1f}" fill="{PATROL_COLOUR}" stroke="#1a1a1a" stroke-width="0.5"/>',
            f'<rect x="{x + bar * 0.25:.1f}" y="{top + band - foot_h:.1f}" '
            f'width="{bar * 0.5:.1f}" height="{foot_h:.1f}" fill="{FOOT_COLOUR}"/>',
            f'<line x1="{x - 3:.1f}" y1="{tick:.1f}" x2="{x + bar + 3:.1f}" y2="{tick:.1f}" '
            'stroke="#1a1a1a" stroke-width="2" stroke-dasharray="4 2"/>',
            f'<rect x="{x:.1f}" y="{gap_top + gap_band - gap_h:.1f}" width="{bar:.1f}" '
            f'height="{gap_h:.1f}" fill="{GAP_COLOUR}"/>',
            f'<text x="{x + bar / 2:.1f}" y="{height - 6}" font-size="11" '
            f'text-anchor="middle">{label}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("beatlight.maps", "templates"),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)  # fmt: skip


def _template(name: str) -> Any:
    return _environment().get_template(name)
