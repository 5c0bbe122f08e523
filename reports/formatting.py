"""How the PCC report writes its figures and times, and its cards and tables.

Small pure helpers shared by :mod:`beatlight.reports.html` and
:mod:`beatlight.reports.sections`: a missing figure shows as a dash, never as 0.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

__all__ = ["card", "hours", "local_time", "number", "pct", "table"]


def card(label: str, value: str, detail: str) -> str:
    """A headline figure: its label, its value, and a line saying what it means."""
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>'
            f'<div class="detail">{escape(detail)}</div></div>')  # fmt: skip


def table(header: tuple[str, ...], rows: list[str]) -> str:
    """A table with this header over these rendered rows."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def hours(minutes: float | None) -> str:
    """Minutes as hours: one decimal below 100 h, none from there; a dash for none."""
    if minutes is None:
        return "–"
    hours = minutes / 60
    return f"{hours:,.0f} h" if hours >= 100 else f"{hours:,.1f} h"


def pct(share: float | None, *, floor: bool = False) -> str:
    """A share as a whole percentage; ``floor`` for attainment, so that 74.9% (red) never
    shows as 75% (amber) nor 99.6% (amber) as 100% (green)."""
    if share is None:
        return "–"
    return f"{math.floor(share * 100 + 1e-9)}%" if floor else f"{share:.0%}"


def number(value: float | None) -> str:
    """A coefficient to two decimals; a dash for none."""
    return "–" if value is None else f"{value:.2f}"


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as the report writes it in the force's time zone."""
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"
