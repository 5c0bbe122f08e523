"""The store's tables: metric snapshots of places, never of people (SPEC "Worker state").

Tables hold what the stream publishes, one row per area and window:

* ``areas``: every ward and roll-up with its attributes (latest seen);
* ``live_metrics`` and ``live_summary``: the latest live snapshot;
* ``history`` and ``hour_summaries``: the snapshot at each hour boundary, its newest
  revision (late uploads publish an hour again), and ``hour_revisions``: when each
  revision of an hour was made;
* ``hour_documents``: each stored hour's report document and its figures answer, rendered
  and compressed when the hour is stored (:mod:`api.hour_documents`), and
  ``hour_answers``: its figures answer for each level in each window, likewise;
* ``alerts``: alerts raised on live status changes;
* ``zones``, ``zone_live``, ``zone_history`` and ``zone_sessions``: the zones' figures
  (SPEC Z4) from the same snapshots: each zone's name and kind, its windows live and at
  each hour boundary, and its sessions, one row per zone and session start;
* ``materialiser_offsets``: how far each topic partition has been stored, written
  in the same transaction as the rows, so a restart resumes exactly there;
* ``api_keys``: the API's keys, hashed, with their roles (:mod:`api.auth`);
* ``live_audit``: who read the recent presence points, when (:mod:`api.audit`); never
  the points themselves.

There are no unit pseudonyms and no points in the topics read, and no column could
hold them. Writes are upserts keyed like the topics, so storing a record twice
changes nothing (:mod:`api.store`).

Long because every table of the store is declared here, in one metadata the migrations
and the tests' clean-up walk: wards and roll-ups, zones, keys and the audit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Alert",
    "ApiKey",
    "Area",
    "Base",
    "History",
    "HourAnswer",
    "HourDocument",
    "HourRevision",
    "HourSummary",
    "SERIES_INCLUDED",
    "LiveAudit",
    "LiveMetric",
    "LiveSummary",
    "MaterialiserOffset",
    "UTCDateTime",
    "Zone",
    "ZoneHistory",
    "ZoneLive",
    "ZoneSession",
]


class UTCDateTime(sa.types.TypeDecorator):
    """A moment in UTC: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite.

    SQLite has no time zones, so values are stored as UTC and come back aware,
    which keeps comparisons and ordering the same on both databases.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC moments only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class _Presence:
    """The presence figures of one window (SPEC "Metric definitions" 4-8), of an area or a
    zone alike."""

    patrol_minutes: Mapped[float] = mapped_column(sa.Float)
    foot_minutes: Mapped[float] = mapped_column(sa.Float)
    unit_minutes: Mapped[float] = mapped_column(sa.Float)
    longest_gap_minutes: Mapped[float] = mapped_column(sa.Float)
    distinct_units: Mapped[int] = mapped_column(sa.Integer)
    visits: Mapped[int] = mapped_column(sa.Integer)
    koper_visits: Mapped[int] = mapped_column(sa.Integer)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attainment: Mapped[float | None] = mapped_column(sa.Float, nullable=True)


class _Metrics(_Presence):
    """One window's figures (SPEC "Metric definitions" 4-10), shared by live and history."""

    coverage: Mapped[float] = mapped_column(sa.Float)
    target_minutes: Mapped[float] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(8))


class Area(Base):
    """A ward or a roll-up (neighbourhood, district, force) with its attributes."""

    __tablename__ = "areas"
    __table_args__ = (sa.UniqueConstraint("level", "code", name="uq_areas_level_code"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(256))
    # A ward's parents; roll-ups list their wards instead.
    neighbourhood: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    district: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    wards: Mapped[list[str] | None] = mapped_column(sa.JSON, nullable=True)
    area_km2: Mapped[float] = mapped_column(sa.Float)
    population: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    target_minutes_per_week: Mapped[float] = mapped_column(sa.Float)


class LiveMetric(_Metrics, Base):
    """The latest live figures of one area and window."""

    __tablename__ = "live_metrics"

    level: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)


