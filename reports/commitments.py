"""What the PCC report reads of zones (SPEC "Zones and scheduled commitments", Z3-Z4):
each zone's sessions over the period, day by day, and the zones furthest behind. Pure:
documents in, plain records out.

One document lists the sessions that ended in the 28 days before its ``as_of``, or are
still on, so a longer period gathers them from the documents at its local midnights. A
session is known by its zone and start; the latest document's figures for it win (a
session still on in one document has ended in a later one). A session belongs to the
local day it starts on, as its schedule says (Z3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.reports.trends import daily_boundaries
from beatlight.times import parse_time

__all__ = [
    "DAY_STATES",
    "FURTHEST_BEHIND",
    "Session",
    "ZoneDay",
    "ZoneRecord",
    "furthest_behind",
    "zone_records",
]

#: A day of a zone's calendar strip: a session missed, one still on, all met, none
#: scheduled, or no document with zone figures for it.
DAY_STATES = ("missed", "open", "met", "none", "unknown")
#: How many zones the report lists as furthest behind.
FURTHEST_BEHIND = 5
#: Z4: a document lists the sessions that ended in this long before its as_of.
_LISTED = timedelta(days=28)


@dataclass(frozen=True)
class Session:
    """One scheduled session of a zone, with the figures of the latest document listing it."""

    start: datetime
    end: datetime
    state: str  # "met", "missed" or "open"
    patrol_minutes: float
    longest_gap_minutes: float
    visits: int
    koper_visits: int


@dataclass(frozen=True)
class ZoneDay:
    """One local day of a zone's strip: the sessions that started on it."""

    day: date
    known: bool  # some document with zone figures lists every session of this day
    sessions: tuple[Session, ...]

    @property
    def state(self) -> str:
        """The day's state, the worst of its sessions first (see :data:`DAY_STATES`)."""
        if not self.known:
            return "unknown"
        states = {s.state for s in self.sessions}
        return next((s for s in ("missed", "open", "met") if s in states), "none")


@dataclass(frozen=True)
class ZoneRecord:
    """A zone over the period: its strip, its sessions met and missed, its weekly target."""

    code: str
    name: str
    kind: str | None
    days: tuple[ZoneDay, ...]
    #: window -> (patrol minutes, target minutes, attainment) for "7d" and "28d", when the
    #: zone has a weekly target (Z2); empty without one.
    target: Mapping[str, tuple[float, float, float | None]]

    @property
    def sessions(self) -> list[Session]:
        return [s for d in self.days for s in d.sessions]

    def count(self, state: str) -> int:
        return sum(s.state == state for s in self.sessions)

    @property
    def met(self) -> int:
        return self.count("met")

    @property
    def missed(self) -> int:
        return self.count("missed")

    @property
    def share_met(self) -> float | None:
        """Sessions met of those ended in the period; ``None`` when none ended."""
        ended = self.met + self.missed
        return self.met / ended if ended else None

    @property
    def patrol_minutes(self) -> float:
        """Patrol time in the period's sessions (a session still on: so far)."""
        return sum(s.patrol_minutes for s in self.sessions)


def zone_records(
    document: Mapping[str, Any],
    history: Iterable[Mapping[str, Any]],
    period_days: int,
    zone: ZoneInfo,
) -> list[ZoneRecord]:
    """The zones of ``document`` (none: an empty list) over the ``period_days`` local days
    to its ``as_of`` (the days of the report's trends), with their sessions gathered from
    ``document`` and ``history``."""
    if not document.get("zones"):
        return []
    sources = sorted(
        (d for d in (*history, document) if d.get("zones") is not None),
        key=lambda d: parse_time(d["as_of"]),
    )
    sessions: dict[tuple[str, datetime], Session] = {}
    for source in sources:  # oldest first: a later document's figures replace an earlier's
        for entry in source["zones"]:
            for raw in entry.get("sessions", ()):
                session = _session(raw)
                sessions[(entry["code"], session.start)] = session
    listed = [parse_time(d["as_of"]) for d in sources]
    ends = daily_boundaries(parse_time(document["as_of"]), period_days, zone)
    out = []
    for entry in document["zones"]:
        mine = sorted((s for (code, _), s in sessions.items() if code == entry["code"]),
                      key=lambda s: s.start)  # fmt: skip
        days = []
        for end in ends:
            start = _day_start(end, zone)
            day = start.astimezone(zone).date()
            known = any(end <= at and at - _LISTED <= start for at in listed)
            days.append(ZoneDay(day, known, tuple(
                s for s in mine if s.start.astimezone(zone).date() == day)))  # fmt: skip
        out.append(ZoneRecord(
            code=entry["code"], name=entry["name"], kind=entry.get("kind"), days=tuple(days),
            target=_target(entry.get("windows") or {}),
        ))  # fmt: skip
    return out


def furthest_behind(
    records: Iterable[ZoneRecord], limit: int = FURTHEST_BEHIND
) -> list[ZoneRecord]:
    """The zones with a missed session in the period, furthest behind first: the lowest
    share of sessions met, then the most sessions missed, then the least patrol time in
    sessions (then by code)."""
    behind = [r for r in records if r.missed]
    behind.sort(key=lambda r: (r.share_met, -r.missed, r.patrol_minutes, r.code))
    return behind[:limit]


def _session(raw: Mapping[str, Any]) -> Session:
    state = "open" if raw.get("open") or raw.get("met") is None else (
        "met" if raw["met"] else "missed")  # fmt: skip
    return Session(
        start=parse_time(raw["start"]), end=parse_time(raw["end"]), state=state,
        patrol_minutes=raw["patrol_minutes"], longest_gap_minutes=raw["longest_gap_minutes"],
        visits=raw.get("visits", 0), koper_visits=raw.get("koper_visits", 0),
    )  # fmt: skip


def _target(windows: Mapping[str, Any]) -> dict[str, tuple[float, float, float | None]]:
    out = {}
    for window in ("7d", "28d"):
        figures = windows.get(window) or {}
        if figures.get("target_minutes") is not None:
            out[window] = (figures["patrol_minutes"], figures["target_minutes"],
                           figures.get("attainment"))  # fmt: skip
    return out


def _day_start(end: datetime, zone: ZoneInfo) -> datetime:
    """The local midnight that starts the day ending at ``end`` (a day is 23 to 25 hours)."""
    day = (end.astimezone(zone) - timedelta(hours=12)).date()
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
