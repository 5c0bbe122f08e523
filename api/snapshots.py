"""Snapshot documents read from the store, cached so that busy endpoints stay cheap.

A :class:`Document` is the batch report's document (SPEC "Batch report contract")
of one moment, live or an hour boundary, with an index by area and a place for
routes to keep what they rendered from it. :class:`Snapshots` hands them out:

* the live document is re-checked at most every ``live_ttl`` seconds with one tiny
  query (the live summary's ``as_of``), and reloaded only when the stream has sent
  a newer snapshot; the materialiser stores whole snapshots in one transaction;
* a stored hour (:class:`Hour`) is its entity tag, the figures answers rendered when
  it was stored (:mod:`api.hour_documents`), compressed, each read when first asked
  for, and its document once a route needs one (parsed from the stored document, or
  rebuilt from the rows of an hour stored before documents were). An hour is
  re-checked after ``hour_ttl`` seconds, because a late event can still revise it (the
  stream re-sends it and the store upserts it): one small query for its revision and
  digest, and it is read again only if they changed. The most recently used are kept,
  up to ``hours_kept`` hours, ``bytes_kept`` bytes of stored answers and
  ``figures_kept`` figures (one area in one window) of parsed documents. A figure
  holds about 1 kB of Python objects: England's hour is 63,000 of them (65 MB), a
  county's 1,700; England's stored answer of every figure is 3 MB, its wards in one
  window 0.3 MB.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from beatlight.api.db import connect
from beatlight.api.documents import (
    live_document,
    report_document_at,
    stored_answer,
    stored_document,
)
from beatlight.api.models import HourDocument, HourSummary, LiveSummary
from beatlight.times import format_time, parse_time

__all__ = ["Document", "Hour", "Snapshots"]

_LEVEL_KEYS = {"ward": "wards", "neighbourhood": "neighbourhoods", "district": "districts"}


@dataclass(eq=False)
class Document:
    """One snapshot's report document, indexed by ``(level, code)``."""

    body: dict[str, Any]
    live: bool
    as_of: datetime = field(init=False)
    entries: dict[tuple[str, str], dict[str, Any]] = field(init=False)
    figures: int = field(init=False)  # of an area in a window: what the document weighs
    #: Names the figures, for entity tags (None: they have no name that tells them apart).
    tag: str | None = None
    rendered: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.as_of = parse_time(self.body["as_of"])
        self.entries = {}
        for level, key in _LEVEL_KEYS.items():
            for entry in self.body[key]:
                self.entries[level, entry["code"]] = entry
        if self.body.get("force"):
            self.entries["force", self.body["force"]["code"]] = self.body["force"]
        self.figures = sum(len(entry["windows"]) for entry in self.entries.values())

    def level(self, level: str | None) -> list[tuple[str, dict[str, Any]]]:
        """``(level, entry)`` of every area of ``level`` (all levels when None), by code."""
        return [(lv, entry) for (lv, _), entry in self.entries.items()
                if level is None or lv == level]  # fmt: skip

    def render(self, key: Any, build: Callable[[], Any]) -> Any:
        """What ``build`` makes of this document, made once per ``key``."""
        try:
            return self.rendered[key]
        except KeyError:
            value = self.rendered[key] = build()
            return value


