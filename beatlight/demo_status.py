"""What the demo shows while it runs: the feed, the worker and the API, asked every few seconds.

The figures come from where a user would look: the worker's Prometheus page and
the API (with the demo's own keys). Anything that does not answer yet shows as
"-"; asking never fails the demo.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.table import Table

from beatlight.times import format_time

__all__ = ["Probe", "Status", "status_line", "status_table"]

_STATUSES = ("green", "amber", "red", "none")


@dataclass
class Status:
    """One look at the running demo."""

    phase: str = "starting"
    sent: int = 0
    feed_time: float | None = None
    processed: int | None = None
    rejected: int | None = None
    live_as_of: str | None = None
    force_1h: dict[str, Any] = field(default_factory=dict)
    wards_24h: dict[str, int] = field(default_factory=dict)
    hours_stored: int | None = None
    points: int | None = None
    published_days: list[str] = field(default_factory=list)


class Probe:
    """Asks the worker's ``/metrics`` and the API for a :class:`Status`."""

    def __init__(self, api_base: str, worker_metrics: str, keys: dict[str, str],
                 history_start: datetime, timeout_s: float = 2.0) -> None:  # fmt: skip
        self.worker_metrics = worker_metrics
        self.history_start = history_start
        self.keys = keys
        self._client = httpx.Client(base_url=api_base, timeout=timeout_s)
        self._force: str | None = None

    def close(self) -> None:
        self._client.close()

    def processed(self) -> int | None:
        """Events the worker has processed (accepted, duplicate or rejected), if it answers."""
        counts = self._worker()
        return None if counts is None else counts[0]

    def look(self, feed: Any) -> Status:
        """The feed's progress (a :class:`~beatlight.demo_feed.Feed`, or None) and the rest."""
        status = Status()
        if feed is not None:
            status.phase, status.sent, status.feed_time = feed.phase, feed.sent, feed.feed_time
        worker = self._worker()
        if worker is not None:
            status.processed, status.rejected = worker
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, IndexError):
            self._api(status)
        return status

    def _worker(self) -> tuple[int, int] | None:
        from prometheus_client.parser import text_string_to_metric_families

        try:
            text = httpx.get(self.worker_metrics, timeout=self._client.timeout).text
            families = {f.name: f for f in text_string_to_metric_families(text)}
        except (httpx.HTTPError, ValueError):
            return None
        events = families.get("beatlight_events")
        if events is None:
            return None
        by_outcome: Counter[str] = Counter()
        for sample in events.samples:
            if sample.name.endswith("_total"):
                by_outcome[sample.labels.get("outcome", "")] += int(sample.value)
        return sum(by_outcome.values()), by_outcome["rejected"]

    def _api(self, status: Status) -> None:
        pcc = {"X-API-Key": self.keys["pcc"]}
        live = self._get("/api/v1/metrics", pcc, level="force", window="1h")
        if live is not None and live.get("live"):
            status.live_as_of = live["as_of"]
            force = live["areas"][0]
            self._force = force["code"]
            status.force_1h = force["windows"]["1h"]
        wards = self._get("/api/v1/metrics", pcc, level="ward", window="24h")
        if wards is not None and wards.get("live"):
            status.wards_24h = dict(Counter(a["windows"]["24h"]["status"] for a in wards["areas"]))
        if self._force is not None:
            start = format_time(self.history_start.replace(microsecond=0))
            history = self._get(f"/api/v1/history/{self._force}", pcc, level="force",
                                window="1h", start=start)  # fmt: skip
            if history is not None:
                status.hours_stored = len(history["points"])
        points = self._get("/api/v1/live/points", {"X-API-Key": self.keys["inspector"]})
        if points is not None:
            status.points = len(points["features"])
        periods = self._get("/api/v1/public/periods", {})
        if periods is not None:
            status.published_days = [str(day) for day in periods["days"]]

    def _get(self, path: str, headers: dict[str, str], **params: str) -> dict[str, Any] | None:
        response = self._client.get(path, headers=headers, params=params)
        return response.json() if response.status_code == 200 else None


def status_line(status: Status) -> str:
    """The status in one log line (when stderr is not a terminal)."""
    force = status.force_1h
    return (
        f"{status.phase}: sent {status.sent:,}, processed {_n(status.processed)}, "
        f"hours stored {_n(status.hours_stored)}, live as of {_time(status.live_as_of)}, "
        f"1h patrol-minutes {_n(force.get('patrol_minutes'))}, "
        f"units {_n(force.get('distinct_units'))}, "
        f"points {_n(status.points)}, wards (24h) {_wards(status.wards_24h)}, "
        f"published days {', '.join(status.published_days) or '-'}"
    )


def status_table(status: Status) -> Table:
    """The status as a small table (a live display on a terminal)."""
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    feed = _time(datetime.fromtimestamp(status.feed_time, UTC).isoformat()
                 if status.feed_time else None)  # fmt: skip
    rejected = f" ({_n(status.rejected)} rejected)" if status.rejected else ""
    force = status.force_1h
    table.add_row("feed", f"{status.phase}; {status.sent:,} events sent, feed time {feed}")
    table.add_row("worker", f"{_n(status.processed)} events processed{rejected}")
    table.add_row("store", f"{_n(status.hours_stored)} hours stored; published days: "
                  f"{', '.join(status.published_days) or 'none yet'}")  # fmt: skip
    table.add_row("live", f"as of {_time(status.live_as_of)}: last hour "
                  f"{_n(force.get('patrol_minutes'))} patrol-minutes, "
                  f"{_n(force.get('unit_minutes'))} unit-minutes, "
                  f"{_n(force.get('distinct_units'))} units, last seen "
                  f"{_time(force.get('last_seen'))}")  # fmt: skip
    table.add_row("wards", f"24h status {_wards(status.wards_24h)}; "
                  f"{_n(status.points)} points on the live map")  # fmt: skip
    return table


def _n(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _time(text: str | None) -> str:
    if not text:
        return "-"
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(text).astimezone().strftime("%a %H:%M:%S")
    return text


def _wards(counts: dict[str, int]) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{counts[s]} {'unvisited' if s == 'none' else s}"
                     for s in _STATUSES if counts.get(s))  # fmt: skip
