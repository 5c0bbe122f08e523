"""Sending a feed at the pace of its event times: :class:`Pacer` and :func:`send_simulation`.

``beatlight simulate --kafka`` and the demo send a simulated feed through a
:class:`~beatlight.runtime.producers.PresenceProducer` as fast as the feed would
produce it live (or ``speed`` times faster); :func:`event_seconds` reads the event
time a feed is paced by.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from beatlight.errors import BeatlightError
from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.topics import PRESENCE
from beatlight.times import format_time

__all__ = ["Pacer", "event_seconds", "send_simulation"]

log = logging.getLogger("beatlight.producers")


class Pacer:
    """Paces a feed at ``speed`` × real time: event time → wall-clock deadline.

    Deadlines are computed from one anchor, ``anchor`` (event time) ↔ the
    clock when the first event came, so sleeping late never accumulates into
    drift. The feed clock is the latest event time seen: late and out-of-order
    pings go out at once, as a real feed delivers them. ``speed=0``: no pacing.
    """

    def __init__(
        self,
        speed: float,
        anchor: datetime | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed < 0:
            raise BeatlightError("--speed must be 0 (as fast as possible) or positive")
        self.speed = speed
        self._anchor_ts = anchor.timestamp() if anchor else None
        self._anchor_clock: float | None = None
        self.feed_ts: float | None = None
        self._clock = clock
        self._sleep = sleep

    def wait(self, ts: float | None) -> None:
        """Sleep until the event at ``ts`` (epoch seconds; None = unknown) is due."""
        if self._anchor_clock is None:
            self._anchor_clock = self._clock()
        if ts is None or (self.feed_ts is not None and ts <= self.feed_ts):
            return
        self.feed_ts = ts
        if self._anchor_ts is None:
            self._anchor_ts = ts
        if self.speed == 0:
            return
        delay = self.due(ts) - self._clock()
        if delay > 0.001:
            self._sleep(delay)

    def due(self, ts: float) -> float:
        """The clock reading at which the event at ``ts`` is due."""
        assert self._anchor_clock is not None and self._anchor_ts is not None
        return self._anchor_clock + (ts - self._anchor_ts) / self.speed

    def behind_s(self) -> float:
        """How far sending is behind the pace (0 when on time)."""
        if self.speed == 0 or self.feed_ts is None:
            return 0.0
        return max(0.0, self._clock() - self.due(self.feed_ts))


def send_simulation(
    events: Iterable[Mapping[str, Any] | str],
    bootstrap: str | PresenceProducer,
    speed: float = 1.0,
    *,
    anchor: datetime | None = None,
    topic: str = PRESENCE,
    limit: int | None = None,
    log_every_s: float = 10.0,
    connect_timeout_s: float = 10.0,
) -> int:
    """Send simulated events (dicts, or lines for broken ones) in arrival order.

    ``speed`` paces them at that many times real time by event time (1 = live,
    60 = an hour a minute, 0 = as fast as possible); ``anchor`` is the
    simulation's start, sent first. Broken lines are dead-lettered by the producer
    (:meth:`PresenceProducer.send_line`). Logs progress every ``log_every_s`` seconds
    and returns the number of events sent (all delivered: it ends with a flush).
    """
    pacer = Pacer(speed, anchor)
    own = not isinstance(bootstrap, PresenceProducer)
    producer = (
        PresenceProducer(bootstrap, topic, connect_timeout_s=connect_timeout_s)
        if isinstance(bootstrap, str)
        else bootstrap
    )
    started = time.monotonic()
    next_log = started + log_every_s
    sent = 0
    try:
        for item in events:
            if limit is not None and sent >= limit:
                break
            if isinstance(item, str):
                producer.send_line(item)
            else:
                pacer.wait(event_seconds(item.get("ts")))
                producer.send(item)
            sent += 1
            now = time.monotonic()
            if now >= next_log:
                next_log = now + log_every_s
                _log_progress(sent, now - started, pacer)
        producer.flush()
    finally:
        if own:
            producer.close()
    _log_progress(sent, time.monotonic() - started, pacer, done=True)
    return sent


def event_seconds(ts: Any) -> float | None:
    """An event's ``ts`` as Unix seconds; None unless it is an RFC 3339 time with a zone."""
    if not isinstance(ts, str):
        return None
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _log_progress(sent: int, elapsed: float, pacer: Pacer, *, done: bool = False) -> None:
    feed = (
        format_time(datetime.fromtimestamp(pacer.feed_ts, UTC).replace(microsecond=0))
        if pacer.feed_ts is not None
        else "-"
    )
    rate = sent / elapsed if elapsed > 0 else 0.0
    log.info(
        "%s %d events in %.1f s (%.0f/s); feed time %s%s",
        "sent" if done else "sending:", sent, elapsed, rate, feed,
        f"; {pacer.behind_s():.1f} s behind the pace" if pacer.behind_s() > 1 else "",
    )  # fmt: skip
