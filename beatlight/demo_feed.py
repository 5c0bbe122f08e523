"""The demo's simulated feed: history at once, the last minutes fast, then real time.

The worker rejects events more than a few minutes ahead of the wall clock, and the
live map shows the points of the last 15 minutes by the wall clock, so simulated
time may run fast only while it is behind real time. The feed therefore has three
phases over one continuous simulation:

1. **history**: every event before ``live_from`` is sent as fast as Kafka takes it,
   so the 24-hour figures, the stored hours and a published day exist at once;
   then the feed waits until the worker has processed it;
2. **catching up**: from ``live_from`` on, simulated time runs at ``speed`` × real
   time until it meets the wall clock (15 minutes at 10× take 100 s), so the live
   map fills while you watch;
3. **live**: events are sent at their own time, as a real feed sends them.

:func:`due` is the whole pacing rule; it never lets an event out before its time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beatlight.runtime.paced_feed import event_seconds

__all__ = ["Feed", "FeedPlan", "default_history_start", "due"]

log = logging.getLogger("beatlight.demo")

Event = Mapping[str, Any] | str


@dataclass(frozen=True)
class FeedPlan:
    """When the simulation starts, when pacing starts, and the catch-up pace."""

    start: datetime
    live_from: datetime
    speed: float


def due(ts: float, *, live_from: float, anchor: float, speed: float) -> float:
    """The wall-clock time (epoch seconds) at which an event of time ``ts`` is sent.

    ``anchor`` is the wall-clock time at which simulated time ``live_from`` is
    sent. Simulated time then runs at ``speed`` × real time until it meets the
    wall clock, and at real time after that: never before ``ts`` itself, so no
    event is ever from the future. Events before ``live_from`` are due at once.
    """
    return max(anchor + (ts - live_from) / speed, ts)


def default_history_start(now: datetime, zone: ZoneInfo, *, settled_after: timedelta) -> datetime:
    """The local midnight starting the latest complete day settled ``settled_after`` before now.

    A day's public figures are the snapshot at its closing midnight, which the
    worker settles once its watermark is the allowed lateness past it. Starting
    the history a day before that midnight gives one complete day at once.
    """
    from beatlight.api.publication import local_midnight

    day = (now - settled_after).astimezone(zone).date() - timedelta(days=1)
    return local_midnight(day, zone)


class Feed(threading.Thread):
    """Sends ``events`` (the simulation, in arrival order) through ``producer`` per ``plan``.

    ``processed()`` says how many events the worker has processed (``None`` when it
    cannot be asked); the feed waits for the history before it starts pacing, for
    at most ``stall_s`` without progress. ``stop`` ends it early. Progress is read
    from :attr:`phase`, :attr:`sent` and :attr:`feed_time`; a failure is kept in
    :attr:`error`.
    """

    def __init__(
        self,
        events: Iterable[Event],
        producer: Any,  # beatlight.runtime.producers.PresenceProducer
        plan: FeedPlan,
        processed: Callable[[], int | None],
        stop: threading.Event,
        *,
        stall_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name="beatlight-demo-feed", daemon=True)
        self.events = events
        self.producer = producer
        self.plan = plan
        self.processed = processed
        self.stop_event = stop
        self.stall_s = stall_s
        self.clock = clock
        self.phase = "history"
        self.sent = 0
        self.history_events = 0
        self.feed_time: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # noqa: BLE001 - reported by the demo, which stops
            self.error = error
        finally:
            try:
                self.producer.close(timeout_s=5)
            except Exception as error:  # noqa: BLE001
                self.error = self.error or error

    def _run(self) -> None:
        live_from = self.plan.live_from.timestamp()
        anchor: float | None = None
        for item in self.events:
            if self.stop_event.is_set():
                return
            ts = event_seconds(item.get("ts")) if not isinstance(item, str) else None
            if ts is not None:
                if anchor is None and ts >= live_from:
                    self._end_history()
                    if self.stop_event.is_set():
                        return
                    anchor = self.clock()
                    behind = (anchor - live_from) / 60
                    self._enter("catching up", f"the last {behind:.0f} minutes at "
                                f"{self.plan.speed:g}× real time")  # fmt: skip
                if anchor is not None:
                    when = due(ts, live_from=live_from, anchor=anchor, speed=self.plan.speed)
                    if self.stop_event.wait(max(0.0, when - self.clock())):
                        return
                    if self.phase == "catching up" and ts >= self.clock() - 1:
                        self._enter("live", "real time from now on")
                self.feed_time = ts if self.feed_time is None else max(self.feed_time, ts)
            if isinstance(item, str):
                self.producer.send_line(item)
            else:
                self.producer.send(item)
            self.sent += 1
        if anchor is None:
            self._end_history()
        self.producer.flush(30)
        self._enter("ended", "the simulation is over; the services keep running")

    def _end_history(self) -> None:
        self.producer.flush(60)
        self.history_events = self.sent
        self._enter("waiting", f"history sent ({self.sent:,} events): waiting for the worker")
        best, progress_at = -1, self.clock()
        # Broken lines the producer dead-lettered itself never reach the worker.
        on_topic = self.sent - sum(self.producer.rejected.values())
        while not self.stop_event.is_set():
            done = self.processed()
            if done is not None and done >= on_topic:
                return
            if done is not None and done > best:
                best, progress_at = done, self.clock()
            elif self.clock() - progress_at > self.stall_s:
                log.warning("the worker has processed %s of %d events and made no progress "
                            "for %.0f s: going on", best, self.sent, self.stall_s)  # fmt: skip
                return
            self.stop_event.wait(1.0)

    def _enter(self, phase: str, detail: str) -> None:
        self.phase = phase
        log.info("feed: %s (%s)", phase, detail)
