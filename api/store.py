"""Writing topic records into the store idempotently, and reading report documents back.

:class:`Changes` collects the records of one batch (pure: no database), keeping
the last record per key as a compacted topic would. :func:`apply` upserts them
with ``INSERT … ON CONFLICT`` (PostgreSQL and SQLite), so storing the same
records again changes nothing. :func:`report_document_at` rebuilds the batch
report's document for an hour boundary (SPEC "Batch report contract"), equal to
what :func:`beatlight.streams.aggregate.document_from_records` gives for the same records.

Hours come with their revision (SPEC "Late uploads"): a record of a newer or the same
revision replaces the stored one, an older one (a replay of the topic) changes
nothing, and a repeat keeps the stored ``revised_at``. So the newest revision is
served whatever order records are stored in, and replays change no time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from beatlight.api.models import (
    Alert,
    Area,
    History,
    HourRevision,
    HourSummary,
    LiveMetric,
    LiveSummary,
    MaterialiserOffset,
)
from beatlight.streams.report import METRICS
from beatlight.times import format_time, parse_time

__all__ = [
    "Changes",
    "apply",
    "live_document",
    "read_offsets",
    "report_document_at",
    "stored_hours",
]

_SUMMARY = ("slot_seconds", "fairness", "outside", "accepted", "rejected", "duplicates")
_LEVELS = (("ward", "wards"), ("neighbourhood", "neighbourhoods"), ("district", "districts"))


@dataclass
class Changes:
    """One batch of topic records as rows, the last record per key winning."""

    areas: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    live: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    live_summary: dict[str, Any] | None = None
    history: dict[tuple[datetime, str, str, str], dict[str, Any]] = field(default_factory=dict)
    hour_summaries: dict[datetime, dict[str, Any]] = field(default_factory=dict)
    hour_revisions: dict[tuple[datetime, int], dict[str, Any]] = field(default_factory=dict)
    alerts: dict[tuple[str, str, str, datetime], dict[str, Any]] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return (len(self.areas) + len(self.live) + len(self.history) + len(self.alerts)
                + len(self.hour_summaries) + len(self.hour_revisions)
                + (self.live_summary is not None))  # fmt: skip

    def add_history(self, key: str, value: dict[str, Any]) -> None:
        """A ``visibility.history`` record: ``{hour}|{level}|{code}`` or ``{hour}|summary``."""
        hour = parse_time(key.split("|", 1)[0])
        revised = {"revision": value.get("revision"),
                   "revised_at": _time_or_none(value.get("revised_at"))}  # fmt: skip
        if key.endswith("|summary"):
            row = {"hour": hour, **{k: value[k] for k in _SUMMARY}} | revised
            _keep_newer(self.hour_summaries, hour, row)
            if row["revision"] is not None:
                self.hour_revisions.setdefault((hour, row["revision"]), {
                    "hour": hour, "revision": row["revision"], "revised_at": row["revised_at"],
                    "accepted": row["accepted"], "outside": row["outside"]})  # fmt: skip
            return
        level, code = self._area(value)
        revised["revision"] = revised["revision"] or 0  # unchanged since first published
        for window, metrics in value["windows"].items():
            row = {"hour": hour, "level": level, "code": code, "window": window} | revised
            _keep_newer(self.history, (hour, level, code, window), row | _metrics(metrics))

    def add_live(self, key: str, value: dict[str, Any]) -> None:
        """A ``visibility.live`` record: ``{level}|{code}`` or ``summary``."""
        as_of = parse_time(value["as_of"])
        if key == "summary":
            if self.live_summary is None or self.live_summary["as_of"] <= as_of:
                self.live_summary = {"id": 1, "as_of": as_of,
                                     **{k: value[k] for k in _SUMMARY}}  # fmt: skip
            return
        level, code = self._area(value)
        for window, metrics in value["windows"].items():
            old = self.live.get((level, code, window))
            if old is None or old["as_of"] <= as_of:
                row = {"level": level, "code": code, "window": window, "as_of": as_of}
                self.live[level, code, window] = row | _metrics(metrics)

    def add_alert(self, value: dict[str, Any]) -> None:
        """A ``visibility.alerts`` record (only the SPEC-safe fields are kept)."""
        as_of = parse_time(value["as_of"])
        row = {
            "level": value["level"], "code": value["code"], "kind": value["kind"],
            "status": value["status"], "previous_status": value.get("previous_status"),
            "as_of": as_of, "window": value["window"],
            "last_seen": _time_or_none(value.get("last_seen")),
            "minutes_unvisited": value.get("minutes_unvisited"),
        }  # fmt: skip
        self.alerts.setdefault((row["level"], row["code"], row["kind"], as_of), row)

    def add_offset(self, topic: str, partition: int, offset: int) -> None:
        """Record that ``offset`` of the partition is in this batch."""
        self.offsets[topic, partition] = max(offset + 1, self.offsets.get((topic, partition), 0))

    def _area(self, value: dict[str, Any]) -> tuple[str, str]:
        level, code = value["level"], value["code"]
        self.areas[level, code] = {
            "level": level, "code": code, "name": value["name"],
            "neighbourhood": value.get("neighbourhood"), "district": value.get("district"),
            "wards": value.get("wards"), "area_km2": value["area_km2"],
            "population": value["population"],
            "target_minutes_per_week": value["target_minutes_per_week"],
        }  # fmt: skip
        return level, code


def apply(session: Session, changes: Changes) -> None:
    """Upsert a batch (the caller commits, offsets and rows together)."""
    _upsert(session, Area, changes.areas.values(), ("level", "code"), skip=("id",))
    _upsert(session, LiveMetric, changes.live.values(), ("level", "code", "window"),
            newer=True)  # fmt: skip
    if changes.live_summary is not None:
        _upsert(session, LiveSummary, [changes.live_summary], ("id",), newer=True)
    _upsert_revised(session, History, changes.history.values(),
                    ("hour", "level", "code", "window"))  # fmt: skip
    _upsert_revised(session, HourSummary, changes.hour_summaries.values(), ("hour",))
    if changes.hour_revisions:  # the first record of a revision says when it was made
        insert = _insert_for(session)(HourRevision).on_conflict_do_nothing(
            index_elements=["hour", "revision"]
        )
        session.execute(insert, list(changes.hour_revisions.values()))
    if changes.alerts:
        insert = _insert_for(session)(Alert).on_conflict_do_nothing(
            index_elements=["level", "code", "kind", "as_of"]
        )
        session.execute(insert, list(changes.alerts.values()))
    offsets = [{"topic": t, "partition": p, "next_offset": n}
               for (t, p), n in changes.offsets.items()]  # fmt: skip
    _upsert(session, MaterialiserOffset, offsets, ("topic", "partition"))


def read_offsets(session: Session) -> dict[tuple[str, int], int]:
    """The next offset to store of every topic partition seen so far."""
    rows = session.execute(sa.select(MaterialiserOffset)).scalars()
    return {(row.topic, row.partition): row.next_offset for row in rows}


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


# -- internals ---------------------------------------------------------------------------


def _insert_for(session: Session):  # noqa: ANN202
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise ValueError(f"the store runs on PostgreSQL or SQLite, not {name}")


def _upsert_revised(
    session: Session, model: type, rows: Iterable[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    """Upsert rows with a ``revision``: the same or a newer revision replaces the stored row,
    an older one changes nothing, and the same one keeps its ``revised_at``."""
    rows = list(rows)
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    insert = _insert_for(session)(table)
    new = sa.func.coalesce(insert.excluded.revision, -1)
    old = sa.func.coalesce(table.c.revision, -1)
    updated = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
    updated["revised_at"] = sa.case(
        (new > old, insert.excluded.revised_at),
        else_=sa.func.coalesce(table.c.revised_at, insert.excluded.revised_at),
    )
    session.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=updated,
                                                 where=new >= old), rows)  # fmt: skip


def _keep_newer(rows: dict[Any, dict[str, Any]], key: Any, row: dict[str, Any]) -> None:
    """The row of the newest revision per key in a batch (the last of equal ones)."""
    old = rows.get(key)
    if old is None or _revision(row) >= _revision(old):
        rows[key] = row


def _revision(row: dict[str, Any]) -> int:
    return -1 if row["revision"] is None else row["revision"]


def _format_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _upsert(
    session: Session,
    model: type,
    rows: Iterable[dict[str, Any]],
    keys: tuple[str, ...],
    *,
    skip: tuple[str, ...] = (),
    newer: bool = False,
) -> None:
    rows = list(rows)
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    insert = _insert_for(session)(table)
    updated = {c.name: insert.excluded[c.name] for c in table.columns
               if c.name not in keys and c.name not in skip}  # fmt: skip
    # Live figures never go back in time, whatever order records are stored in.
    where = table.c.as_of <= insert.excluded.as_of if newer else None
    session.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=updated,
                                                 where=where), rows)  # fmt: skip


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    row = {name: metrics[name] for name in METRICS}
    row["last_seen"] = _time_or_none(row["last_seen"])
    return row


def _time_or_none(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text)


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
