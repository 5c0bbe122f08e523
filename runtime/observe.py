"""The worker's Prometheus metrics: events by outcome and reason, lag, watermarks, throughput."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from beatlight.streams.runner import Emission, LaneRunner

__all__ = ["Metrics"]


class Metrics:
    """A registry of its own, so several workers in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_resident_memory_bytes and friends: a worker's memory is part of its contract.
        ProcessCollector(registry=self.registry)
        self.events = Counter("beatlight_events_total", "Events processed, by outcome.",
                              ["outcome"], registry=self.registry)  # fmt: skip
        self.rejected = Counter("beatlight_rejected_total", "Rejected events, by reason.",
                                ["reason"], registry=self.registry)  # fmt: skip
        self.watermark = Gauge("beatlight_lane_watermark_seconds",
                               "Latest accepted event time per input partition.",
                               ["partition"], registry=self.registry)  # fmt: skip
        self.ahead = Counter("beatlight_pings_ahead_total",
                             "Accepted pings more than the allowed lateness ahead of their "
                             "lane's watermark: a device whose clock runs ahead (they count, "
                             "and do not move the watermark).",
                             ["partition"], registry=self.registry)  # fmt: skip
        self.units_ahead = Gauge("beatlight_lane_units_ahead",
                                 "Recent units whose latest ping is more than the allowed "
                                 "lateness ahead of the lane's watermark.",
                                 ["partition"], registry=self.registry)  # fmt: skip
        self._ahead_counted: dict[str, int] = {}
        self.lag = Gauge("beatlight_lane_lag_records",
                         "Records in the partition not yet processed by its lane.",
                         ["partition"], registry=self.registry)  # fmt: skip
        self.offset = Gauge("beatlight_lane_offset", "Next offset each lane expects.",
                            ["partition"], registry=self.registry)  # fmt: skip
        self.seen = Counter("beatlight_records_seen_before_total",
                            "Records given to a lane that it already had (read again after "
                            "a rebalance, or by the lane itself when idle), and skipped.",
                            registry=self.registry)  # fmt: skip
        self.points = Counter("beatlight_points_total",
                              "Recent presence points sent to visibility.points.",
                              registry=self.registry)  # fmt: skip
        self.live_interval = Gauge("beatlight_live_interval_seconds",
                                   "Seconds between live snapshots: BEATLIGHT_LIVE_SECONDS, or "
                                   "longer when they cost over a fifth of the worker's time.",
                                   registry=self.registry)  # fmt: skip
        self.hour_gauge = Gauge("beatlight_last_hour_snapshot_seconds",
                          "Hour boundary of the latest published history snapshot.",
                          registry=self.registry)  # fmt: skip

        self.held_hours = Gauge("beatlight_aggregator_hours",
                                "Hours the aggregator holds: waiting for lanes, or revisable.",
                                ["state"], registry=self.registry)  # fmt: skip
        self.held_bytes = Gauge("beatlight_aggregator_hour_bytes",
                                "Bytes of the lanes' figures for the hours the aggregator holds.",
                                registry=self.registry)  # fmt: skip
        self.final_runs = Gauge("beatlight_aggregator_final_runs",
                                "Final presence runs the aggregator keeps for its windows.",
                                registry=self.registry)  # fmt: skip
        self.too_old = Gauge("beatlight_aggregator_too_old",
                             "Lane figures for hours past revision (over two days, or the "
                             "lateness and a day, older than the latest published hour), not "
                             "taken: a lane was idle for days.",
                             registry=self.registry)  # fmt: skip
        self.revisions = Gauge("beatlight_aggregator_revisions",
                               "Hour snapshots published again as revisions, late pings having "
                               "changed their figures (since this worker took the aggregator).",
                               registry=self.registry)  # fmt: skip
        self.partitions = Gauge("beatlight_worker_partitions",
                                "Input partitions (patrol.presence) assigned to this worker; 0 "
                                "while its consumer group rebalances.",
                                registry=self.registry)  # fmt: skip
        self.rebalances = Counter("beatlight_worker_rebalances_total",
                                  "Consumer-group rebalances this worker has been through: "
                                  "each stops its consumption until the group has re-formed.",
                                  registry=self.registry)  # fmt: skip
        self.rebalancing = Counter("beatlight_worker_rebalance_seconds_total",
                                   "Seconds this worker's consumption stood still in "
                                   "rebalances (from its partitions being revoked to their "
                                   "new assignment).",
                                   registry=self.registry)  # fmt: skip
        self._revoked_at: float | None = None
        self.skipped = Gauge("beatlight_lane_hours_skipped",
                             "Hours a lane owed no figures for, none of its pings reaching "
                             "them (since it started in this worker).",
                             ["partition"], registry=self.registry)  # fmt: skip

    def aggregator(self, held: dict[str, int]) -> None:
        self.held_hours.labels("waiting").set(held["waiting_hours"])
        self.held_hours.labels("revisable").set(held["revisable_hours"])
        self.held_bytes.set(held["hour_bytes"])
        self.final_runs.set(held["final_runs"])
        self.too_old.set(held["too_old"])
        self.revisions.set(held["revisions"])

    def revoked(self, now: float) -> None:
        """The group began a rebalance: this worker consumes nothing until it ends."""
        self.partitions.set(0)
        self.rebalances.inc()
        self._revoked_at = now

    def assigned(self, partitions: int, now: float) -> None:
        """The rebalance ended with ``partitions`` input partitions for this worker."""
        self.partitions.set(partitions)
        if self._revoked_at is not None:
            self.rebalancing.inc(now - self._revoked_at)
            self._revoked_at = None

    def count(self, emission: Emission) -> None:
        self.events.labels("accepted").inc(emission.accepted)
        self.events.labels("duplicate").inc(emission.duplicates)
        self.points.inc(len(emission.points))
        self.seen.inc(emission.seen)
        for reason, n in emission.rejected.items():
            self.events.labels("rejected").inc(n)
            self.rejected.labels(reason).inc(n)

    def lane(self, runner: LaneRunner) -> None:
        partition = str(runner.partition)
        intake = runner.lane.intake
        if intake.has_watermark:
            self.watermark.labels(partition).set(intake.watermark_us / 1e6)
        counted = self._ahead_counted.get(partition, 0)
        if intake.ahead > counted:
            self.ahead.labels(partition).inc(intake.ahead - counted)
        self._ahead_counted[partition] = intake.ahead
        self.units_ahead.labels(partition).set(intake.units_ahead)
        self.offset.labels(partition).set(runner.next_offset)
        self.skipped.labels(partition).set(runner.lane.hours_skipped)

    def lane_gone(self, partition: int) -> None:
        """A lane this worker no longer holds: its gauges go (its counters stay)."""
        for gauge in (self.watermark, self.units_ahead, self.lag, self.offset, self.skipped):
            with contextlib.suppress(KeyError):  # never set
                gauge.remove(str(partition))

    def lags(self, ends: dict[int, int], lanes_at: dict[int, int]) -> None:
        """Each lane's lag: records between its next offset and its partition's end."""
        for partition, end in ends.items():
            if partition in lanes_at:
                self.lag.labels(str(partition)).set(max(end - lanes_at[partition], 0))

    def hour(self, hour_us: int) -> None:
        self.hour_gauge.set(hour_us / 1e6)

    def exposition(self) -> tuple[bytes, str]:
        # aiohttp wants the charset apart from the content type.
        return generate_latest(self.registry), CONTENT_TYPE_LATEST.split(";")[0]
