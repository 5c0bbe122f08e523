"""Alerts on live status changes, for ``visibility.alerts`` (dispatch, messaging).

An alert is raised when an area's live status in the alert window turns ``red``,
when nobody has been seen there for longer than a set time (``unvisited``), and
when it is back to ``green``. Zones with a schedule raise SPEC Z5's alerts:
``zone_unattended`` while a session is on and nobody has been in the zone for its
``max_gap_minutes``, ``session_missed`` when a session ends not ``met``; each at most
once per zone and session. Pure: it compares each live document with the last.

A worker that takes the aggregator over (a restart, a rebalance) primes its tracker
with the last live document the previous one published (:meth:`AlertTracker.prime`):
what was already true then raises nothing again, and a session that ended after it,
while no aggregator ran, still raises ``session_missed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from beatlight.times import parse_time

__all__ = ["AlertTracker"]

_LEVELS = (("wards", "ward"), ("neighbourhoods", "neighbourhood"), ("districts", "district"))


@dataclass
class AlertTracker:
    """Remembers each area's last live status and whether it was flagged unvisited.

    ``window``: the window whose status raises alerts; ``unvisited_minutes``: how long
    nobody may be seen before an area is flagged; ``zone_limits``: each scheduled zone's
    ``max_gap_minutes`` by code (zones without one raise no ``zone_unattended``; the
    document's zone entries carry only Z4's keys). Built from ``Settings`` and the zones
    by :func:`beatlight.configs.alert_tracker`, where their defaults are declared.
    """

    window: str
    unvisited_minutes: float
    zone_limits: dict[str, float]
    _status: dict[str, str] = field(default_factory=dict, init=False)
    _unvisited: set[str] = field(default_factory=set, init=False)
    _sessions: set[tuple[str, str, str]] = field(default_factory=set, init=False)
    _started: datetime | None = field(default=None, init=False)

    def prime(self, document: dict[str, Any]) -> None:
        """Take ``document`` (the last live one published before this tracker) as seen:
        its statuses are the previous ones, the alerts it raised count as raised, and
        sessions ending after its ``as_of`` are news."""
        self.update(document)

    def update(self, document: dict[str, Any]) -> list[dict[str, Any]]:
        """The alerts that this live document raises (one per area and change)."""
        as_of = parse_time(document["as_of"])
        raised = []
        for area, level in _areas(document):
            metrics = area["windows"].get(self.window)
            if not metrics:
                continue
            code, status = area["code"], metrics["status"]
            previous = self._status.get(code)
            base = {"code": code, "name": area["name"], "level": level, "as_of": document["as_of"],
                    "window": self.window, "status": status, "previous_status": previous,
                    "last_seen": metrics["last_seen"]}  # fmt: skip
            if status == "red" and previous != "red":
                raised.append({**base, "kind": "red"})
            if status == "green" and previous not in (None, "green"):
                raised.append({**base, "kind": "green"})
            self._status[code] = status
            last = parse_time(metrics["last_seen"]) if metrics["last_seen"] else None
            minutes = (as_of - last).total_seconds() / 60 if last else None
            unvisited = minutes is None or minutes >= self.unvisited_minutes
            if unvisited and code not in self._unvisited:
                self._unvisited.add(code)
                raised.append({**base, "kind": "unvisited", "minutes_unvisited": minutes})
            elif not unvisited:
                self._unvisited.discard(code)
        return raised + self._zone_alerts(document, as_of)

    def _zone_alerts(self, document: dict[str, Any], as_of: datetime) -> list[dict[str, Any]]:
        """Z5's alerts, once per (kind, zone, session start). A session that ended before
        the first document this tracker saw raises nothing: it is no news."""
        if self._started is None:
            self._started = as_of
        raised, listed = [], set()
        for zone in document.get("zones", []):
            code = zone["code"]
            for session in zone["sessions"]:
                listed.add((code, session["start"]))
                kind, minutes = _zone_alert(zone, session, as_of, self.zone_limits.get(code),
                                            self._started)  # fmt: skip
                if kind is None or (kind, code, session["start"]) in self._sessions:
                    continue
                self._sessions.add((kind, code, session["start"]))
                raised.append({"code": code, "name": zone["name"], "level": "zone",
                               "kind": kind, "as_of": document["as_of"],
                               "session_start": session["start"], "session_end": session["end"],
                               "minutes_unattended": minutes})  # fmt: skip
        # Listed sessions end within 28 days: one no longer listed never comes back.
        self._sessions = {key for key in self._sessions if key[1:] in listed}
        return raised


def _zone_alert(
    zone: dict[str, Any], session: dict[str, Any], as_of: datetime, limit: float | None,
    started: datetime,
) -> tuple[str | None, float | None]:  # fmt: skip
    """The Z5 alert this session raises now, if any, and the minutes nobody was in the zone
    (for ``zone_unattended``: since its last ping in the session, or the session's start)."""
    if not session["open"]:
        missed = session["met"] is False and parse_time(session["end"]) > started
        return ("session_missed" if missed else None), None
    if limit is None:
        return None, None
    since = parse_time(session["start"])
    seen = [parse_time(w["last_seen"]) for w in zone["windows"].values() if w.get("last_seen")]
    if seen:
        since = max(since, *seen)
    minutes = (as_of - since).total_seconds() / 60
    return ("zone_unattended" if minutes >= limit else None), minutes


def _areas(document: dict[str, Any]):  # noqa: ANN202
    for key, level in _LEVELS:
        for area in document.get(key, []):
            yield area, level
    if document.get("force"):
        yield document["force"], "force"
