"""The zones read back from the store (SPEC Z2-Z4, Z6), with what the zones file says.

The store holds what the stream publishes about zones: names, windows and sessions.
Whether a zone is public and what it is committed to come from the zones file the API
is given (``--zones``, ``BEATLIGHT_ZONES``): a zone the file does not name, or an API
without a file, publishes nothing to residents, as the SPEC's default ``public: false``
asks (hot-spot locations are operationally sensitive).

Returns (Z6) add up the settled hours (``zone_returns``: the figures an hour snapshot
gives an hour that ended long enough before it that no later ping can change them,
presence gap-filled across the hour's end and Koper visits running on past it
included). Patrol and unit minutes are sums over the period's slots, and a visit
belongs to the hour its first slot is in (rule 6), so it counts once, in the period it
starts in: a complete period's figures are the batch returns' (``beatlight returns``).
Periods run from the one holding the first settled hour to the end of the latest;
``hours_missing`` says how many hours of a period up to then are not stored (those
before the first included), and ``complete`` whether the period ended by the latest.
Sessions count in the period they start in, once ended, with their newest stored
figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.models import Zone, ZoneHistory, ZoneLive, ZoneReturnHour, ZoneSession
from beatlight.api.zone_store import RETURNS_FIGURES, SESSION_FIGURES, ZONE_METRICS
from beatlight.streams.zone_figures import periods

__all__ = [
    "RETURNS_COLUMNS",
    "STALE_LIVE",
    "ZONE_FIELDS",
    "current",
    "returns",
    "sessions",
    "stored_at",
    "zone_metadata",
    "zone_windows",
    "zones_with_figures",
]

#: What the zones file says of a zone, beside its code, name and kind.
ZONE_FIELDS = ("public", "target_minutes_per_week", "schedule", "session_target_minutes",
               "max_gap_minutes")  # fmt: skip
RETURNS_COLUMNS = (
    "code", "name", "kind", "period", "start", "end", "complete", "patrol_hours",
    "unit_hours", "visits", "koper_visits", "sessions", "sessions_met", "hours_missing",
)  # fmt: skip
_HOUR = timedelta(hours=1)
#: How much older than the newest live figures a zone's may be and still count as live.
STALE_LIVE = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def zone_metadata(zones: Any) -> dict[str, dict[str, Any]]:
    """``{code: entry}`` from a :class:`~beatlight.geo.zones.Zones` (blank numbers: null)."""
    if zones is None:
        return {}
    return {
        str(code): {
            "code": str(code), "name": str(zones.names[i]), "kind": zones.kinds[i],
            "public": bool(zones.public[i]),
            "target_minutes_per_week": _number(zones.target_minutes_per_week[i]),
            "schedule": zones.schedule_texts[i],
            "session_target_minutes": _number(zones.session_target_minutes[i]),
            "max_gap_minutes": _number(zones.max_gap_minutes[i]),
        }
        for i, code in enumerate(zones.codes)
    }  # fmt: skip


def zones_with_figures(
    session: Session, meta: dict[str, dict[str, Any]], code: str | None = None
) -> list[dict[str, Any]]:
    """Every zone the store or the file names (or the one ``code``), by code, with the
    file's fields (null, and ``public`` false, for a zone the file does not name).
    A zone the store names but the file does not is one removed from the file (or an
    API without a file): callers keep it where it has figures (:func:`current`)."""
    query = sa.select(Zone.code, Zone.name, Zone.kind)
    if code is not None:
        query = query.where(Zone.code == code)
    found = {c: {"code": c, "name": n, "kind": k} for c, n, k in session.execute(query)}
    for c, entry in meta.items():
        if code is None or c == code:
            found.setdefault(c, {k: entry[k] for k in ("code", "name", "kind")})
    blank = {"public": False} | dict.fromkeys(ZONE_FIELDS[1:])
    return [found[c] | {k: meta.get(c, blank)[k] for k in ZONE_FIELDS} for c in sorted(found)]


def zone_windows(
    session: Session, hour: datetime | None, codes: list[str] | None = None
) -> tuple[datetime | None, dict[str, dict[str, dict[str, Any]]]]:
    """``(as_of, {code: {window: figures}})``: live (``hour`` None) or at an hour boundary."""
    model = ZoneLive if hour is None else ZoneHistory
    query = sa.select(model)
    if hour is not None:
        query = query.where(ZoneHistory.hour == hour)
    if codes is not None:
        query = query.where(model.code.in_(codes))
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    rows = list(session.execute(query).scalars())
    as_of = hour
    if hour is None and rows:
        as_of = session.execute(sa.select(sa.func.max(ZoneLive.as_of))).scalar_one()
        # A zone the live snapshots no longer carry (removed from the zones file) keeps
        # its last live rows: they are not live figures any more.
        rows = [row for row in rows if row.as_of >= as_of - STALE_LIVE]
    for row in rows:
        out[row.code][row.window] = {name: getattr(row, name) for name in ZONE_METRICS}
    for code, windows in out.items():
        out[code] = dict(sorted(windows.items(), key=lambda w: _seconds(w[0])))
    return as_of, dict(out)


def current(
    zones: list[dict[str, Any]], meta: dict[str, dict[str, Any]], figures: dict[str, Any]
) -> list[dict[str, Any]]:
    """The zones the file names, and those it does not that have ``figures`` (by code):
    a zone removed from the file leaves the live views, and stays in its hours."""
    return [zone for zone in zones if zone["code"] in meta or zone["code"] in figures]


def stored_at(session: Session, hour: datetime) -> bool:
    """Whether zone figures are stored at the hour boundary ``hour``."""
    query = sa.select(ZoneHistory.code).where(ZoneHistory.hour == hour).limit(1)
    return session.execute(query).first() is not None


def sessions(
    session: Session, code: str, as_of: datetime, back: timedelta = timedelta(days=28)
) -> list[dict[str, Any]]:
    """A zone's sessions as the snapshot at ``as_of`` lists them (ended in the ``back``
    before it, or open), with their newest stored figures, by start."""
    query = (sa.select(ZoneSession).where(ZoneSession.code == code, ZoneSession.start < as_of,
                                          ZoneSession.end > as_of - back)
             .order_by(ZoneSession.start))  # fmt: skip
    return [{"start": s.start, "end": s.end, **{k: getattr(s, k) for k in SESSION_FIGURES}}
            for s in session.execute(query).scalars()]  # fmt: skip


def returns(
    session: Session, meta: dict[str, dict[str, Any]], period: str, timezone: str
) -> list[dict[str, Any]]:
    """Z6 from the stored hours: one row per zone and period, zones by code, from the
    period of the first settled hour to the one holding the latest (module docstring)."""
    hours = session.execute(sa.select(sa.func.min(ZoneReturnHour.start),
                                      sa.func.max(ZoneReturnHour.start))).one()  # fmt: skip
    if hours[0] is None:
        return []
    first, latest = hours
    last = latest + _HOUR  # the end of the latest settled hour
    found = periods(period, _us(first), _us(last), timezone)
    spans = [(label, _time(a), _time(b)) for label, a, b in found]
    starts = [a for _, a, _ in spans]
    sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0, 0])
    figures = sa.select(ZoneReturnHour.start, ZoneReturnHour.code,
                        *(getattr(ZoneReturnHour, k) for k in RETURNS_FIGURES))  # fmt: skip
    for start, code, *values in session.execute(figures):
        row = sums[code, _index(starts, start)]
        for k, value in enumerate(values):
            row[k] += value
        row[4] += 1
    held: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    ended = sa.select(ZoneSession.code, ZoneSession.start, ZoneSession.met).where(
        ZoneSession.open.is_(False), ZoneSession.start >= spans[0][1]
    )
    for code, start, met in session.execute(ended):
        at = _index(starts, start)
        if at < len(spans) and start < spans[at][2]:
            held[code, at][0] += 1
            held[code, at][1] += bool(met)
    rows = []
    for zone in zones_with_figures(session, meta):
        code = zone["code"]
        for p, (label, start, end) in enumerate(spans):
            patrol, unit, visits, koper, stored = sums.get((code, p), (0.0, 0.0, 0, 0, 0))
            expected = (min(end, last) - start) // _HOUR
            number, met = held.get((code, p), (0, 0))
            rows.append({
                "code": code, "name": zone["name"], "kind": zone["kind"] or "", "period": label,
                "start": start, "end": end, "complete": end <= last,
                "patrol_hours": patrol / 60, "unit_hours": unit / 60, "visits": int(visits),
                "koper_visits": int(koper), "sessions": number, "sessions_met": met,
                "hours_missing": max(int(expected) - int(stored), 0),
            })  # fmt: skip
    return rows


def _index(starts: list[datetime], moment: datetime) -> int:
    """The period ``moment`` falls in (the last whose start is at or before it)."""
    low, high = 0, len(starts)
    while low < high:
        middle = (low + high) // 2
        if starts[middle] <= moment:
            low = middle + 1
        else:
            high = middle
    return max(low - 1, 0)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _us(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _seconds(window: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
    try:
        return float(window[:-1]) * units[window[-1]]
    except (KeyError, ValueError):
        return float("inf")
