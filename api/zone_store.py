"""Writing the zones' figures of snapshot records into the store idempotently (SPEC Z4).

A snapshot carries its zones either in its summary record (the document's ``zones``
list, under the key ``zones``) or as one record per zone, keyed ``{prefix}|zone|{code}``
with ``level`` ``zone``; both are read. A snapshot without zones writes nothing.

Rows are keyed like the ward rows: live figures by zone and window (the newest
``as_of`` wins), hour figures by hour, zone and window (the newest revision wins, a
repeat keeps its ``revised_at``, as :mod:`api.store` does for wards), sessions by zone
and start (the newest snapshot wins: ``as_of``, then the revision, live counting as
-1), an hour's settled returns figures (an hour snapshot's ``returns_hour``) by hour
and zone (the newest revision wins). Storing the same records again, in any order,
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.db import insert_for
from beatlight.api.models import Zone, ZoneHistory, ZoneLive, ZoneReturnHour, ZoneSession
from beatlight.times import parse_time

__all__ = ["RETURNS_FIGURES", "SESSION_FIGURES", "ZONE_METRICS", "ZoneChanges", "apply_zones"]

#: A zone window's figures (SPEC Z2), in the document's order.
ZONE_METRICS = (
    "patrol_minutes", "foot_minutes", "unit_minutes", "longest_gap_minutes", "distinct_units",
    "visits", "koper_visits", "last_seen", "target_minutes", "attainment", "status",
)  # fmt: skip
#: A session's figures (SPEC Z3), after its ``start`` and ``end``.
SESSION_FIGURES = (
    "open", "patrol_minutes", "unit_minutes", "visits", "koper_visits", "longest_gap_minutes",
    "met",
)  # fmt: skip
#: An hour's settled figures for the returns (SPEC Z6), after its ``start``.
RETURNS_FIGURES = ("patrol_minutes", "unit_minutes", "visits", "koper_visits")
_LIVE = -1  # the revision a live snapshot's sessions rank with


@dataclass
class ZoneChanges:
    """The zones' rows of one batch of records, the newest per key winning."""

    names: dict[str, dict[str, Any]] = field(default_factory=dict)
    live: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    history: dict[tuple[datetime, str, str], dict[str, Any]] = field(default_factory=dict)
    sessions: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    returns: dict[tuple[datetime, str], dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return (len(self.names) + len(self.live) + len(self.history) + len(self.sessions)
                + len(self.returns))  # fmt: skip

    def add(
        self,
        zones: list[dict[str, Any]],
        *,
        as_of: datetime,
        hour: bool,
        revision: int | None = None,
        revised_at: datetime | None = None,
    ) -> None:
        """A snapshot's zones (Z4 entries) at ``as_of``: an hour boundary or the live one."""
        rank = _LIVE if not hour else (revision or 0)
        for zone in zones:
            code = zone["code"]
            self.names[code] = {"code": code, "name": zone["name"], "kind": zone.get("kind")}
            for window, metrics in zone.get("windows", {}).items():
                row = {"code": code, "window": window} | _metrics(metrics)
                if hour:
                    row |= {"hour": as_of, "revision": revision or 0, "revised_at": revised_at}
                    old = self.history.get((as_of, code, window))
                    if old is None or old["revision"] <= row["revision"]:
                        self.history[as_of, code, window] = row
                else:
                    old = self.live.get((code, window))
                    if old is None or old["as_of"] <= as_of:
                        self.live[code, window] = row | {"as_of": as_of}
            settled = zone.get("returns_hour") if hour else None
            if settled is not None:
                start = parse_time(settled["start"])
                row = {"start": start, "code": code, "revision": revision or 0,
                       **{k: settled[k] for k in RETURNS_FIGURES}}  # fmt: skip
                old = self.returns.get((start, code))
                if old is None or old["revision"] <= row["revision"]:
                    self.returns[start, code] = row
            for session in zone.get("sessions", []):
                start = parse_time(session["start"])
                row = {"code": code, "start": start, "end": parse_time(session["end"]),
                       **{k: session[k] for k in SESSION_FIGURES},
                       "as_of": as_of, "revision": rank}  # fmt: skip
                old = self.sessions.get((code, start))
                if old is None or (old["as_of"], old["revision"]) <= (as_of, rank):
                    self.sessions[code, start] = row


def apply_zones(session: Session, changes: ZoneChanges) -> None:
    """Upsert the zones' rows."""
    if changes.names:
        _upsert(session, Zone, changes.names.values(), ("code",))
    if changes.live:
        _upsert(session, ZoneLive, changes.live.values(), ("code", "window"),
                where=lambda table, new: table.c.as_of <= new.as_of)  # fmt: skip
    if changes.history:
        _upsert(session, ZoneHistory, changes.history.values(), ("hour", "code", "window"),
                where=_newer_revision, keep_revised_at=True)  # fmt: skip
    if changes.returns:
        _upsert(session, ZoneReturnHour, changes.returns.values(), ("start", "code"),
                where=_newer_revision)  # fmt: skip
    if changes.sessions:
        _upsert(session, ZoneSession, changes.sessions.values(), ("code", "start"),
                where=_newer_snapshot)  # fmt: skip


def _newer_revision(table: sa.Table, new: Any) -> Any:
    return table.c.revision <= new.revision


def _newer_snapshot(table: sa.Table, new: Any) -> Any:
    same = sa.and_(table.c.as_of == new.as_of, table.c.revision <= new.revision)
    return sa.or_(table.c.as_of < new.as_of, same)


def _upsert(
    session: Session,
    model: type,
    rows: Any,
    keys: tuple[str, ...],
    *,
    where: Any = None,
    keep_revised_at: bool = False,
) -> None:
    table = model.__table__  # type: ignore[attr-defined]
    insert = insert_for(session)(table)
    new = insert.excluded
    updated = {c.name: new[c.name] for c in table.columns if c.name not in keys}
    if keep_revised_at:  # a repeat of the same revision keeps when it was first stored
        updated["revised_at"] = sa.case(
            (new.revision > table.c.revision, new.revised_at),
            else_=sa.func.coalesce(table.c.revised_at, new.revised_at),
        )
    condition = None if where is None else where(table, new)
    session.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=updated,
                                                 where=condition), list(rows))  # fmt: skip


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    row = {name: metrics.get(name) for name in ZONE_METRICS}
    row["last_seen"] = None if row["last_seen"] is None else parse_time(row["last_seen"])
    return row
