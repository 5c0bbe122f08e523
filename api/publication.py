"""The public view's rules (SPEC "Privacy and publication rules"), pure and clock-free.

Residents see complete local days and weeks that ended at least ``publish_delay``
ago, per ward only, with patrol time rounded to whole hours and distinct-unit
counts below the threshold suppressed. Nothing live, no points, no cells.

A day's figures are the stream's snapshot at the day's local midnight end with the
``24h`` window; a week (Monday to Sunday) uses the ``7d`` window at the Monday
midnight that ends it. On the two days a year when clocks change, a local day is
23 or 25 hours long while the window stays 24 hours; the published figures say so
through their ``start`` (``end`` − 24 h) and ``end``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from beatlight.windows import WINDOW_SECONDS, Window

__all__ = [
    "PERIOD_WINDOWS",
    "Period",
    "latest_published",
    "local_midnight",
    "period_end",
    "period_start",
    "published_until",
    "public_ward",
    "public_zone",
    "samples",
    "whole_hours",
]

Period = Literal["day", "week"]
#: The window whose figures a period publishes.
PERIOD_WINDOWS: dict[Period, Window] = {"day": "24h", "week": "7d"}


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC moment the local ``day`` starts."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def period_end(period: Period, first_day: date, zone: ZoneInfo) -> datetime:
    """When the day, or the week starting on Monday ``first_day``, ends (UTC)."""
    days = 1 if period == "day" else 7
    return local_midnight(first_day + timedelta(days=days), zone)


def period_start(period: Period, first_day: date, zone: ZoneInfo) -> datetime:
    """The start of the window the period's figures cover: its end minus the window."""
    window = timedelta(seconds=WINDOW_SECONDS[PERIOD_WINDOWS[period]])
    return period_end(period, first_day, zone) - window


def published_until(now: datetime, delay: timedelta) -> datetime:
    """Periods that end at or before this moment are published."""
    return now - delay


def latest_published(period: Period, now: datetime, delay: timedelta, zone: ZoneInfo) -> date:
    """The first day of the latest period that is published at ``now``."""
    until = published_until(now, delay)
    last = until.astimezone(zone).date()
    day = last if period == "day" else _monday_on_or_before(last)
    step = timedelta(days=1 if period == "day" else 7)
    while period_end(period, day, zone) > until:
        day -= step
    return day


def samples(
    start: datetime, end: datetime, resolution: str, zone: ZoneInfo
) -> list[datetime] | None:
    """The hour boundaries a history series samples in [start, end]: every hour (None),
    local midnights (daily) or local Monday midnights (weekly)."""
    if resolution == "hourly":
        return None
    out = []
    day = start.astimezone(zone).date()
    while True:
        moment = local_midnight(day, zone)
        if moment > end:
            return out
        if moment >= start and (resolution == "daily" or day.weekday() == 0):
            out.append(moment)
        day += timedelta(days=1)


def whole_hours(minutes: float) -> int:
    """Minutes as whole hours, halves rounded up (30 min → 1 h)."""
    return int(math.floor(minutes / 60.0 + 0.5))


def public_ward(entry: dict[str, Any], window: dict[str, Any], min_units: int) -> dict[str, Any]:
    """A ward's published figures from its snapshot entry and window figures."""
    units = int(window["distinct_units"])
    suppressed = 0 < units < min_units
    return {
        "code": entry["code"],
        "name": entry["name"],
        "patrol_hours": whole_hours(window["patrol_minutes"]),
        "foot_hours": whole_hours(window["foot_minutes"]),
        "longest_gap_hours": whole_hours(window["longest_gap_minutes"]),
        "distinct_units": None if suppressed else units,
        "units_suppressed": suppressed,
        "coverage": round(float(window["coverage"]), 2),
        "target_hours": whole_hours(window["target_minutes"]),
        "status": window["status"],
    }


def public_zone(entry: dict[str, Any], window: dict[str, Any], min_units: int) -> dict[str, Any]:
    """A public zone's published figures (a ward's, without coverage; no target: null)."""
    units = int(window["distinct_units"])
    suppressed = 0 < units < min_units
    target = window["target_minutes"]
    return {
        "code": entry["code"],
        "name": entry["name"],
        "kind": entry["kind"],
        "patrol_hours": whole_hours(window["patrol_minutes"]),
        "foot_hours": whole_hours(window["foot_minutes"]),
        "distinct_units": None if suppressed else units,
        "units_suppressed": suppressed,
        "target_hours": None if target is None else whole_hours(target),
        "status": window["status"],
    }


def _monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())
