"""Report documents read back from the store: the live snapshot and hour boundaries.

:func:`report_document_at` rebuilds the batch report's document for an hour boundary
(SPEC "Batch report contract"), equal to what
:func:`beatlight.streams.aggregate.document_from_records` gives for the same records,
with each area's revision and when it was made (SPEC "Late uploads"), and
:func:`stored_document` reads the one rendered when the hour was stored, and
:func:`stored_answer` a figures answer rendered then;
:func:`live_document` does the same for the latest live snapshot. Writing the rows is
:mod:`beatlight.api.store`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.models import (
    Area,
    History,
    HourAnswer,
    HourDocument,
    HourSummary,
    LiveMetric,
    LiveSummary,
)
from beatlight.streams.report import METRICS
from beatlight.times import format_time

__all__ = [
    "live_document", "report_document_at", "stored_answer", "stored_document", "stored_hours",
]  # fmt: skip

_LEVELS = (("ward", "wards"), ("neighbourhood", "neighbourhoods"), ("district", "districts"))


def report_document_at(session: Session, hour: datetime) -> dict[str, Any] | None:
    """The report document of the snapshot at ``hour`` (``None`` if it is not stored)."""
    summary = session.get(HourSummary, hour)
    if summary is None:
        return None
    columns = _metric_columns(History, revised=True).where(History.hour == hour)
    rows = session.connection().execute(columns).all()
    document = _document(summary.hour, summary, rows, _areas(session), revised=True)
    if summary.revision is not None:
        document["revision"] = summary.revision
        document["revised_at"] = _format_or_none(summary.revised_at)
    return document


def stored_document(session: Session, hour: datetime, digest: str) -> dict[str, Any] | None:
    """The document stored for ``hour`` when it was stored (:mod:`api.hour_documents`), if
    it is still the one named ``digest``; else ``None``."""
    table = HourDocument.__table__
    blob = session.execute(sa.select(table.c.document).where(
        table.c.hour == hour, table.c.digest == digest)).scalar()  # fmt: skip
    return None if blob is None else orjson.loads(gzip.decompress(blob))


def stored_answer(
    session: Session, hour: datetime, digest: str, level: str | None, window: str | None
) -> bytes | None:
    """The figures answer for ``level`` in ``window`` (every one when both are None) stored
    with ``hour``'s document named ``digest``, gzip; ``None`` if there is none (an hour
    stored before answers were, or revised since)."""
    if level is None and window is None:
        table = HourDocument.__table__
        return session.execute(sa.select(table.c.metrics).where(
            table.c.hour == hour, table.c.digest == digest)).scalar()  # fmt: skip
    if level is None or window is None:
        return None  # one level in every window, or every level in one: made from the document
    answers = HourAnswer.__table__
    return session.execute(sa.select(answers.c.body).where(
        answers.c.hour == hour, answers.c.level == level, answers.c.window == window,
        answers.c.digest == digest)).scalar()  # fmt: skip


def live_document(session: Session) -> dict[str, Any] | None:
    """The latest live snapshot as a report document (``None`` before the first one)."""
    summary = session.get(LiveSummary, 1)
    if summary is None:
        return None
    rows = session.connection().execute(_metric_columns(LiveMetric)).all()
    return _document(summary.as_of, summary, rows, _areas(session))


def stored_hours(session: Session, since: datetime | None = None) -> list[datetime]:
    """The hour boundaries with a stored snapshot, oldest first."""
    query = sa.select(HourSummary.hour).order_by(HourSummary.hour)
    if since is not None:
        query = query.where(HourSummary.hour >= since)
    return list(session.execute(query).scalars())


def _format_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _metric_columns(model: type, *, revised: bool = False) -> sa.Select:
    # Plain columns, not ORM objects: a stored hour is thousands of rows (63,000 for
    # England). last_seen comes as the driver gives it, for _document to format once per
    # distinct moment: aware on PostgreSQL, naive UTC on SQLite.
    table = model.__table__  # type: ignore[attr-defined]
    names = (*METRICS, *_REVISED) if revised else METRICS
    columns = [sa.type_coerce(table.c[name], sa.DateTime()) if name in _TIMES
               else table.c[name] for name in names]  # fmt: skip
    return sa.select(table.c.level, table.c.code, table.c.window, *columns)


_REVISED = ("revision", "revised_at")
_TIMES = ("last_seen", "revised_at")


def _areas(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """Every stored area's entry (without windows), read once per document.

    Plain rows rather than ORM objects: for England that is 15,700 areas, and the ORM's
    identity map alone cost a third of a second a document.
    """
    table = Area.__table__
    return {(area.level, area.code): _area_entry(area)
            for area in session.connection().execute(sa.select(table)).all()}  # fmt: skip


def _document(
    as_of: datetime,
    summary: Any,
    rows: Iterable[Any],
    areas: dict[tuple[str, str], dict[str, Any]],
    *,
    revised: bool = False,
) -> dict[str, Any]:
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    times: dict[datetime, str] = {}  # an area's windows mostly share one last_seen
    for level, code, window, *values in rows:
        entry = entries.get((level, code))
        if entry is None:
            if (level, code) not in areas:
                continue  # figures of an area not stored (yet): like the inner join did
            entry = entries[level, code] = {**areas[level, code], "windows": {}}
        if revised:
            revision, revised_at = values[-2:]
            values = values[:-2]
            if revision:  # changed after the hour was first published: say so, and when
                entry["revision"] = revision
                entry["revised_at"] = _format_or_none(None if revised_at is None
                                                      else _utc(revised_at))  # fmt: skip
        figures = dict(zip(METRICS, values, strict=True))
        last_seen = figures["last_seen"]
        if last_seen is not None:
            text = times.get(last_seen)
            figures["last_seen"] = text if text is not None else times.setdefault(
                last_seen, format_time(_utc(last_seen)))  # fmt: skip
        entry["windows"][window] = figures
    order = sorted({w for e in entries.values() for w in e["windows"]}, key=_seconds)
    for entry in entries.values():  # windows shortest first, as the report has them
        windows = entry["windows"]
        entry["windows"] = {w: windows[w] for w in order if w in windows}
    document: dict[str, Any] = {"as_of": format_time(as_of), "slot_seconds": summary.slot_seconds}
    for level, key in _LEVELS:
        document[key] = sorted((e for (lv, _), e in entries.items() if lv == level),
                               key=lambda e: e["code"])  # fmt: skip
    forces = [e for (level, _), e in entries.items() if level == "force"]
    document["force"] = forces[0] if forces else {}
    for key in ("fairness", "outside", "accepted", "rejected", "duplicates"):
        document[key] = getattr(summary, key)
    return document


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _area_entry(area: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": area.code, "name": area.name}
    if area.level == "ward":
        entry["neighbourhood"] = area.neighbourhood
        entry["district"] = area.district
    else:
        entry["wards"] = list(area.wards or [])
    entry["area_km2"] = area.area_km2
    entry["population"] = area.population
    entry["target_minutes_per_week"] = area.target_minutes_per_week
    return entry


def _seconds(window: str) -> float:
    """``1h`` → 3600: windows in the report's order, shortest first."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
    try:
        return float(window[:-1]) * units[window[-1]]
    except (KeyError, ValueError):
        return float("inf")