#: The columns the series index of ``history`` holds besides its key (PostgreSQL).
SERIES_INCLUDED = ("patrol_minutes", "foot_minutes", "unit_minutes", "longest_gap_minutes",
                   "distinct_units", "visits", "koper_visits", "last_seen", "attainment",
                   "coverage", "target_minutes", "status", "revision", "revised_at")  # fmt: skip


class History(_Metrics, Base):
    """One area's figures in one window at an hour boundary.

    ``revision``: the revision of the hour that last changed this area's figures (0: as
    first published), and ``revised_at`` when it was made (null for 0).
    """

    __tablename__ = "history"
    # The primary key starts with the hour, so it also serves "every area at hour H". One
    # area's series in one window reads the other index, which holds every figure on
    # PostgreSQL: a month of hours is a few index pages instead of a heap page an hour.
    __table_args__ = (sa.Index("ix_history_series", "level", "code", "window", "hour",
                               postgresql_include=list(SERIES_INCLUDED)),)  # fmt: skip

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class _Summary:
    """A snapshot's document-wide figures: fairness and the event counts."""

    slot_seconds: Mapped[int] = mapped_column(sa.Integer)
    fairness: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    outside: Mapped[int] = mapped_column(sa.BigInteger)
    accepted: Mapped[int] = mapped_column(sa.BigInteger)
    rejected: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    duplicates: Mapped[int] = mapped_column(sa.BigInteger)


class HourSummary(_Summary, Base):
    """The summary of the snapshot at one hour boundary, and which revision of it is stored
    (``revision`` 0 is the first publication; null when the stream did not say)."""

    __tablename__ = "hour_summaries"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    revision: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HourRevision(Base):
    """One publication of an hour's figures: when it was made, and the pings counted then.

    The PCC office's answer to "why did this published figure change?": revision 0 is
    the first publication, each later one counted pings that arrived late.
    """

    __tablename__ = "hour_revisions"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    revision: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted: Mapped[int] = mapped_column(sa.BigInteger)
    outside: Mapped[int] = mapped_column(sa.BigInteger)


class HourDocument(Base):
    """One stored hour rendered once, when it was stored: what the API serves for it.

    ``document`` is the hour's report document and ``metrics`` the answer of
    ``/api/v1/metrics?as_of={hour}`` (every area, every window), both JSON compressed with
    gzip; ``revision`` is the hour's (the newest stored wins) and ``digest`` names the
    document's bytes, for the API's entity tags.
    """

    __tablename__ = "hour_documents"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    revision: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    digest: Mapped[str] = mapped_column(sa.String(32))
    document: Mapped[bytes] = mapped_column(sa.LargeBinary)
    metrics: Mapped[bytes] = mapped_column(sa.LargeBinary)


class HourAnswer(Base):
    """A stored hour's figures answer for one level in one window, rendered when the hour
    was stored: ``/api/v1/metrics?as_of={hour}&level={level}&window={window}``, gzip.

    ``digest`` is that of the document it was rendered from (:class:`HourDocument`), so
    an answer is served only with the revision it belongs to.
    """

    __tablename__ = "hour_answers"

    hour: Mapped[datetime] = mapped_column(
        UTCDateTime, sa.ForeignKey("hour_documents.hour", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    window: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(32))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)


