"""Writing topic records into the store idempotently.

:class:`Changes` collects the records of one batch (pure: no database), keeping
the last record per key as a compacted topic would. :func:`apply` upserts them
with ``INSERT … ON CONFLICT`` (PostgreSQL and SQLite), so storing the same
records again changes nothing. Reading report documents back is
:mod:`beatlight.api.documents`.

Hours come with their revision (SPEC "Late uploads"): a record of a newer or the same
revision replaces the stored one, an older one (a replay of the topic) changes
nothing, and a repeat keeps the stored ``revised_at``. So the newest revision is
served whatever order records are stored in, and replays change no time. Each hour
stored is rendered once into ``hour_documents`` (:mod:`beatlight.api.hour_documents`).

Zones (SPEC Z4) ride in the same snapshots, in the summary's ``zones`` or as
``zone|{code}`` records; :mod:`beatlight.api.zone_store` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.bulk import upsert
from beatlight.api.db import insert_for
from beatlight.api.hour_documents import render_hours
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
from beatlight.api.zone_store import ZoneChanges, apply_zones
from beatlight.streams.report import METRICS
from beatlight.times import parse_time

__all__ = ["Changes", "apply", "read_offsets"]

_SUMMARY = ("slot_seconds", "fairness", "outside", "accepted", "rejected", "duplicates")


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
    zones: ZoneChanges = field(default_factory=ZoneChanges)

    def __len__(self) -> int:
        return (len(self.areas) + len(self.live) + len(self.history) + len(self.alerts)
                + len(self.hour_summaries) + len(self.hour_revisions) + len(self.zones)
                + (self.live_summary is not None))  # fmt: skip

    def add_history(self, key: str, value: dict[str, Any]) -> None:
        """A ``visibility.history`` record: ``{hour}|{level}|{code}`` or ``{hour}|summary``."""
        hour = parse_time(key.split("|", 1)[0])
        revised = {"revision": value.get("revision"),
                   "revised_at": _time_or_none(value.get("revised_at"))}  # fmt: skip
        if key.endswith("|summary"):
            row = {"hour": hour, **{k: value[k] for k in _SUMMARY}} | revised
            _keep_newer(self.hour_summaries, hour, row)
            if "zones" in value:
                self.zones.add(value["zones"], as_of=hour, hour=True, **revised)
            if row["revision"] is not None:
                self.hour_revisions.setdefault((hour, row["revision"]), {
                    "hour": hour, "revision": row["revision"], "revised_at": row["revised_at"],
                    "accepted": row["accepted"], "outside": row["outside"]})  # fmt: skip
            return
        if value.get("level") == "zone":
            self.zones.add([value], as_of=hour, hour=True, **revised)
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
            if "zones" in value:
                self.zones.add(value["zones"], as_of=as_of, hour=False)
            return
        if value.get("level") == "zone":
            self.zones.add([value], as_of=as_of, hour=False)
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
            "status": value.get("status"), "previous_status": value.get("previous_status"),
            "as_of": as_of, "window": value.get("window"),
            "last_seen": _time_or_none(value.get("last_seen")),
            "minutes_unvisited": value.get("minutes_unvisited"),
            "session_start": _time_or_none(value.get("session_start")),
            "session_end": _time_or_none(value.get("session_end")),
            "minutes_unattended": value.get("minutes_unattended"),
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
    # Every snapshot names its areas: only a change of their attributes is written.
    _upsert(session, Area, changes.areas.values(), ("level", "code"), skip=("id",), changed=True)
    _upsert(session, LiveMetric, changes.live.values(), ("level", "code", "window"),
            newer=True)  # fmt: skip
    if changes.live_summary is not None:
        _upsert(session, LiveSummary, [changes.live_summary], ("id",), newer=True)
    _upsert_revised(session, History, changes.history.values(),
                    ("hour", "level", "code", "window"))  # fmt: skip
    _upsert_revised(session, HourSummary, changes.hour_summaries.values(), ("hour",))
    render_hours(session, changes.hour_summaries)  # the hours' rows are all written above
    if changes.hour_revisions:  # the first record of a revision says when it was made
        insert = insert_for(session)(HourRevision).on_conflict_do_nothing(
            index_elements=["hour", "revision"]
        )
        session.execute(insert, list(changes.hour_revisions.values()))
    if changes.alerts:
        insert = insert_for(session)(Alert).on_conflict_do_nothing(
            index_elements=["level", "code", "kind", "as_of"]
        )
        session.execute(insert, list(changes.alerts.values()))
    apply_zones(session, changes.zones)
    offsets = [{"topic": t, "partition": p, "next_offset": n}
               for (t, p), n in changes.offsets.items()]  # fmt: skip
    _upsert(session, MaterialiserOffset, offsets, ("topic", "partition"))


def read_offsets(session: Session) -> dict[tuple[str, int], int]:
    """The next offset to store of every topic partition seen so far."""
    rows = session.execute(sa.select(MaterialiserOffset)).scalars()
    return {(row.topic, row.partition): row.next_offset for row in rows}


# -- internals ---------------------------------------------------------------------------


def _upsert_revised(
    session: Session, model: type, rows: Iterable[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    """Upsert rows with a ``revision``: the same or a newer revision replaces the stored row,
    an older one changes nothing, and the same one keeps its ``revised_at``."""
    table = model.__table__  # type: ignore[attr-defined]

    def conflict(insert: Any) -> Any:
        new = sa.func.coalesce(insert.excluded.revision, -1)
        old = sa.func.coalesce(table.c.revision, -1)
        updated = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
        updated["revised_at"] = sa.case(
            (new > old, insert.excluded.revised_at),
            else_=sa.func.coalesce(table.c.revised_at, insert.excluded.revised_at),
        )
        return insert.on_conflict_do_update(index_elements=list(keys), set_=updated,
                                            where=new >= old)  # fmt: skip

    upsert(session, table, rows, conflict)


def _keep_newer(rows: dict[Any, dict[str, Any]], key: Any, row: dict[str, Any]) -> None:
    """The row of the newest revision per key in a batch (the last of equal ones)."""
    old = rows.get(key)
    if old is None or _revision(row) >= _revision(old):
        rows[key] = row


def _revision(row: dict[str, Any]) -> int:
    return -1 if row["revision"] is None else row["revision"]


def _upsert(
    session: Session,
    model: type,
    rows: Iterable[dict[str, Any]],
    keys: tuple[str, ...],
    *,
    skip: tuple[str, ...] = (),
    newer: bool = False,
    changed: bool = False,
) -> None:
    """Upsert ``rows`` keyed by ``keys``; ``newer``: only over an older ``as_of``;
    ``changed``: only where a value differs (no new row version for the same values)."""
    table = model.__table__  # type: ignore[attr-defined]

    def conflict(insert: Any) -> Any:
        kept = [c for c in table.columns if c.name not in keys and c.name not in skip]
        where = None
        if newer:  # live figures never go back in time, whatever order records come in
            where = table.c.as_of <= insert.excluded.as_of
        elif changed:
            where = sa.or_(*(_comparable(c).is_distinct_from(_comparable(insert.excluded[c.name]))
                             for c in kept))  # fmt: skip
        return insert.on_conflict_do_update(
            index_elements=list(keys), set_={c.name: insert.excluded[c.name] for c in kept},
            where=where)  # fmt: skip

    upsert(session, table, rows, conflict)


def _comparable(column: Any) -> Any:
    """``column`` as something PostgreSQL can compare (``json`` has no equality)."""
    return sa.cast(column, sa.Text) if isinstance(column.type, sa.JSON) else column


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    row = {name: metrics[name] for name in METRICS}
    row["last_seen"] = _time_or_none(row["last_seen"])
    return row


def _time_or_none(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text)
