"""Read-side queries of the store that are not whole snapshot documents.

Each takes a :class:`~sqlalchemy.orm.Session` and returns plain rows; the routes
shape them into responses. They use the indexes of :mod:`api.models`: history by
``(level, code, hour)``, and alerts by ``as_of``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.models import Alert, Area, History, HourRevision, HourSummary

__all__ = [
    "areas",
    "hour_range",
    "raised_alerts",
    "revised",
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


def series(
    session: Session,
    level: str,
    code: str,
    window: str,
    metric: str,
    start: datetime,
    end: datetime,
    hours: list[datetime] | None = None,
) -> list[tuple[datetime, Any]]:
    """``(hour, value)`` of one metric of one area between ``start`` and ``end`` (inclusive),
    at every stored hour, or only at ``hours``."""
    column = getattr(History, metric)
    query = sa.select(History.hour, column).where(
        History.level == level, History.code == code, History.window == window,
        History.hour >= start, History.hour <= end,
    )  # fmt: skip
    if hours is not None:
        if not hours:
            return []
        query = query.where(History.hour.in_(hours))
    return [(hour, value) for hour, value in session.execute(query.order_by(History.hour))]


def revised(
    session: Session,
    level: str,
    code: str,
    window: str,
    start: datetime,
    end: datetime,
    hours: list[datetime] | None = None,
) -> list[tuple[datetime, int, datetime | None, datetime | None]]:
    """``(hour, revision, revised_at, first_published_at)`` of each stored hour between
    ``start`` and ``end`` (or of ``hours``) at which this area's figures changed after the
    hour was first published."""
    first = sa.orm.aliased(HourRevision)
    query = (
        sa.select(History.hour, History.revision, History.revised_at, first.revised_at)
        .outerjoin(first, sa.and_(first.hour == History.hour, first.revision == 0))
        .where(History.level == level, History.code == code, History.window == window,
               History.hour >= start, History.hour <= end, History.revision > 0)
    )  # fmt: skip
    if hours is not None:
        if not hours:
            return []
        query = query.where(History.hour.in_(hours))
    return [tuple(row) for row in session.execute(query.order_by(History.hour))]  # type: ignore[misc]


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
            out[key] = {name: getattr(row, name) for name in _WINDOW_FIGURES}
    return out


_WINDOW_FIGURES = ("patrol_minutes", "foot_minutes", "unit_minutes", "longest_gap_minutes",
                   "distinct_units", "visits", "koper_visits", "coverage", "target_minutes",
                   "attainment", "status")  # fmt: skip


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


def _aware(moment: datetime | None) -> datetime | None:
    # Aggregates bypass the column type on SQLite: make them aware UTC like the columns.
    from beatlight.api.models import UTCDateTime

    if moment is None or isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return UTCDateTime().process_result_value(moment, None)  # type: ignore[arg-type]
