"""The scale-out model of ``bench/stage_costs.py``: events/s from each stage's CPU cost.

A worker's core is busy with its lanes' share of every event (Kafka consumption, then
the lane: validate, match, presence, partials), each lane's figures once an hour, and
its lanes' live ticks. One worker also holds the aggregator (one partition of
``beatlight.partials``), serial on its core: every partial (final runs, early hours),
every hour snapshot and every live snapshot. Live ticks are paced so that they take at
most a fifth of a worker's time (``runtime/pacing.py``). The ceiling is the rate at
which the busiest core is full::

    lane core:        R * e / k            + f_lane  <= 1
    aggregator core:  R * (e / k + a + H/D) + f_agg   <= 1     (it holds a lane too)

with ``k`` the workers holding lanes (at most the partitions), ``e`` a lane's cost per
event including consumption, ``a`` the aggregator's per event, ``H`` its cost per hour
snapshot (the lanes' own hour figures are in ``e`` the same way), ``D`` events per hour
published (a feed in real time: ``R * 3600``; a replay: as many as it published), ``f``
the live ticks' share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Costs", "Prediction", "cores_at", "fit", "predict"]

LIVE_SECONDS = 5.0  # BEATLIGHT_LIVE_SECONDS' default
LIVE_COST_FACTOR = 5.0  # runtime/pacing.py: live ticks at most a fifth of a worker's time


@dataclass(frozen=True)
class Costs:
    """CPU seconds of each stage at ``partitions`` lanes."""

    partitions: int
    lane_event: float  # a lane, per event (no hour figures)
    consume_event: float  # Kafka consumption (the feed), per event
    lane_hour: float  # one lane's figures for one hour
    lane_live: float  # one lane's live tick
    agg_event: float  # the aggregator, per event: partials that publish nothing
    agg_hour: float  # one hour snapshot: merge, document, serialise
    agg_live: float  # one live snapshot: merge, document, alerts, serialise

    @property
    def event(self) -> float:
        return self.lane_event + self.consume_event


@dataclass(frozen=True)
class Prediction:
    """The ceiling for ``workers`` workers, and what each kind of core allows alone."""

    workers: int
    rate: float  # events/s: the lower of the two
    lanes_rate: float  # the lane cores' (workers x one lane core's rate)
    aggregator_rate: float  # the aggregator's core, holding a lane too
    aggregator_alone: float  # the aggregator's core if it held no lane
    bound: str  # which core is full at the ceiling
    cpu_cores: float  # CPU the workers use at the ceiling


def fit(measured: Sequence[Costs], partitions: int, consume_event: float) -> Costs:
    """Costs at ``partitions`` lanes: each figure's least-squares line through the
    measured lane counts (the nearest measured value with one), never below the least
    measured (a fit must not predict free work)."""

    def line(name: str) -> float:
        xs = [c.partitions for c in measured]
        ys = [getattr(c, name) for c in measured]
        if len(set(xs)) < 2:
            return ys[0]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
                 / sum((x - mx) ** 2 for x in xs))  # fmt: skip
        return max(my + slope * (partitions - mx), min(ys))

    names = ("lane_event", "lane_hour", "lane_live", "agg_event", "agg_hour", "agg_live")
    return Costs(partitions, consume_event=consume_event, **{n: line(n) for n in names})


def predict(
    costs: Costs, workers: int, *, hours_per_event: float | None = None,
    live_seconds: float = LIVE_SECONDS,
) -> Prediction:  # fmt: skip
    """The events/s ceiling of ``workers`` workers over ``costs.partitions`` partitions.

    ``hours_per_event``: hours published per event in a replay (0 when it publishes
    none); ``None`` for a feed in real time (an hour of figures every 3,600 s, whatever
    the rate).
    """
    k = min(workers, costs.partitions)  # workers holding lanes
    lanes_each = costs.partitions / k
    f_lane = _live_share(lanes_each * costs.lane_live, live_seconds)
    f_agg = _live_share(lanes_each * costs.lane_live + costs.agg_live, live_seconds)
    f_alone = _live_share(costs.agg_live, live_seconds)
    hours_lane = lanes_each * costs.lane_hour  # one core's lanes' figures for one hour
    if hours_per_event is None:  # real time: hours are a fixed load, per second
        per_event_lane, per_event_agg = costs.event / k, costs.event / k + costs.agg_event
        fixed_lane, fixed_agg = hours_lane / 3600, (hours_lane + costs.agg_hour) / 3600
        fixed_alone, per_event_alone = costs.agg_hour / 3600, costs.agg_event
    else:
        per_event_lane = (costs.event + costs.partitions * costs.lane_hour * hours_per_event) / k
        per_event_agg = per_event_lane + costs.agg_event + costs.agg_hour * hours_per_event
        per_event_alone = costs.agg_event + costs.agg_hour * hours_per_event
        fixed_lane = fixed_agg = fixed_alone = 0.0
    lanes_rate = max(1 - f_lane - fixed_lane, 0) / per_event_lane
    aggregator_rate = max(1 - f_agg - fixed_agg, 0) / per_event_agg
    alone = max(1 - f_alone - fixed_alone, 0) / per_event_alone
    if workers > costs.partitions:
        # A worker with no lane may hold the aggregator: the better of the two places.
        aggregator_rate = max(aggregator_rate, alone)
    rate = min(lanes_rate, aggregator_rate)
    bound = "lanes" if lanes_rate <= aggregator_rate else "aggregator's core"
    return Prediction(workers, rate, lanes_rate, aggregator_rate, alone, bound,
                      cores_at(costs, rate, workers, hours_per_event, live_seconds))  # fmt: skip


def _live_share(tick_s: float, live_seconds: float) -> float:
    """The share of a core its live ticks take: every ``live_seconds``, or five times
    what a tick costs when that is longer (``runtime/pacing.py``)."""
    return tick_s / max(live_seconds, LIVE_COST_FACTOR * tick_s) if tick_s else 0.0


def cores_at(
    costs: Costs, rate: float, workers: int, hours_per_event: float | None = None,
    live_seconds: float = LIVE_SECONDS,
) -> float:  # fmt: skip
    """Cores ``workers`` workers keep busy at ``rate``: every event's work, the hours,
    and the live ticks."""
    k = min(workers, costs.partitions)
    per_hour = costs.partitions * costs.lane_hour + costs.agg_hour
    hours = per_hour / 3600 if hours_per_event is None else rate * per_hour * hours_per_event
    lanes_each = costs.partitions / k
    live = (k * _live_share(lanes_each * costs.lane_live, live_seconds)
            + _live_share(costs.agg_live, live_seconds))  # fmt: skip
    return rate * (costs.event + costs.agg_event) + hours + live
