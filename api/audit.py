"""The audit of live positions: who read the recent presence points, when, for which ward.

Live positions are the most sensitive thing Beatlight holds, and officers are told who
may look at them (SECURITY.md). Every answer of ``/api/v1/live/points``, which is also
where the inspectors' live map gets its points, is recorded before it is sent: the
time, the key's prefix and role, and the ward asked for. Never a position, nor how many
were sent. A read that cannot be recorded is not served (the store is down: a 503).

Records are kept ``retention_days`` (``BEATLIGHT_AUDIT_RETENTION_DAYS``, 90): older
ones are deleted when the API starts and then at most hourly as reads are recorded, and
are never shown, even before they are deleted. ``admin`` keys read the record at
``/api/v1/audit``; ``beatlight audit`` shows it on the command line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from beatlight.api.db import connect
from beatlight.api.models import LiveAudit

__all__ = ["COLUMNS", "AuditEntry", "AuditPage", "AuditTrail", "read_entries"]

log = logging.getLogger("beatlight.audit")

#: The record's fields, in the order the CSV and the table show them.
COLUMNS = ("id", "at", "key_prefix", "role", "ward")
_PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read of the recent points (``ward`` None: every ward)."""

    id: int
    at: datetime
    key_prefix: str
    role: str
    ward: str | None

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Entries in id order; ``next_after``: the ``after`` of the next page, if there is one."""

    entries: list[AuditEntry]
    next_after: int | None


class AuditTrail:
    """Records reads in the store and deletes records past their retention."""

    def __init__(self, engine: Engine, retention_days: int,
                 clock: Callable[[], datetime]) -> None:  # fmt: skip
        if retention_days < 1:
            raise ValueError("retention_days must be 1 or more")
        self.engine = engine
        self.retention = timedelta(days=retention_days)
        self._clock = clock
        self._next_prune: datetime | None = None  # first record prunes

    def record(self, key_prefix: str, role: str, ward: str | None) -> None:
        """Store one read, now; raises StoreUnreachable (a 503) if it cannot."""
        now = self._clock()
        with connect(self.engine) as connection, connection.begin():
            connection.execute(sa.insert(LiveAudit).values(at=now, key_prefix=key_prefix,
                                                           role=role, ward=ward))  # fmt: skip
            if self._next_prune is None or now >= self._next_prune:
                self._prune(connection, now)

    def prune(self) -> int:
        """Delete the records past their retention now; how many went."""
        with connect(self.engine) as connection, connection.begin():
            return self._prune(connection, self._clock())

    def page(self, *, since: datetime | None = None, until: datetime | None = None,
             after: int = 0, limit: int = 100) -> AuditPage:  # fmt: skip
        """The entries in [since, until) within the retention, after id ``after``."""
        with connect(self.engine) as connection:
            return read_entries(connection, now=self._clock(), retention=self.retention,
                                since=since, until=until, after=after, limit=limit)  # fmt: skip

    def _prune(self, connection: Connection, now: datetime) -> int:
        self._next_prune = now + _PRUNE_EVERY
        gone = connection.execute(sa.delete(LiveAudit).where(LiveAudit.at < now - self.retention))
        if gone.rowcount:
            log.info("deleted %d live-audit records older than %d days", gone.rowcount,
                     self.retention.days)  # fmt: skip
        return gone.rowcount


def read_entries(
    connection: Connection,
    *,
    now: datetime,
    retention: timedelta,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int = 0,
    limit: int = 100,
) -> AuditPage:
    """A page of entries of the last ``retention`` before ``now``, in [since, until)."""
    if limit < 1:
        raise ValueError("limit must be 1 or more")
    earliest = now - retention
    since = earliest if since is None else max(since, earliest)
    query = (sa.select(LiveAudit.id, LiveAudit.at, LiveAudit.key_prefix, LiveAudit.role,
                       LiveAudit.ward)
             .where(LiveAudit.at >= since, LiveAudit.id > after)
             .order_by(LiveAudit.id).limit(limit + 1))  # fmt: skip
    if until is not None:
        query = query.where(LiveAudit.at < until)
    rows = [AuditEntry(*row) for row in connection.execute(query)]
    more = len(rows) > limit
    entries = rows[:limit]
    return AuditPage(entries, entries[-1].id if more else None)