class LiveSummary(_Summary, Base):
    """The summary of the latest live snapshot (a single row, ``id`` 1)."""

    __tablename__ = "live_summary"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """An alert from ``visibility.alerts``; one per area (or zone), kind and live snapshot."""

    __tablename__ = "alerts"
    # The level is part of the identity: a ward that is its own neighbourhood shares its code.
    __table_args__ = (
        sa.UniqueConstraint("level", "code", "kind", "as_of", name="uq_alerts_area_kind_as_of"),
        sa.Index("ix_alerts_as_of", "as_of"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    # Null for a zone's alerts (SPEC Z5), which name a session instead of a status.
    status: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    previous_status: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    window: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    minutes_unvisited: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    session_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    session_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    minutes_unattended: Mapped[float | None] = mapped_column(sa.Float, nullable=True)


class MaterialiserOffset(Base):
    """The next offset to store from a topic partition (committed with the rows)."""

    __tablename__ = "materialiser_offsets"

    topic: Mapped[str] = mapped_column(sa.String(249), primary_key=True)
    partition: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    next_offset: Mapped[int] = mapped_column(sa.BigInteger)


class ApiKey(Base):
    """An API key of the inspector and PCC views (SPEC "Privacy and publication rules").

    Only the key's SHA-256 is stored, never the key. Keys are 256-bit random tokens,
    so a fast hash is enough: nobody can guess their way back from it, and a slow
    password hash (bcrypt, Argon2) would cost every request tens of milliseconds.
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        sa.CheckConstraint("role IN ('inspector', 'pcc', 'admin')", name="ck_api_keys_role"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    # The key's non-secret start (``bl_`` and 8 characters): finds the row, names the key.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True, index=True)
    key_sha256: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(16))
    label: Mapped[str] = mapped_column(sa.String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: datetime.now(UTC))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LiveAudit(Base):
    """One read of the recent presence points: when, by which key and role, for which ward.

    What a force tells its officers (SECURITY.md): who looks at live positions is
    recorded. Never the positions read, nor how many: only the fact of the read.
    """

    __tablename__ = "live_audit"
    __table_args__ = (sa.Index("ix_live_audit_at", "at"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_prefix: Mapped[str] = mapped_column(sa.String(16))
    role: Mapped[str] = mapped_column(sa.String(16))
    # The ward the reader asked for; null: every ward.
    ward: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class _ZoneMetrics(_Presence):
    """One window's figures of a zone (SPEC Z2): a ward's without ``coverage``; the
    target, attainment and status are null for a zone without a weekly target."""

    target_minutes: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    status: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)


class Zone(Base):
    """A zone as the snapshots name it (latest seen); its commitments and whether it is
    public come from the zones file the API is given, not from the stream."""

    __tablename__ = "zones"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256))
    kind: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class ZoneLive(_ZoneMetrics, Base):
    """The latest live figures of one zone and window."""

    __tablename__ = "zone_live"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)


class ZoneHistory(_ZoneMetrics, Base):
    """One zone's figures in one window at an hour boundary, of the hour's newest revision
    (``revision`` 0: as first published)."""

    __tablename__ = "zone_history"
    __table_args__ = (sa.Index("ix_zone_history_zone_hour", "code", "window", "hour"),)

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ZoneReturnHour(Base):
    """One zone's funders' returns figures (SPEC Z6) of one hour, final: each hour
    snapshot carries them for an hour that ended long enough before it that no later
    ping can change them (``streams.zone_figures.returns_hours``), of its newest
    revision. The returns add them up over each period."""

    __tablename__ = "zone_returns"

    start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    patrol_minutes: Mapped[float] = mapped_column(sa.Float)
    unit_minutes: Mapped[float] = mapped_column(sa.Float)
    visits: Mapped[int] = mapped_column(sa.Integer)
    koper_visits: Mapped[int] = mapped_column(sa.Integer)
    revision: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class ZoneSession(Base):
    """One scheduled session of a zone (SPEC Z3), with the latest figures seen.

    Every snapshot lists the sessions that ended in its last 28 days or are open; the
    row keeps those of the newest snapshot (``as_of``, then ``revision``: -1 live, else
    the hour's revision), so a session settles with the first snapshot after its end and
    stays once the snapshots no longer list it.
    """

    __tablename__ = "zone_sessions"
    __table_args__ = (sa.Index("ix_zone_sessions_start", "start"),)

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    open: Mapped[bool] = mapped_column(sa.Boolean)
    patrol_minutes: Mapped[float] = mapped_column(sa.Float)
    unit_minutes: Mapped[float] = mapped_column(sa.Float)
    visits: Mapped[int] = mapped_column(sa.Integer)
    koper_visits: Mapped[int] = mapped_column(sa.Integer)
    longest_gap_minutes: Mapped[float] = mapped_column(sa.Float)
    met: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    revision: Mapped[int] = mapped_column(sa.Integer)
