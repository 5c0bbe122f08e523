"""Recent presence points for the inspector's live map, held in memory and never stored.

SPEC "Privacy and publication rules": only the ``inspector`` role sees recent
presence points, only the last 15 minutes, and the store never holds points. So the
API does not materialise ``visibility.points``: a :class:`RecentPoints` reads it in a
thread of its own and keeps, in memory, the points of the last ``minutes`` (pruned on
arrival and on every read). Nothing here imports the store.

The topic is small (kept an hour), so it is read from its start through a
:class:`~beatlight.runtime.reader.TopicReader`, with every partition assigned by
hand: no consumer group (Tansu completes a join only after about half the session
timeout) and no ``end_offsets()`` or ListOffsets (unreliable on Tansu 0.6). A point
carries the time, position, ward and mode of a ping and nothing else
(:mod:`beatlight.streams.points`).

Points are best-effort live data: a restarted worker sends again the points it
still finds recent, and this reader reads the topic again from its start after
any outage (a restarted Tansu with memory storage comes back empty, and its new
offsets would hide new points behind the old positions). Points are therefore
de-duplicated on all their fields: two pings at the same microsecond, place and
mode in the same ward show as one point, which on a map they are anyway.

A broker that goes away is retried with exponential backoff, logged once when it
goes and once when it is back; meanwhile :meth:`RecentPoints.recent` serves what
it holds, still pruned by the clock.

Long because :class:`RecentPoints` is one object that a reading thread fills and the
routes read under one lock: how the thread recovers (a recreated topic, a broker that
comes back empty) decides what the window may keep.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Literal

import orjson

from beatlight.errors import BeatlightError
from beatlight.runtime.outage import OUTAGE_S, Backoff, describe, kafka_error
from beatlight.runtime.reader import TopicReader
from beatlight.runtime.topics import VISIBILITY_POINTS
from beatlight.streams.events import MODES
from beatlight.times import format_time

__all__ = ["MAX_MINUTES", "Point", "RecentPoints", "feature_collection"]

log = logging.getLogger("beatlight.points")

#: Inspectors see the last 15 minutes of points, no more (SPEC "Privacy and publication rules").
MAX_MINUTES = 15


@dataclass(frozen=True)
class Point:
    """One recent presence point: when, where, which ward, how (never who)."""

    ts: datetime  # UTC
    lat: float
    lon: float
    ward: str
    mode: str  # foot, cycle, vehicle or unknown


Clock = Callable[[], datetime] | Literal["wall", "event"] | None


class RecentPoints:
    """The points of the last ``minutes``, read from ``visibility.points`` in a daemon thread.

    ``clock`` says what "now" is: ``None`` or ``"wall"`` the wall clock; ``"event"``
    the newest point's time (the worker's ``live_clock=event``, for replays of
    history); or a function returning an aware :class:`~datetime.datetime` (tests).
    Call :meth:`start` once, :meth:`close` at shutdown (or use it as a context
    manager); :meth:`recent` may be called from any thread.
    """

    def __init__(
        self,
        bootstrap: str,
        minutes: float = 15,
        clock: Clock = None,
        *,
        topic: str = VISIBILITY_POINTS,
        connect_timeout_s: float = 10.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        if not 0 < minutes <= MAX_MINUTES:  # SPEC: "only the last 15 minutes"
            raise BeatlightError(
                f"recent points are kept for more than 0 and at most {MAX_MINUTES} minutes "
                f"(SPEC publication rules), not {minutes}"
            )
        if clock not in (None, "wall", "event") and not callable(clock):
            raise BeatlightError(f"clock must be 'wall', 'event' or a function, not {clock!r}")
        self.bootstrap = bootstrap
        self.topic = topic
        self.window = timedelta(minutes=minutes)
        self.connect_timeout_s = connect_timeout_s
        self.max_backoff_s = max_backoff_s
        self._event_clock = clock == "event"
        self._clock: Callable[[], datetime] = clock if callable(clock) else _wall_clock
        self._lock = threading.Lock()
        self._points: list[Point] = []  # sorted by ts
        self._seen: set[Point] = set()
        self._newest: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The reading thread's own: its reader (with the partitions it has assigned), and the
        # next offset of each partition.
        self._reader = TopicReader(bootstrap, (topic,), client_id="beatlight-points",
                                   connect_timeout_s=connect_timeout_s,
                                   max_backoff_s=max_backoff_s)  # fmt: skip
        self._next: dict[int, int] = {}
        self._assigned_at = 0.0
        self._failing: str | None = None

    # -- the public side -----------------------------------------------------------------

    def start(self) -> RecentPoints:
        """Start reading in a daemon thread (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="beatlight-points", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop reading and close the Kafka client; the points held are dropped."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._lock:
            self._points, self._seen = [], set()

    def recent(self, ward: str | None = None) -> list[Point]:
        """The points at or after now − ``minutes`` (of one ward, if given), newest last."""
        with self._lock:
            self._prune()
            if ward is None:
                return list(self._points)
            return [point for point in self._points if point.ward == ward]

    @property
    def newest(self) -> datetime | None:
        """The newest point's time seen so far (``"event"`` clock: "now")."""
        return self._newest

    def __enter__(self) -> RecentPoints:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- holding points -------------------------------------------------------------------

    def add(self, points: list[Point]) -> None:
        """Keep these points (the reading thread calls this; tests may too)."""
        with self._lock:
            for point in points:
                if self._newest is None or point.ts > self._newest:
                    self._newest = point.ts
            cutoff = self._cutoff()
            for point in points:
                if (cutoff is not None and point.ts < cutoff) or point in self._seen:
                    continue
                self._seen.add(point)
                # Points arrive about in time order, so this inserts near the end.
                bisect.insort(self._points, point, key=_TS)
            self._prune()

    def _cutoff(self) -> datetime | None:
        """Now − ``minutes``; ``None`` before the first point with the ``"event"`` clock."""
        if self._event_clock:
            return None if self._newest is None else self._newest - self.window
        now = self._clock()
        return (now if now.tzinfo is not None else now.replace(tzinfo=UTC)) - self.window

    def _prune(self) -> None:
        """Forget points before now − ``minutes`` (the lock is held)."""
        cutoff = self._cutoff()
        if cutoff is None:
            return
        old = bisect.bisect_left(self._points, cutoff, key=_TS)
        if old:
            self._seen.difference_update(self._points[:old])
            del self._points[:old]

    # -- reading ---------------------------------------------------------------------------

    def _run(self) -> None:
        log.info("reading recent points from %s on %s", self.topic, self.bootstrap)
        backoff = Backoff(0.5, self.max_backoff_s)
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                    backoff.reset()
                except (BeatlightError, OSError, kafka_error()) as error:
                    self._retry_after(error, backoff.next())
                except Exception:  # never let the thread die: the map would freeze silently
                    log.exception("recent points: unexpected error; starting again")
                    self._retry_after(None, backoff.next())
        finally:
            self._close_consumer()
            log.info("stopped reading recent points")

    def _step(self) -> None:
        self._reader.open()
        if time.monotonic() - self._assigned_at > _CHECK_TOPIC_S:
            self._assign()
        if not self._reader.assigned:  # no topic yet: no worker has run against this Kafka
            self._stop.wait(0.5)
            return
        polled = self._reader.poll(500, 5000)
        for tp, records in polled.items():
            self.add([point for point in map(_point, records) if point is not None])
            if records:
                self._next[tp.partition] = records[-1].offset + 1
        if self._failing is not None:
            log.info("recent points: reading again after: %s", self._failing)
            self._failing = None
        self._restart_recreated()
        self._watch_connection()

    def _assign(self) -> None:
        """Every partition of the topic, each from the start (or where it was read to)."""
        self._assigned_at = time.monotonic()
        tps, _ = self._reader.partitions()
        if len(tps) == len(self._reader.assigned):
            return
        # An explicit position for each: no committed offsets, and no ListOffsets.
        self._reader.assign({tp: self._next.setdefault(tp.partition, 0) for tp in tps})
        partitions = [tp.partition for tp in tps]
        log.info("recent points: reading %s partitions %s from offsets %s", self.topic,
                 partitions, [self._next[p] for p in partitions])  # fmt: skip

    def _restart_recreated(self) -> None:
        """A partition that ends before what was read was recreated (a Tansu restart)."""
        read = {tp: self._next[tp.partition] for tp in self._reader.assigned}
        for tp, high in self._reader.recreated(read):
            log.warning("%s[%d] ends at %d, before the %d read: the topic was recreated; "
                        "reading it again", tp.topic, tp.partition, high, read[tp])  # fmt: skip
            self._reader.seek(tp, 0)
            self._next[tp.partition] = 0

    def _watch_connection(self) -> None:
        """One log line when the partition leaders stop answering, one when they are back."""
        change = self._reader.watch()
        if change == "back":
            log.info("recent points: Kafka at %s is back; reading %s again from its start",
                     self.bootstrap, self.topic)  # fmt: skip
            for tp in self._reader.assigned:  # it may have restarted empty (Tansu memory storage)
                self._reader.seek(tp, 0)
                self._next[tp.partition] = 0
        elif change == "lost":
            log.warning("recent points: lost Kafka at %s for %.0f s; reconnecting with backoff "
                        "(up to %.0f s between tries)", self.bootstrap, OUTAGE_S,
                        self.max_backoff_s)  # fmt: skip

    def _retry_after(self, error: BaseException | None, delay: float) -> None:
        what = "unexpected error" if error is None else describe(error, self.bootstrap)
        if self._failing != what:
            log.warning("recent points: %s; retrying with backoff (next in %.1f s)", what, delay)
            self._failing = what
        self._close_consumer()  # a fresh client next time, reading from the start again
        self._next = {}
        self._stop.wait(delay)

    def _close_consumer(self) -> None:
        self._assigned_at = 0.0
        try:
            self._reader.close()
        except Exception as error:  # noqa: BLE001 - closing a broken client
            log.debug("closing the points consumer: %s", error)


def feature_collection(points: list[Point]) -> dict[str, Any]:
    """Points as a GeoJSON FeatureCollection (WGS84 ``[lon, lat]``), for the live map."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                "properties": {"ts": format_time(p.ts), "ward": p.ward, "mode": p.mode},
            }
            for p in points
        ],
    }


_TS = attrgetter("ts")
_CHECK_TOPIC_S = 2.0  # look for the topic (or new partitions) this often
_MODES = frozenset(MODES)


def _point(record: Any) -> Point | None:
    """A record's point, or ``None`` for one that is not a point (logged, skipped)."""
    try:
        value = orjson.loads(record.value)
        ts = datetime.fromisoformat(value["ts"])
        if ts.tzinfo is None:
            raise ValueError(f"ts {value['ts']!r} has no offset")
        ts = ts.astimezone(UTC)
        lat, lon, ward, mode = value["lat"], value["lon"], value["ward"], value["mode"]
        if not (_is_number(lat) and _is_number(lon) and isinstance(ward, str) and mode in _MODES):
            raise ValueError("a field has the wrong type")
        return Point(ts, float(lat), float(lon), ward, mode)
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("skipped %s[%d]@%d: not a point (%s: %s)", record.topic, record.partition,
                    record.offset, type(error).__name__, error)  # fmt: skip
        return None


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _wall_clock() -> datetime:
    return datetime.now(UTC)
