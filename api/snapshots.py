"""Snapshot documents read from the store, cached so that busy endpoints stay cheap.

A :class:`Document` is the batch report's document (SPEC "Batch report contract")
of one moment, live or an hour boundary, with an index by area and a place for
routes to keep what they rendered from it. :class:`Snapshots` hands them out:

* the live document is re-checked at most every ``live_ttl`` seconds with one tiny
  query (the live summary's ``as_of``), and reloaded only when the stream has sent
  a newer snapshot; the materialiser stores whole snapshots in one transaction;
* hour documents are kept for ``hour_ttl`` seconds, because a late event can still
  revise a stored hour (the stream re-sends it and the store upserts it); the most
  recently loaded are kept, up to ``hours_kept`` documents and ``figures_kept`` figures
  (one area in one window) between them. A figure holds about 1 kB of Python objects:
  England's hour is 63,000 of them (65 MB), a county's 1,700.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from beatlight.api.db import connect
from beatlight.api.documents import live_document, report_document_at
from beatlight.api.models import LiveSummary
from beatlight.times import parse_time

__all__ = ["Document", "Snapshots"]

_LEVEL_KEYS = {"ward": "wards", "neighbourhood": "neighbourhoods", "district": "districts"}


@dataclass(eq=False)
class Document:
    """One snapshot's report document, indexed by ``(level, code)``."""

    body: dict[str, Any]
    live: bool
    as_of: datetime = field(init=False)
    entries: dict[tuple[str, str], dict[str, Any]] = field(init=False)
    figures: int = field(init=False)  # of an area in a window: what the document weighs
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
        hours_kept: int = 48,
        figures_kept: int = 500_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._live_ttl = live_ttl
        self._hour_ttl = hour_ttl
        self._hours_kept = hours_kept
        self._figures_kept = figures_kept
        self._figures = 0  # of the hour documents kept
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._live: Document | None = None
        self._live_checked = float("-inf")
        self._hours: OrderedDict[datetime, tuple[float, Document | None]] = OrderedDict()
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
                        self._live = Document(body, live=True) if body is not None else None
                self._live_checked = self._monotonic()
                return self._live
            finally:
                self._refreshing = False

    def hour_fresh(self, hour: datetime) -> Document | None | bool:
        """The cached document of ``hour`` if it need not be re-read, else ``False``."""
        cached = self._hours.get(hour)
        if cached is not None and self._monotonic() - cached[0] < self._hour_ttl:
            return cached[1]
        return False

    def at(self, hour: datetime) -> Document | None:
        """The document of the snapshot at ``hour`` (``None`` if not stored). Blocking."""
        cached = self.hour_fresh(hour)
        if cached is not False:
            return cached  # type: ignore[return-value]
        with self._lock:
            loading = self._loading.setdefault(hour, threading.Lock())
        with loading:  # concurrent misses of one hour: one load, the others wait for it
            cached = self.hour_fresh(hour)
            if cached is not False:
                return cached  # type: ignore[return-value]
            with connect(self._engine) as connection, Session(bind=connection) as session:
                body = report_document_at(session, hour)
            document = Document(body, live=False) if body is not None else None
            with self._lock:
                self._keep(hour, document)
                self._loading.pop(hour, None)
        return document

    def _keep(self, hour: datetime, document: Document | None) -> None:
        """Keep ``document`` as the newest, and forget the oldest loaded beyond the
        limits (the newest stays even alone over them). Call with the lock held."""
        old = self._hours.pop(hour, None)
        self._figures -= _weight(old[1]) if old is not None else 0
        self._hours[hour] = (self._monotonic(), document)
        self._figures += _weight(document)
        while len(self._hours) > 1 and (len(self._hours) > self._hours_kept
                                        or self._figures > self._figures_kept):  # fmt: skip
            _, (_, dropped) = self._hours.popitem(last=False)
            self._figures -= _weight(dropped)


def _weight(document: Document | None) -> int:
    return 0 if document is None else document.figures
