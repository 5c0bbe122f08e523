"""Read-side queries of the store that are not whole snapshot documents.

Each takes a :class:`~sqlalchemy.orm.Session` and returns plain rows; the routes
shape them into responses. They use the indexes of :mod:`api.models`: history by
``(level, code, window, hour)``, and alerts by ``as_of``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.models import Alert, Area, History, HourRevision, HourSummary
from beatlight.streams.report import METRICS

__all__ = [
    "areas",
    "exists",
    "hour_range",
    "raised_alerts",
    "series",
    "ward_windows",
    "weekly_figures",
]


def areas(session: Session, level: str | None = None, code: str | None = None) -> list[Area]:
    """Stored areas, by level then code."""
    query = sa.select(Area)
    if level is not None:
        query = query.where(Area.level == level)
    if code is not None:
        query = query.where(Area.code == code)
    levels = sa.case({"ward": 0, "neighbourhood": 1, "district": 2, "force": 3}, value=Area.level)
    return list(session.execute(query.order_by(levels, Area.code)).scalars())


#: ``(hour, revision, revised_at, first_published_at)`` of a revised point of a series.
Revised = tuple[datetime, int, datetime | None, datetime | None]


def series(
    session: Session,
    level: str,
    code: str,
    window: str,
    metric: str,
    start: datetime,
    end: datetime,
    hours: list[datetime] | None = None,
) -> tuple[list[tuple[datetime, Any]], list[Revised]]:
    """One metric of one area between ``start`` and ``end`` (inclusive), at every stored
    hour or only at ``hours``: ``(hour, value)`` of each, and ``(hour, revision, revised_at,
    first_published_at)`` of those at which this area's figures changed after the hour was
    first published.

    One index-only scan of ``ix_history_series`` on PostgreSQL; the hours' first
    publications are read only when a figure was revised."""
    if hours is not None and not hours:
        return [], []
    table = History.__table__
    # revised_at as the driver gives it (aware on PostgreSQL, naive UTC on SQLite), made a
    # moment only for the few revised points, not for every hour of the series.
    revised_at = sa.type_coerce(table.c.revised_at, sa.DateTime())
    query = sa.select(table.c.hour, table.c[metric], table.c.revision, revised_at).where(
        table.c.level == level, table.c.code == code, table.c.window == window,
        table.c.hour >= start, table.c.hour <= end,
    )  # fmt: skip
    if hours is not None:
        query = query.where(table.c.hour.in_(hours))
    rows = session.connection().execute(query.order_by(table.c.hour)).all()
    points = [(hour, value) for hour, value, _, _ in rows]
    changed = [(hour, revision, _utc(at)) for hour, _, revision, at in rows if revision]
    if not changed:
        return points, []
    first = dict(session.execute(
        sa.select(HourRevision.hour, HourRevision.revised_at).where(
            HourRevision.revision == 0, HourRevision.hour.in_([h for h, _, _ in changed]))
    ).all())  # fmt: skip
    return points, [(hour, revision, at, first.get(hour)) for hour, revision, at in changed]


def exists(session: Session, level: str, code: str) -> bool:
    """Whether an area of ``level`` has the code ``code``."""
    query = sa.select(Area.id).where(Area.level == level, Area.code == code).limit(1)
    return session.connection().execute(query).first() is not None


def weekly_figures(
    session: Session, hours: list[datetime], window: str = "7d"
) -> dict[str, list[tuple[datetime, float, float, float | None]]]:
    """Every ward's ``(hour, patrol_minutes, target_minutes, attainment)`` at ``hours``."""
    if not hours:
        return {}
    rows = session.execute(
        sa.select(History.code, History.hour, History.patrol_minutes, History.target_minutes,
                  History.attainment)
        .where(History.level == "ward", History.window == window, History.hour.in_(hours))
        .order_by(History.code, History.hour)
    )  # fmt: skip
    out: dict[str, list[tuple[datetime, float, float, float | None]]] = {}
    for code, hour, patrol, target, attainment in rows:
        out.setdefault(code, []).append((hour, patrol, target, attainment))
    return out


def ward_windows(
    session: Session, code: str, moments: list[tuple[datetime, str]]
) -> dict[tuple[datetime, str], dict[str, Any]]:
    """One ward's figures at each ``(hour, window)`` of ``moments`` that is stored, as the
    report document's window entries (the public pages' published days and weeks)."""
    if not moments:
        return {}
    hours = sorted({hour for hour, _ in moments})
    windows = sorted({window for _, window in moments})
    query = sa.select(History).where(
        History.level == "ward", History.code == code,
        History.hour.in_(hours), History.window.in_(windows),
    )  # fmt: skip
    wanted = set(moments)
    out = {}
    for row in session.execute(query).scalars():
        key = (row.hour, row.window)
        if key in wanted:
            out[key] = {name: getattr(row, name) for name in METRICS}
    return out


def raised_alerts(session: Session, since: datetime, limit: int = 500) -> list[Alert]:
    """Alerts raised at or after ``since``, newest first."""
    query = (sa.select(Alert).where(Alert.as_of >= since)
             .order_by(Alert.as_of.desc(), Alert.level, Alert.code).limit(limit))  # fmt: skip
    return list(session.execute(query).scalars())


def hour_range(session: Session) -> tuple[datetime | None, datetime | None]:
    """The first and last stored hour boundaries."""
    first, last = session.execute(sa.select(sa.func.min(HourSummary.hour),
                                            sa.func.max(HourSummary.hour))).one()  # fmt: skip
    return _aware(first), _aware(last)


def stored_among(session: Session, hours: list[datetime]) -> set[datetime]:
    """Which of ``hours`` have a stored snapshot."""
    if not hours:
        return set()
    query = sa.select(HourSummary.hour).where(HourSummary.hour.in_(hours))
    return {_aware(h) for h in session.execute(query).scalars()}  # type: ignore[misc]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return None if moment is None else moment.astimezone(UTC)
    return moment.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite: make them aware UTC like the columns.
    from beatlight.api.models import UTCDateTime

    if moment is None or isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return UTCDateTime().process_result_value(moment, None)  # type: ignore[arg-type]