class Snapshots:
    """Live and hour-boundary documents from the store, cached (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        live_ttl: float = 1.0,
        hour_ttl: float = 30.0,
        hours_kept: int = 2_000,
        figures_kept: int = 500_000,
        bytes_kept: int = 512_000_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._live_ttl = live_ttl
        self._hour_ttl = hour_ttl
        self._hours_kept = hours_kept
        self._figures_kept = figures_kept
        self._bytes_kept = bytes_kept
        self._figures = 0  # of the hour documents kept
        self._bytes = 0  # of the stored answers kept
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._live: Document | None = None
        self._live_checked = float("-inf")
        self._hours: OrderedDict[datetime, _Kept] = OrderedDict()
        self._refreshing = False  # a request is re-checking the live document
        self._loading: dict[datetime, threading.Lock] = {}  # one load per hour at a time

    def live_fresh(self) -> Document | None | bool:
        """The cached live document if it need not be re-checked, else ``False``."""
        if self._monotonic() - self._live_checked < self._live_ttl:
            return self._live
        # Stale while revalidating: one caller re-checks, the others keep the last one.
        if self._live is not None and self._refreshing:
            return self._live
        self._refreshing = True
        return False

    def live(self) -> Document | None:
        """The latest live document (``None`` before the first one). Blocking: call in a thread."""
        with self._lock:
            try:
                if self._monotonic() - self._live_checked < self._live_ttl:
                    return self._live
                with connect(self._engine) as connection, Session(bind=connection) as session:
                    as_of = session.execute(sa.select(LiveSummary.as_of)).scalar()
                    if as_of is None:
                        self._live = None
                    elif self._live is None or self._live.as_of != as_of:
                        body = live_document(session)
                        self._live = None if body is None else Document(
                            body, live=True, tag=f"live.{format_time(as_of)}")  # fmt: skip
                self._live_checked = self._monotonic()
                return self._live
            finally:
                self._refreshing = False

    def hour_fresh(self, hour: datetime) -> Hour | None | bool:
        """The cached entry of ``hour`` if it need not be re-checked, else ``False``."""
        cached = self._hours.get(hour)
        if cached is not None and self._monotonic() - cached.checked < self._hour_ttl:
            return cached.entry
        return False

    def hour(self, hour: datetime) -> Hour | None:
        """The stored hour ``hour`` with its stored figures answer (``None`` if not stored).

        Blocking. Re-checked after ``hour_ttl`` with one small query: an entry whose
        tag has not changed is kept, with the document parsed from it."""
        cached = self.hour_fresh(hour)
        if cached is not False:
            return cached  # type: ignore[return-value]
        with self._loading_lock(hour):  # concurrent misses of one hour: one load
            cached = self.hour_fresh(hour)
            if cached is not False:
                return cached  # type: ignore[return-value]
            old = self._hours.get(hour)
            with connect(self._engine) as connection, Session(bind=connection) as session:
                entry = _read_hour(session, hour, old.entry if old is not None else None)
            with self._lock:
                self._keep(hour, entry, self._monotonic())
        return entry

    def answer(self, entry: Hour, level: str | None, window: str | None) -> bytes | None:
        """The figures answer of the stored hour ``entry`` for ``level`` in ``window`` as
        stored, gzip (``None``: none is stored; make it from the document). Blocking."""
        key = (level, window)
        if key in entry.answers or entry.digest is None:
            return entry.answers.get(key)
        with self._loading_lock(entry.hour):
            if key not in entry.answers:
                with connect(self._engine) as connection, Session(bind=connection) as session:
                    entry.answers[key] = stored_answer(session, entry.hour, entry.digest,
                                                       level, window)  # fmt: skip
                self._weigh_again(entry)
        return entry.answers[key]

    def at(self, hour: datetime) -> Document | None:
        """The document of the snapshot at ``hour`` (``None`` if not stored). Blocking.

        Parsed from the stored document, or rebuilt from the rows of an hour stored
        before documents were (:mod:`api.hour_documents`)."""
        entry = self.hour(hour)
        if entry is None or entry.document is not None:
            return None if entry is None else entry.document
        with self._loading_lock(hour):
            if entry.document is not None:
                return entry.document
            with connect(self._engine) as connection, Session(bind=connection) as session:
                if entry.digest is None:
                    body = report_document_at(session, hour)
                else:
                    body = stored_document(session, hour, entry.digest)
            if body is None:  # revised (or gone) since the entry was read: read it again
                with self._lock:
                    self._forget(hour)
                return self.at(hour)
            entry.document = Document(body, live=False, tag=entry.tag)
            self._weigh_again(entry)
        return entry.document

    def _weigh_again(self, entry: Hour) -> None:
        """Weigh ``entry`` again, as it was checked, after it took on more."""
        with self._lock:
            kept = self._hours.get(entry.hour)
            if kept is not None and kept.entry is entry:
                self._keep(entry.hour, entry, kept.checked)

    def _loading_lock(self, hour: datetime) -> threading.Lock:
        with self._lock:
            return self._loading.setdefault(hour, threading.Lock())

    def _keep(self, hour: datetime, entry: Hour | None, checked: float) -> None:
        """Keep ``entry`` as the newest, and forget the oldest loaded beyond the limits
        (the newest stays even alone over them). Call with the lock held."""
        self._forget(hour)
        weight = _Kept(checked, entry, _figures(entry), _bytes(entry))
        self._hours[hour] = weight
        self._figures += weight.figures
        self._bytes += weight.bytes
        while len(self._hours) > 1 and (len(self._hours) > self._hours_kept
                                        or self._figures > self._figures_kept
                                        or self._bytes > self._bytes_kept):  # fmt: skip
            oldest = next(iter(self._hours))
            self._forget(oldest)
            self._loading.pop(oldest, None)

    def _forget(self, hour: datetime) -> None:
        old = self._hours.pop(hour, None)
        if old is not None:
            self._figures -= old.figures
            self._bytes -= old.bytes


@dataclass(eq=False)
class Hour:
    """A stored hour as the API holds it: what names its figures, the stored figures
    answers asked for so far, and its document once a route has needed it."""

    hour: datetime
    revision: int | None
    #: Names the hour's figures, for entity tags: it changes whenever they do (None: an
    #: hour stored before documents were, of no known revision: no tag).
    tag: str | None
    digest: str | None  # of the stored document (None: rebuilt from the rows)
    #: (level, window) → gzip of /metrics?as_of={hour}&level=…&window=… (None: every
    #: one), or None where none is stored (:meth:`Snapshots.answer`).
    answers: dict[tuple[str | None, str | None], bytes | None] = field(
        default_factory=dict, repr=False
    )
    document: Document | None = field(default=None, repr=False)


def _read_hour(session: Session, hour: datetime, old: Hour | None) -> Hour | None:
    """``hour`` as stored now: ``old`` again if it has not changed."""
    table = HourDocument.__table__
    row = session.execute(sa.select(table.c.revision, table.c.digest)
                          .where(table.c.hour == hour)).one_or_none()  # fmt: skip
    if row is not None:
        tag = f"{format_time(hour)}.{row.revision}.{row.digest}"
        return old if old is not None and old.tag == tag else Hour(
            hour, row.revision, tag, row.digest)  # fmt: skip
    summary = session.execute(sa.select(HourSummary.revision)
                              .where(HourSummary.hour == hour)).one_or_none()  # fmt: skip
    if summary is None:
        return None
    revision = summary.revision
    tag = None if revision is None else f"{format_time(hour)}.{revision}"
    if old is not None and tag is not None and old.tag == tag and old.digest is None:
        return old
    return Hour(hour, revision, tag, None)


class _Kept(NamedTuple):
    """An hour in the cache: when it was checked, and what it weighed when kept."""

    checked: float
    entry: Hour | None
    figures: int
    bytes: int


def _figures(entry: Hour | None) -> int:
    return 0 if entry is None or entry.document is None else entry.document.figures


def _bytes(entry: Hour | None) -> int:
    return 0 if entry is None else sum(len(body or b"") for body in entry.answers.values())
