"""What the PCC report reads from report documents: the period, its days, and the wards
below target and for how long. Pure: documents in, plain records out.

A report covers ``period_days`` local days (SPEC: calendar days in the settings'
time zone) ending at ``as_of``. Each day's figures are the ``24h`` window of the
document at the local midnight that ends it, as the public view's days are, so
the CLI and the API read the same days from the same documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.times import parse_time

__all__ = [
    "MAX_PERIOD_DAYS",
    "STATUSES",
    "Day",
    "Shortfall",
    "daily_boundaries",
    "days",
    "is_local_midnight",
    "shortfalls",
    "window_for",
]

#: SPEC rule 10's statuses, best first.
STATUSES = ("green", "amber", "red", "none")
#: Longest period a report covers (a quarter).
MAX_PERIOD_DAYS = 92


def window_for(period_days: int) -> str:
    """The document window the headline figures use: the longest that fits in the period."""
    if period_days >= 28:
        return "28d"
    if period_days >= 7:
        return "7d"
    return "24h"


def is_local_midnight(us: int, zone: ZoneInfo) -> bool:
    """Whether the moment ``us`` (microseconds since the epoch) is a local midnight."""
    local = datetime.fromtimestamp(us / 1_000_000, UTC).astimezone(zone)
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


def daily_boundaries(as_of: datetime, period_days: int, zone: ZoneInfo) -> list[datetime]:
    """The local midnights (UTC) ending the period's ``period_days`` days, oldest first.

    The last one is the latest local midnight at or before ``as_of``.
    """
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise ValueError(f"a report covers 1 to {MAX_PERIOD_DAYS} days, not {period_days}")
    last = as_of.astimezone(zone).date()
    return [_midnight(last - timedelta(days=k), zone) for k in reversed(range(period_days))]


@dataclass(frozen=True)
class Day:
    """One local day of the period: its ``24h`` figures, or ``None`` when none are stored."""

    day: date  # the local day covered
    end: datetime  # the local midnight that ends it, UTC
    force: Mapping[str, Any] | None  # the force's 24h window figures
    statuses: Mapping[str, int] | None  # wards per status in the 24h window
    ward_status: Mapping[str, str] | None  # code -> status in the 24h window
    gini_minutes_per_km2: float | None = None
    #: When the day's figures were last revised after first publication (late uploads).
    revised_at: str | None = None


def days(
    history: Iterable[Mapping[str, Any]], as_of: datetime, period_days: int, zone: ZoneInfo
) -> list[Day]:
    """The period's days from the documents at its daily boundaries (others are ignored)."""
    by_end = {parse_time(d["as_of"]): d for d in history}
    out = []
    for end in daily_boundaries(as_of, period_days, zone):
        day = (end.astimezone(zone) - timedelta(hours=12)).date()
        document = by_end.get(end)
        if document is None or not document.get("accepted"):
            # Not stored, or before the first ping: no data, rather than "nobody seen".
            out.append(Day(day, end, None, None, None))
            continue
        wards = {w["code"]: w["windows"]["24h"]["status"] for w in document["wards"]}
        force = document["force"]["windows"]["24h"] if document.get("force") else None
        out.append(Day(
            day, end, force, dict(Counter(wards.values())), wards,
            (document.get("fairness", {}).get("24h") or {}).get("gini_minutes_per_km2"),
            document.get("revised_at") if document.get("revision") else None,
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class Shortfall:
    """A ward below target in the headline window, and for how long (in daily figures)."""

    code: str
    name: str
    district: str | None
    status: str
    patrol_minutes: float
    target_minutes: float
    attainment: float | None
    longest_gap_minutes: float
    last_seen: str | None
    days_in_a_row: int  # latest days running whose 24h status was below target
    days_below: int  # days of the period below target
    days_known: int  # days of the period with figures
    since: date | None  # first day of the current run (None if the last day was on target)


def shortfalls(document: Mapping[str, Any], period: list[Day], window: str) -> list[Shortfall]:
    """Wards whose status in ``window`` is below target (not ``green``, rule 10), the worst
    first: nobody seen, then by attainment, then the longest run of days below target."""
    names = {d["code"]: d["name"] for d in document.get("districts", [])}
    out = []
    for ward in document["wards"]:
        figures = ward["windows"][window]
        if figures["status"] == "green":
            continue
        run, since, below, known = 0, None, 0, 0
        for day in period:
            status = None if day.ward_status is None else day.ward_status.get(ward["code"])
            if status is None:
                run, since = 0, None  # a day without figures breaks a run
                continue
            known += 1
            if status == "green":
                run, since = 0, None
            else:
                below += 1
                run, since = run + 1, since or day.day
        out.append(Shortfall(
            code=ward["code"], name=ward["name"],
            district=names.get(ward.get("district"), ward.get("district")),
            status=figures["status"], patrol_minutes=figures["patrol_minutes"],
            target_minutes=figures["target_minutes"], attainment=figures["attainment"],
            longest_gap_minutes=figures["longest_gap_minutes"], last_seen=figures["last_seen"],
            days_in_a_row=run, days_below=below, days_known=known, since=since,
        ))  # fmt: skip
    order = {status: i for i, status in enumerate(("none", "red", "amber"))}
    out.sort(key=lambda s: (order[s.status], s.attainment or 0.0, -s.days_in_a_row, s.code))
    return out


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
