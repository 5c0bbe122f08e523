"""The live tick: what it computes on the work thread, and how often it may run.

Every ``live_seconds`` each owned lane sends its live figures; the worker holding the
aggregator merges them into the live snapshot. On a small machine with a whole
country's areas that can cost more than the interval allows, so :class:`LivePacing`
stretches the interval to keep live figures at most a fifth of the worker's time.
"""

from __future__ import annotations

import logging
import time

from beatlight.runtime.aggregation import Aggregation
from beatlight.runtime.lanes import Lanes
from beatlight.runtime.observe import Metrics
from beatlight.streams.aggregate import Snapshot
from beatlight.streams.runner import Emission

__all__ = ["LivePacing", "live_tick"]

log = logging.getLogger("beatlight.worker")

#: Live figures may take at most 1/LIVE_COST_FACTOR of the worker's time.
LIVE_COST_FACTOR = 5.0

LiveSnapshot = tuple[dict, list[tuple[bytes, bytes]]]


def live_tick(
    lanes: Lanes, aggregation: Aggregation, partitions: list[int], now_us: int,
    aggregating: bool,
) -> tuple[Emission, list[Snapshot], LiveSnapshot | None, float]:  # fmt: skip
    """Every owned lane's live figures; with the aggregator, hours and the live snapshot.

    One call on the work thread for the whole tick. This worker's own live figures go
    to its aggregator directly, not through ``beatlight.live-ticks`` (one broker
    round trip less between a ping and the live map); other workers' come from Kafka.
    The last value is what the live figures cost (work, not reads of Kafka).
    """
    emission = lanes.live_ticks(partitions, now_us)
    cost_s = lanes.live_cost_s
    if not aggregating:
        return emission, [], None, cost_s
    started = time.perf_counter()
    hours = aggregation.live(emission.live)
    snapshot = aggregation.live_snapshot()
    cost_s += time.perf_counter() - started
    aggregation.metrics.aggregator(aggregation.aggregator.held())
    return emission, hours, snapshot, cost_s


class LivePacing:
    """When the next live tick may start, from what the last one cost."""

    def __init__(self, live_seconds: float, metrics: Metrics) -> None:
        self.live_seconds = live_seconds
        self.metrics = metrics
        #: What the last tick's live figures cost (work and sending, not reads of Kafka),
        #: and when the next tick may start (see :meth:`pace`).
        self.cost_s = 0.0
        self.next_tick_at = 0.0
        self.interval_s = live_seconds

    def due(self) -> bool:
        """Whether a tick may start now."""
        return time.monotonic() >= self.next_tick_at

    def pace(self, started: float) -> None:
        """Live figures at most a fifth of the worker's time: every ``live_seconds``, or
        five times what the last took when that is longer (a whole country's areas
        on a small machine), so that the input keeps flowing. ``started``: the
        monotonic time the tick began."""
        interval = max(self.live_seconds, LIVE_COST_FACTOR * self.cost_s)
        if abs(interval - self.interval_s) > 0.25 * self.interval_s:
            log.info("live figures every %.1f s (each took %.2f s of work)", interval,
                     self.cost_s)  # fmt: skip
        self.interval_s = interval
        self.metrics.live_interval.set(interval)
        self.next_tick_at = started + interval - 0.5 * self.live_seconds
