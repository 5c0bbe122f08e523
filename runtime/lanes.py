"""The lanes a worker holds: made or restored from a checkpoint, fed, caught up, checkpointed.

Each input partition the worker is assigned has a :class:`LaneRunner`. The feed
(:mod:`beatlight.runtime.feed`) reads each partition from its lane's offset
(:meth:`Lanes.positions`) and hands the records over (:meth:`Lanes.records`); a lane that
finds a gap before the records it is given (retention deleted them), or that has not
been fed lately, reads its partition from Kafka itself (:mod:`beatlight.runtime.catch_up`):
an idle lane so that it can tell it has read everything, and vouch for hours. A lane new
to this worker resumes from its latest checkpoint on ``beatlight.checkpoints``, and
writes one every ``checkpoint_seconds`` and on stop. Every method but
:meth:`Lanes.records_now`, :meth:`Lanes.offsets` and :meth:`Lanes.checkpointed` runs on
the work thread (:mod:`beatlight.runtime.work`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from beatlight.geo.geography import Geography
from beatlight.runtime import topics
from beatlight.runtime.catch_up import catch_up
from beatlight.runtime.observe import Metrics
from beatlight.runtime.reader import PartitionReader
from beatlight.streams.checkpoint import checkpoint_records, latest_checkpoint, load_lane
from beatlight.streams.lane import Lane, LaneConfig
from beatlight.streams.runner import Emission, LaneRunner, Record, first_publication_us
from beatlight.streams.zone_lane import ZoneLane

if TYPE_CHECKING:
    from beatlight.runtime.app import WorkerConfig
    from beatlight.streams.batch import Zoning

__all__ = ["Lanes", "Stopping"]

log = logging.getLogger("beatlight.worker")

#: A lane given no records for this long (or two live intervals) reads Kafka
#: itself, at most this often, ...
IDLE_AFTER_S = 5.0
#: ... for at most this long each time.
CATCH_UP_BUDGET_S = 1.0
#: A lane's batch runs on the event loop if the lane's last batch took less than this.
INLINE_S = 0.05


class Stopping(Exception):
    """The worker is stopping: work not begun is left for the lanes' next owner."""


