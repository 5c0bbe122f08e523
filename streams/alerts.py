"""Alerts on live status changes, for ``visibility.alerts`` (dispatch, messaging).

An alert is raised when an area's live status in the alert window turns ``red``,
when nobody has been seen there for longer than a set time (``unvisited``), and
when it is back to ``green``. Pure: it compares each live document with the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beatlight.times import parse_time

__all__ = ["AlertTracker"]

_LEVELS = (("wards", "ward"), ("neighbourhoods", "neighbourhood"), ("districts", "district"))


@dataclass
class AlertTracker:
    """Remembers each area's last live status and whether it was flagged unvisited.

    ``window``: the window whose status raises alerts; ``unvisited_minutes``: how long
    nobody may be seen before an area is flagged. Built from ``Settings`` by
    :func:`beatlight.configs.alert_tracker`, where their defaults are declared.
    """

    window: str
    unvisited_minutes: float
    _status: dict[str, str] = field(default_factory=dict, init=False)
    _unvisited: set[str] = field(default_factory=set, init=False)

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
        return raised


def _areas(document: dict[str, Any]):  # noqa: ANN202
    for key, level in _LEVELS:
        for area in document.get(key, []):
            yield area, level
    if document.get("force"):
        yield document["force"], "force"