class Lanes:
    """The worker's lanes by input partition, kept exact by their offsets."""

    def __init__(
        self, config: WorkerConfig, geography: Geography, lane_config: LaneConfig, *,
        stopping: threading.Event, metrics: Metrics, zoning: Zoning | None = None,
    ) -> None:  # fmt: skip
        """``zoning``: the worker's zones; each lane then keeps a :class:`ZoneLane`."""
        self.config = config
        self.zoning = zoning
        self.geography = geography
        self.lane_config = lane_config
        #: Set when the worker begins to stop: reads of Kafka end between chunks, and
        #: no lane takes new records.
        self.stopping = stopping
        self.metrics = metrics
        self.runners: dict[int, LaneRunner] = {}
        #: What the live figures of the last :meth:`live_ticks` cost (work, not reads).
        self.live_cost_s = 0.0
        self._presence_reader: PartitionReader | None = None
        self._checkpoint_reader: PartitionReader | None = None

    def __contains__(self, partition: object) -> bool:
        return partition in self.runners

    def held(self) -> list[int]:
        """The partitions whose lanes this worker holds, in order."""
        return sorted(self.runners)

    def offsets(self, partitions: set[int]) -> dict[int, int]:
        """``{partition: next offset}`` of the lanes of ``partitions`` held here."""
        return {p: self.runners[p].next_offset for p in sorted(partitions & set(self.runners))}

    def checkpointed(self, partitions: set[int]) -> dict[int, int]:
        """``{partition: next offset}`` as of the last checkpoints of these lanes held here."""
        return {p: self.runners[p].checkpointed_offset
                for p in sorted(partitions & set(self.runners))}  # fmt: skip

    def positions(self, partitions: list[int]) -> dict[int, int]:
        """``{partition: next offset}`` of these partitions' lanes, each made (and restored
        from its checkpoint) if not held yet; :class:`Stopping` if the worker stops first."""
        return {p: self._runner(p).next_offset for p in sorted(partitions)}

    def close(self) -> None:
        """Close the Kafka readers the lanes opened."""
        for reader in (self._presence_reader, self._checkpoint_reader):
            if reader is not None:
                reader.close()

    # -- records from the feed ----------------------------------------------------

    def records_now(self, partition: int, records: list[Record]) -> Emission | None:
        """:meth:`records` on the event loop when it is cheap; ``None`` when it is not.

        Handing a county's batch to the work thread costs more than the lane's work on it:
        the event loop and the work thread then take turns at the GIL, and the loop waits
        for it after every read and send (``bench/stream_throughput.py``, (b): 9,600 events/s
        through the thread, 10,900 here). A lane not made yet (its checkpoint is read from
        Kafka), records after a gap (read from Kafka), a lane whose last batch took over
        ``INLINE_S`` (a country's hour figures) or one busy with its live tick: the thread.
        """
        runner = self.runners.get(partition)
        if runner is None or records[0].offset > runner.next_offset or runner.cost_s > INLINE_S:
            return None
        emission = runner.process(records, now_us=time.time_ns() // 1000, blocking=False)
        if emission is None:
            return None
        runner.fed_at = time.monotonic()
        self.metrics.lane(runner)
        return emission

    def records(self, partition: int, records: list[Record]) -> Emission:
        """A partition's records, after reading any gap before them from Kafka.

        Stopping: :class:`Stopping` before the lane takes any record; a gap read cut
        short leaves the batch to the lane's next owner.
        """
        if self.stopping.is_set():
            raise Stopping
        runner = self._runner(partition)
        runner.fed_at = time.monotonic()
        emission = Emission()
        if records[0].offset > runner.next_offset:
            emission.extend(self.catch_up(runner, records[0].offset)[0])
            if runner.next_offset < records[0].offset:  # cut short: stopping
                self.metrics.lane(runner)
                return emission
        emission.extend(runner.process(records, now_us=time.time_ns() // 1000))
        self.metrics.lane(runner)
        return emission

    # -- live figures -----------------------------------------------------------------

    def live_ticks(self, partitions: list[int], now_us: int) -> Emission:
        """The live figures of the lanes of ``partitions``; lanes of others are dropped.

        Stops early when the worker does: what the lanes read so far is in the emission,
        to be sent. What the figures cost is in :attr:`live_cost_s`.
        """
        for gone in set(self.runners) - set(partitions):
            # Another worker has it now; if it comes back, it resumes from its checkpoint.
            del self.runners[gone]
            self.metrics.lane_gone(gone)
        self.live_cost_s = 0.0
        emission = Emission()
        for partition in partitions:
            if self.stopping.is_set():
                break
            try:
                emission.extend(self.live_tick(partition, now_us))
            except Stopping:
                break
        return emission

    def live_tick(self, partition: int, now_us: int) -> Emission:
        """A lane's live figures; a lane given no records lately reads Kafka itself.

        Such reads are made at most every ``IDLE_AFTER_S`` and stop after
        ``CATCH_UP_BUDGET_S`` of work, so neither an empty partition nor a busy one the
        feed is behind on holds up the work thread (the other lanes, live figures).
        """
        runner = self._runner(partition)
        emission = Emission()
        now = time.monotonic()
        idle_after = max(2 * self.config.live_seconds, IDLE_AFTER_S)
        if now - runner.fed_at <= idle_after:
            runner.caught_up = False
        elif now - runner.read_at >= idle_after:
            runner.read_at = now
            before = runner.next_offset
            read, runner.caught_up = self.catch_up(
                runner, None, idle_ms=300, budget_s=CATCH_UP_BUDGET_S
            )
            emission.extend(read)
            if runner.caught_up and runner.next_offset == before:
                emission.partials += runner.provisional_ticks(self._settled_hint(now_us))
        as_of = now_us
        if self.config.live_clock == "event":
            slot = self.lane_config.model.slot_us
            as_of = (self.latest_event_us() // slot + 1) * slot
        started = time.perf_counter()
        emission.live.append(runner.live_tick(as_of))
        self.live_cost_s += time.perf_counter() - started
        if time.monotonic() - runner.checkpointed_at >= self.config.checkpoint_seconds:
            emission.extend(self._checkpoint(runner))
        self.metrics.lane(runner)
        return emission

    def latest_event_us(self) -> int:
        """The latest watermark of the lanes held here (0 with none)."""
        marks = [r.lane.intake.watermark_us for r in self.runners.values()
                 if r.lane.intake.has_watermark]  # fmt: skip
        return max(marks, default=0)

    def _settled_hint(self, now_us: int) -> int:
        """The latest hour an idle lane should vouch for: what the busiest lane here published
        (settled, or published early when the lateness is over an hour)."""
        latest = self.latest_event_us()
        if self.config.live_clock == "wall":
            latest = max(latest, now_us)
        return latest - first_publication_us(self.lane_config.lateness_us)

    # -- checkpoints ------------------------------------------------------------------

    def checkpoint(self, partitions: set[int]) -> Emission:
        """The checkpoints of these lanes, those held here (on stop)."""
        emission = Emission()
        for partition in sorted(partitions & set(self.runners)):
            emission.extend(self._checkpoint(self.runners[partition]))
        return emission

    def _checkpoint(self, runner: LaneRunner) -> Emission:
        """The lane's state to ``beatlight.checkpoints`` (its final runs are sent first)."""
        emission = Emission()
        runner.checkpointed_at = time.monotonic()
        if runner.next_offset == runner.checkpointed_offset:
            return emission
        emission.partials += runner.flush_final()
        emission.checkpoints += checkpoint_records(
            runner.partition, runner.dump(), runner.checkpoints
        )
        runner.checkpoints += 1
        runner.checkpointed_offset = runner.next_offset
        return emission

    def _runner(self, partition: int) -> LaneRunner:
        """The partition's lane, made (and restored from its checkpoint) if not held yet."""
        runner = self.runners.get(partition)
        if runner is None:
            runner = LaneRunner(
                partition,
                self.geography,
                self.lane_config,
                max_event_bytes=self.config.max_event_bytes,
                first_offset=self._reader().first_offset(partition),
                points_us=round(self.config.points_minutes * 60_000_000),
                event_clock=self.config.live_clock == "event",
                zones=self._zone_lane(),
            )
            restored = self._restore(partition)
            if restored is not None:
                runner.restore(*restored)
            self.runners[partition] = runner
            log.info(
                "lane %d: starting at offset %d%s",
                partition,
                runner.next_offset,
                " from its checkpoint" if restored else "",
            )
        return runner

    def _restore(self, partition: int) -> tuple[Lane, int] | None:
        """The lane and its next offset from the partition's latest checkpoint, if any."""
        if self._checkpoint_reader is None:
            self._checkpoint_reader = PartitionReader(self.config.bootstrap, topics.CHECKPOINTS)
        records = []
        for chunk in self._checkpoint_reader.read(partition, 0, None, idle_ms=500,
                                                  cancel=self.stopping):  # fmt: skip
            records += chunk
        if self.stopping.is_set():
            raise Stopping  # the checkpoint may be the older one: no lane made of it
        blob = latest_checkpoint(records, partition)
        if blob is None:
            return None
        return load_lane(blob, self.geography, self.lane_config, self._zone_lane())

    def _zone_lane(self) -> ZoneLane | None:
        zoning = self.zoning
        return None if zoning is None else ZoneLane(zoning.zones, zoning.config)

    # -- reading Kafka ----------------------------------------------------------------

    def catch_up(
        self, runner: LaneRunner, stop: int | None, idle_ms: int = 1500,
        budget_s: float | None = None,
    ) -> tuple[Emission, bool]:  # fmt: skip
        """:func:`beatlight.runtime.catch_up.catch_up` of this lane, ended by a stop."""
        return catch_up(self._reader(), runner, stop, idle_ms=idle_ms, budget_s=budget_s,
                        cancel=self.stopping)  # fmt: skip

    def _reader(self) -> PartitionReader:
        if self._presence_reader is None:
            self._presence_reader = PartitionReader(self.config.bootstrap, topics.PRESENCE)
        return self._presence_reader
