"""The Faust app: thin agents around the lane runner and the aggregator.

Two agents and a timer, all ``concurrency=1`` (SPEC pitfalls):

* ``presence`` reads ``patrol.presence`` in batches (``take_events`` with a
  timeout), hands each partition's records to its :class:`LaneRunner`, and
  publishes dead letters, recent presence points (``visibility.points``) and the
  lanes' hour figures and final runs;
* ``aggregate`` reads ``beatlight.partials`` (one partition, so one worker holds
  it at a time), merges lanes into hour snapshots for ``visibility.history``;
* the ``live`` timer sends every owned lane's live figures and, on the worker
  holding the aggregator, publishes ``visibility.live`` and ``visibility.alerts``.

CPU work runs in one worker thread so the event loop keeps heartbeating; a lane's
batch of records runs on the loop itself when it is cheap (see
:meth:`_State.lane_records_now`).

On SIGTERM (see :func:`create_app`'s ``checkpoint_lanes``) the work thread stops reading
Kafka and takes no new records; Faust commits the offsets it has handed over, every
owned lane writes its checkpoint, and the producer is flushed. What the lanes had not
reached is read again by whoever owns them next, from their checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
import orjson
from aiokafka.errors import ProducerClosed
from faust.exceptions import NotReady, ProducerSendError
from faust.types import TP

from beatlight.geo.geography import Geography
from beatlight.runtime import faust_driver, topics
from beatlight.runtime.observe import Metrics
from beatlight.runtime.reader import PartitionReader
from beatlight.runtime.worker import (
    Emission,
    GapError,
    LaneRunner,
    Record,
    first_publication_us,
)
from beatlight.streams.aggregate import Aggregator, Revision, Snapshot, snapshot_records
from beatlight.streams.alerts import AlertTracker
from beatlight.streams.checkpoint import checkpoint_records, latest_checkpoint, load_lane
from beatlight.streams.lane import LaneConfig
from beatlight.streams.wire import decode

__all__ = ["WorkerConfig", "create_app"]

log = logging.getLogger("beatlight.worker")

#: A lane the consumer has not fed for this long (or two live intervals) reads Kafka
#: itself, at most this often, ...
_IDLE_AFTER_S = 5.0
#: ... for at most this long each time.
_CATCH_UP_BUDGET_S = 1.0
#: Live figures may take at most 1/_LIVE_COST_FACTOR of the worker's time.
_LIVE_COST_FACTOR = 5.0
#: A lane's batch runs on the event loop if the lane's last batch took less than this.
_INLINE_S = 0.05
#: On stop, the longest the final checkpoints wait for work begun before (which the
#: ``stopping`` flag cuts short: a chunk of records, an hour's figures).
_SETTLE_S = 5.0


class _Stopping(Exception):
    """The worker is stopping: work not begun is left for the lanes' next owner."""


class WorkerConfig(faust.Record, serializer="json"):  # type: ignore[call-arg]
    """What a worker needs beyond the geography.

    Built from ``Settings`` by :func:`beatlight.configs.worker_config`, where the
    defaults are declared; only the batching, which is no setting, has its own."""

    bootstrap: str
    partitions: int
    app_id: str
    session_timeout_s: float
    heartbeat_s: float
    live_seconds: float
    live_clock: str  # "wall": as of now; "event": as of the latest event time
    web_port: int
    web_host: str
    max_event_bytes: int
    alert_window: str
    alert_unvisited_minutes: float
    checkpoint_seconds: float
    points_minutes: float  # pings this recent go to visibility.points
    fetch_wait_ms: int  # longest a fetch waits at the broker (Faust fixes 1,500)
    compression: str  # of the batches sent: none, gzip, snappy, lz4 or zstd
    batch_size: int = 2000
    batch_seconds: float = 0.2


def create_app(config: WorkerConfig, geography: Geography, lane_config: LaneConfig) -> faust.App:
    """A Faust app wired to ``geography``; start it with :func:`run_worker`."""
    app = faust_driver.App(
        config.app_id,
        fetch_wait_ms=config.fetch_wait_ms,
        broker=",".join(f"kafka://{host}" for host in config.bootstrap.split(",")),
        store="memory://",
        autodiscover=False,
        topic_partitions=config.partitions,
        topic_disable_leader=True,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=config.heartbeat_s,
        broker_rebalance_timeout=max(config.session_timeout_s * 2, 10.0),
        consumer_auto_offset_reset="earliest",
        # Records the consumer decodes ahead of the agent: by default all it has fetched
        # (4 MiB a partition, ~20,000 records each, twice over with the prefetch), which
        # held ~100 MB of Python objects in a worker reading a backlog. With the cap, a
        # partition's fetch is drained before the next one's: 1 MiB fetches (~5,000
        # records) take turns often enough that no lane waits long enough to count as
        # idle. A record larger than that still comes, alone (KIP-74; Tansu too).
        broker_max_poll_records=2 * config.batch_size,
        consumer_max_fetch_size=1024 * 1024,
        producer_acks=-1,
        producer_max_request_size=16 * 1024 * 1024,
        # Snapshots are JSON, a country's 21 MB a tick: zstd sends a ninth of that, for
        # ~60 ms of CPU. Batches of 1 MiB (not 16 KiB) compress better, in fewer requests.
        producer_compression_type=None if config.compression == "none" else config.compression,
        producer_max_batch_size=1024 * 1024,
        processing_guarantee="at_least_once",
        web_enabled=config.web_port > 0,
        web_port=config.web_port or 6066,
        # web_bind is the address the server listens on; web_host only names it in URLs.
        web_bind=config.web_host,
        web_host=config.web_host,
        web_in_thread=False,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    presence = app.topic(topics.PRESENCE, partitions=config.partitions, **raw)
    # One agent over both: Faust hands the partitions of one agent's topics to one worker.
    lane_output = app.topic(topics.PARTIALS, topics.LIVE_TICKS, **raw)

    state = _State(config, geography, lane_config, stopping=app.stopping)
    app.beatlight_state = state  # for tests and the /metrics page

    async def publish(emission: Emission) -> None:
        """Hand a lane's output to the producer, in order.

        Straight to the producer, not through ``Topic.send``: Faust's per-message
        bookkeeping (futures, attachments, sensors) costs about ten times the CPU of the
        send itself, and a lane sends one point per recent ping. At least once still
        holds: Faust flushes the producer before it commits offsets. The topics are
        created by the CLI (``beatlight.runtime.topics.ensure_topics``).
        """
        state.metrics.count(emission)
        left = (len(emission.dlq) + len(emission.partials) + len(emission.checkpoints)
                + len(emission.points))  # fmt: skip
        with _unless_stopping(f"{left} lane messages"):
            await _send_batched(app, topics.PRESENCE_DLQ, emission.dlq)
            await _send_batched(app, topics.VISIBILITY_POINTS, emission.points)
            producer = await app.maybe_start_producer()
            for payload in emission.partials:
                await producer.send(topics.PARTIALS, b"lanes", payload, 0, None, None)
            for payload in emission.live:
                await producer.send(topics.LIVE_TICKS, b"lanes", payload, 0, None, None)
            for partition, key, value in emission.checkpoints:
                await producer.send(topics.CHECKPOINTS, key, value, partition, None, None)

    async def handle(by_partition: dict[int, list[Record]]) -> None:
        with state.busy():
            for partition, records in sorted(by_partition.items()):
                if state.stopping.is_set():
                    return  # left for the next owner of the lanes (see the module's doc)
                emission = state.lane_records_now(partition, records)
                if emission is None:
                    try:
                        emission = await state.run(state.lane_records, partition, records)
                    except _Stopping:
                        return
                await publish(emission)
            if not state.stopping.is_set():
                await _skip_read_ahead(app, state.take_read_ahead())  # a lane restored just now

    @app.agent(presence, concurrency=1)
    async def process(stream: Any) -> None:
        """Batches are handled one at a time, in order, while the next one is gathered.

        ``take_events`` gathers no events while its caller holds a batch, so awaiting the
        work here would leave the consumer idle for as long as the work takes. The batch
        is acked when it is handed over, before its work is done: that is safe because
        each lane keeps its own offsets (checkpoints and catch-up reads), not Faust's.
        """
        pending: asyncio.Task | None = None
        try:
            async for events in stream.take_events(config.batch_size, within=config.batch_seconds):
                by_partition: dict[int, list[Record]] = defaultdict(list)
                for event in events:
                    by_partition[event.message.partition].append(
                        Record(event.message.offset, event.message.value)
                    )
                if pending is not None:
                    await pending  # at most one batch in hand: back-pressure, and order
                pending = asyncio.ensure_future(handle(by_partition))
        finally:
            if pending is not None and not pending.done():
                await asyncio.shield(pending)

    @app.agent(lane_output, concurrency=1)
    async def aggregate(stream: Any) -> None:
        async for events in stream.take_events(500, within=min(0.5, config.live_seconds)):
            records = [Record(e.message.offset, e.message.value) for e in events
                       if e.message.topic == topics.PARTIALS]  # fmt: skip
            live = [e.message.value for e in events if e.message.topic == topics.LIVE_TICKS]
            hours = await state.run(state.aggregate_records, records, live)
            with _unless_stopping(f"{len(hours)} hour snapshots"):
                for snap in hours:
                    await _send_snapshot(app, topics.VISIBILITY_HISTORY, snap.document,
                                         live=False, revision=snap.revision)  # fmt: skip

    @app.timer(config.live_seconds)
    async def tick() -> None:
        if app.should_stop or time.monotonic() < state.next_tick_at:
            return
        with state.busy():
            await _tick()

    async def _tick() -> None:
        started = time.monotonic()
        assignment = app.consumer.assignment()
        lanes = sorted(tp.partition for tp in assignment if tp.topic == topics.PRESENCE)
        aggregating = any(tp.topic == topics.PARTIALS for tp in assignment)
        now_us = time.time_ns() // 1000
        emission, hours, live = await state.run(state.tick, lanes, now_us, aggregating)
        await publish(emission)
        if not state.stopping.is_set():
            await _skip_read_ahead(app, state.take_read_ahead())
        with _unless_stopping(f"{len(hours)} hour snapshots and the live snapshot"):
            for snap in hours:
                await _send_snapshot(app, topics.VISIBILITY_HISTORY, snap.document, live=False,
                                     revision=snap.revision)  # fmt: skip
            if live is not None:
                document, raised = live
                sending = time.perf_counter()
                await _send_snapshot(app, topics.VISIBILITY_LIVE, document, live=True)
                await _send_batched(app, topics.VISIBILITY_ALERTS, raised)
                state.live_cost_s += time.perf_counter() - sending
        state.pace_live(started)

    @app.on_before_shutdown.connect
    async def checkpoint_lanes(sender: Any, **_: Any) -> None:
        """On stop, once Faust has committed its offsets: every owned lane's checkpoint.

        Faust flushes the producer next. Work begun before the stop ends early (the
        ``stopping`` flag), so this waits for it only briefly.
        """
        started = time.monotonic()
        await state.settle(timeout_s=_SETTLE_S)
        try:
            owned = {tp.partition for tp in app.consumer.assignment()
                     if tp.topic == topics.PRESENCE}  # fmt: skip
        except Exception as error:  # noqa: BLE001 - the consumer never started
            log.warning("stopping: no assignment to checkpoint (%r)", error)
            return
        emission = await state.run(state.checkpoint_lanes, owned)
        await publish(emission)
        log.info("stopping: checkpoints of lanes %s written in %.1f s",
                 sorted(owned & set(state.lanes)), time.monotonic() - started)  # fmt: skip

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        body, content_type = state.metrics.exposition()
        return web.bytes(body, content_type=content_type)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "lanes": sorted(state.lanes)})

    return app


async def _skip_read_ahead(app: faust.App, read_to: dict[int, int]) -> None:
    """Move the consumer past the records lanes already have (``{partition: offset}``).

    A lane the consumer has not fed for a while reads its partition from Kafka itself
    (:meth:`_State.live_tick`), and a restarted lane resumes from its checkpoint, which
    may be past the group's committed offset. Reading a backlog, Faust's consumer can
    leave one partition unfed for over ten seconds and then deliver everything the lane
    read meanwhile: the lane skips those records, but each still costs Faust's work per
    message (in one benchmark round, 66,855 of 200,000 records came twice). Seeking the
    consumer to where the lane is drops them from its buffers and its next fetches, and
    committing there keeps the group's offsets moving (Faust commits only offsets it
    has handed over itself).
    """
    consumer = app.consumer
    for partition, offset in read_to.items():
        tp = TP(topics.PRESENCE, partition)
        delivered = consumer._read_offset.get(tp)  # the last offset it passed on
        if delivered is not None and delivered + 1 >= offset:
            continue  # the consumer is there already
        try:
            await consumer.seek_wait({tp: offset})
            # What lies before is the lane's (its output is published, or in its
            # checkpoint): commit there, as Faust would once it had acked those records.
            if consumer._should_commit(tp, offset):
                await consumer._commit_offsets({tp: offset})
        except Exception as error:  # e.g. a rebalance took the partition: nothing to skip
            log.warning("lane %d: could not move the consumer to offset %d: %r", partition,
                        offset, error)  # fmt: skip


@contextlib.contextmanager
def _unless_stopping(what: str) -> Iterator[None]:
    """Sends cut short because the worker is stopping (Faust has closed its producer).

    Nothing is lost: on restart the lanes resume from their checkpoints and send their final
    runs, hours and letters again, and the aggregator re-reads ``beatlight.partials`` and
    sends its hour snapshots again (the store upserts them); live figures are sent each tick.
    Recent points are best effort: the restart sends again those still recent.
    """
    try:
        yield
    except (NotReady, ProducerClosed):
        log.info("stopping: %s left for the restart to send again", what)
    except ProducerSendError as error:
        if not isinstance(error.__cause__, ProducerClosed):
            raise
        log.info("stopping: %s left for the restart to send again", what)


async def _send_snapshot(
    app: faust.App, topic: str, document: dict, *, live: bool, revision: Revision | None = None
) -> None:
    """History is keyed by hour, level and code; live by level and code (the latest wins)."""
    prefix = "live" if live else document["as_of"]
    records = []
    for key, value in snapshot_records(document, prefix=prefix, revision=revision):
        if live:
            key = key.removeprefix("live|")
        records.append((key.encode(), orjson.dumps(value)))
    await _send_batched(app, topic, records)


async def _send_batched(app: faust.App, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Records for a one-partition topic (DLQ, snapshots, alerts, points), in order.

    Filled into as few record batches as they fit, which aiokafka builds in C: sent one
    by one, the ~300 records of each live snapshot and a record per recent ping cost the
    event loop more than consuming the input does. Faust's flush before it commits
    offsets covers these batches as it covers single sends.
    """
    if not records:
        return
    producer = (await app.maybe_start_producer())._ensure_producer()  # aiokafka's own
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # full
            await producer.send_batch(batch, topic, partition=0)
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)  # a first record always fits
    await producer.send_batch(batch, topic, partition=0)


class _State:
    """The worker's lanes and aggregator; every method runs on the one work thread."""

    def __init__(
        self, config: WorkerConfig, geography: Geography, lane_config: LaneConfig, *,
        stopping: threading.Event,
    ) -> None:  # fmt: skip
        self.config = config
        #: Set when the worker begins to stop: reads of Kafka end between chunks, and
        #: no lane takes new records.
        self.stopping = stopping
        self._busy = 0  # handlers and ticks under way (see busy() and settle())
        self._idle = asyncio.Event()
        self._idle.set()
        self.geography = geography
        self.lane_config = lane_config
        self.lanes: dict[int, LaneRunner] = {}
        self.metrics = Metrics()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beatlight-work")
        self._presence_reader: PartitionReader | None = None
        self._partials_reader: PartitionReader | None = None
        self._checkpoint_reader: PartitionReader | None = None
        self.aggregator = Aggregator(geography.areas, lane_config.model, config.partitions,
                                     lateness_us=lane_config.lateness_us)  # fmt: skip
        self._aggregated_to = 0  # next partials offset the aggregator expects
        self._alerts = AlertTracker(config.alert_window, config.alert_unvisited_minutes)
        #: What the last tick's live figures cost (work and sending, not reads of Kafka),
        #: and when the next tick may start (see :meth:`pace_live`).
        self.live_cost_s = 0.0
        self.next_tick_at = 0.0
        self.live_interval_s = config.live_seconds
        #: Partitions whose lane got past what the consumer delivered: by reading Kafka
        #: itself, or from its checkpoint. The tick moves the consumer there too.
        self.read_ahead: dict[int, int] = {}

    def take_read_ahead(self) -> dict[int, int]:
        taken, self.read_ahead = self.read_ahead, {}
        return taken

    def pace_live(self, started: float) -> None:
        """Live figures at most a fifth of the worker's time: every ``live_seconds``, or
        five times what the last took when that is longer (a whole country's areas
        on a small machine), so that the input keeps flowing."""
        interval = max(self.config.live_seconds, _LIVE_COST_FACTOR * self.live_cost_s)
        if abs(interval - self.live_interval_s) > 0.25 * self.live_interval_s:
            log.info("live figures every %.1f s (each took %.2f s of work)", interval,
                     self.live_cost_s)  # fmt: skip
        self.live_interval_s = interval
        self.metrics.live_interval.set(interval)
        self.next_tick_at = started + interval - 0.5 * self.config.live_seconds

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Around a handler or tick on the event loop: lane work that :meth:`settle` awaits."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def settle(self, timeout_s: float) -> None:
        """Wait until no handler or tick is under way (at most ``timeout_s``)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("stopping: lane work still under way after %.0f s", timeout_s)

    def checkpoint_lanes(self, partitions: set[int]) -> Emission:
        """The checkpoints of these lanes, those held here (on stop)."""
        emission = Emission()
        for partition in sorted(partitions & set(self.lanes)):
            emission.extend(self._checkpoint(self.lanes[partition]))
        return emission

    # -- stage 1 ----------------------------------------------------------------------

    def lane_records_now(self, partition: int, records: list[Record]) -> Emission | None:
        """:meth:`lane_records` on the event loop when it is cheap; ``None`` when it is not.

        Handing a county's batch to the work thread costs more than the lane's work on it:
        the event loop and the work thread then take turns at the GIL, and the loop waits
        for it after every read and send (``bench/stream_throughput.py``, (b): 9,600 events/s
        through the thread, 10,900 here). A lane not made yet (its checkpoint is read from
        Kafka), records after a gap (read from Kafka), a lane whose last batch took over
        ``_INLINE_S`` (a country's hour figures) or one busy with its live tick: the thread.
        """
        runner = self.lanes.get(partition)
        if runner is None or records[0].offset > runner.next_offset or runner.cost_s > _INLINE_S:
            return None
        emission = runner.process(records, now_us=time.time_ns() // 1000, blocking=False)
        if emission is None:
            return None
        runner.fed_at = time.monotonic()
        self.metrics.lane(runner)
        return emission

    def lane_records(self, partition: int, records: list[Record]) -> Emission:
        """A partition's records, after reading any gap before them from Kafka.

        Stopping: :class:`_Stopping` before the lane takes any record; a gap read cut
        short leaves the batch to the lane's next owner.
        """
        if self.stopping.is_set():
            raise _Stopping
        runner = self._runner(partition)
        runner.fed_at = time.monotonic()
        emission = Emission()
        if records[0].offset > runner.next_offset:
            emission.extend(self._catch_up(runner, records[0].offset)[0])
            if runner.next_offset < records[0].offset:  # cut short: stopping
                self.metrics.lane(runner)
                return emission
        emission.extend(runner.process(records, now_us=time.time_ns() // 1000))
        self.metrics.lane(runner)
        return emission

    def tick(
        self, lanes: list[int], now_us: int, aggregating: bool
    ) -> tuple[Emission, list[Snapshot], tuple[dict, list[tuple[bytes, bytes]]] | None]:
        """Every owned lane's live figures; with the aggregator, hours and the live snapshot.

        One call on the work thread for the whole tick. This worker's own live figures go
        to its aggregator directly, not through ``beatlight.live-ticks`` (one broker
        round trip less between a ping and the live map); other workers' come from Kafka.
        """
        for gone in set(self.lanes) - set(lanes):
            # Another worker has it now; if it comes back, it resumes from its checkpoint.
            del self.lanes[gone]
        self.live_cost_s = 0.0
        emission = Emission()
        for partition in lanes:
            if self.stopping.is_set():
                break  # what the lanes read so far is in the emission, to be sent
            try:
                emission.extend(self.live_tick(partition, now_us))
            except _Stopping:
                break
        if not aggregating:
            return emission, [], None
        started = time.perf_counter()
        hours = self._aggregate_live(emission.live, local=True)
        snapshot = self.live_snapshot()
        self.live_cost_s += time.perf_counter() - started
        self.metrics.aggregator(self.aggregator.held())
        return emission, hours, snapshot

    def live_tick(self, partition: int, now_us: int) -> Emission:
        """A lane's live figures; a lane the consumer has not fed lately reads Kafka itself.

        Such reads are made at most every ``_IDLE_AFTER_S`` and stop after
        ``_CATCH_UP_BUDGET_S`` of work, so neither an empty partition nor a busy one the
        consumer is slow to feed holds up the work thread (the other lanes, live figures).
        """
        runner = self._runner(partition)
        emission = Emission()
        now = time.monotonic()
        idle_after = max(2 * self.config.live_seconds, _IDLE_AFTER_S)
        if now - runner.fed_at <= idle_after:
            runner.caught_up = False
        elif now - runner.read_at >= idle_after:
            runner.read_at = now
            before = runner.next_offset
            read, runner.caught_up = self._catch_up(
                runner, None, idle_ms=300, budget_s=_CATCH_UP_BUDGET_S
            )
            emission.extend(read)
            if runner.next_offset > before:
                self.read_ahead[partition] = runner.next_offset
            if runner.caught_up and runner.next_offset == before:
                emission.partials += runner.provisional_ticks(self._settled_hint(now_us))
        as_of = now_us
        if self.config.live_clock == "event":
            slot = self.lane_config.model.slot_us
            as_of = (self._latest_event_us() // slot + 1) * slot
        started = time.perf_counter()
        emission.live.append(runner.live_tick(as_of))
        self.live_cost_s += time.perf_counter() - started
        if time.monotonic() - runner.checkpointed_at >= self.config.checkpoint_seconds:
            emission.extend(self._checkpoint(runner))
        self.metrics.lane(runner)
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

    def _latest_event_us(self) -> int:
        marks = [r.lane.intake.watermark_us for r in self.lanes.values()
                 if r.lane.intake.has_watermark]  # fmt: skip
        return max(marks, default=0)

    def _settled_hint(self, now_us: int) -> int:
        """The latest hour an idle lane should vouch for: what the busiest lane here published
        (settled, or published early when the lateness is over an hour)."""
        latest = self._latest_event_us()
        if self.config.live_clock == "wall":
            latest = max(latest, now_us)
        return latest - first_publication_us(self.lane_config.lateness_us)

    def _runner(self, partition: int) -> LaneRunner:
        runner = self.lanes.get(partition)
        if runner is None:
            runner = LaneRunner(
                partition,
                self.geography,
                self.lane_config,
                max_event_bytes=self.config.max_event_bytes,
                first_offset=self._reader().first_offset(partition),
                points_us=round(self.config.points_minutes * 60_000_000),
                event_clock=self.config.live_clock == "event",
            )
            restored = self._restore(partition)
            if restored is not None:
                runner.restore(*restored)
                self.read_ahead[partition] = runner.next_offset
            self.lanes[partition] = runner
            log.info(
                "lane %d: starting at offset %d%s",
                partition,
                runner.next_offset,
                " from its checkpoint" if restored else "",
            )
        return runner

    def _restore(self, partition: int):  # noqa: ANN202
        if self._checkpoint_reader is None:
            self._checkpoint_reader = PartitionReader(self.config.bootstrap, topics.CHECKPOINTS)
        records = []
        for chunk in self._checkpoint_reader.read(partition, 0, None, idle_ms=500,
                                                  cancel=self.stopping):  # fmt: skip
            records += chunk
        if self.stopping.is_set():
            raise _Stopping  # the checkpoint may be the older one: no lane made of it
        blob = latest_checkpoint(records, partition)
        if blob is None:
            return None
        return load_lane(blob, self.geography, self.lane_config)

    def _catch_up(
        self, runner: LaneRunner, stop: int | None, idle_ms: int = 1500,
        budget_s: float | None = None,
    ) -> tuple[Emission, bool]:  # fmt: skip
        """Read the records this lane has not seen (up to ``stop``) straight from Kafka.

        Without ``stop``, to the partition's end, or until it is quiet for ``idle_ms``
        short of it, or until ``budget_s`` of reading has passed; the flag says whether it
        got to the end, which only the broker's word can tell (see
        :meth:`PartitionReader.read`): a lane that counts as caught up vouches for hours.
        The worker stopping ends it too, after the chunk in hand: what the lane processed
        is in the emission (to be sent before its checkpoint), the rest is left.
        """
        started, begin = time.perf_counter(), runner.next_offset
        emission = Emission()
        reader = self._reader()
        # Smaller chunks when the read has a budget, so that it can stop near it.
        chunks = reader.read(runner.partition, runner.next_offset, stop, idle_ms=idle_ms,
                             batch=20_000 if budget_s is None else 2_000,
                             cancel=self.stopping)  # fmt: skip
        reached_end = True
        for chunk in chunks:
            try:
                emission.extend(runner.process(chunk, now_us=time.time_ns() // 1000))
            except GapError as gap:  # records deleted by retention: start where the log starts
                log.warning("%s; continuing from %d", gap, gap.got)
                runner.next_offset = gap.got
                emission.extend(runner.process(chunk, now_us=time.time_ns() // 1000))
            over_budget = budget_s is not None and time.perf_counter() - started >= budget_s
            if over_budget or self.stopping.is_set():
                chunks.close()
                reached_end = False
                break
        if self.stopping.is_set() or (stop is None and not reader.at_end):
            reached_end = False  # the reader ended before the end: stopping, or quiet
        if runner.next_offset - begin > 1000:
            log.info(
                "lane %d: read %d records from Kafka in %.1f s%s",
                runner.partition,
                runner.next_offset - begin,
                time.perf_counter() - started,
                "" if reached_end else " (more to read)",
            )
        return emission, reached_end

    def _reader(self) -> PartitionReader:
        if self._presence_reader is None:
            self._presence_reader = PartitionReader(self.config.bootstrap, topics.PRESENCE)
        return self._presence_reader

    # -- stage 2 ----------------------------------------------------------------------

    def aggregate_records(self, records: list[Record], live: list[bytes]) -> list[Snapshot]:
        """Hour snapshots completed or revised by these partials and live figures."""
        out = self._aggregate_live(live, local=False)  # fleeting: no offsets to keep
        fresh = [r for r in records if r.offset >= self._aggregated_to]
        if fresh and fresh[0].offset > self._aggregated_to:
            if self._partials_reader is None:
                self._partials_reader = PartitionReader(self.config.bootstrap, topics.PARTIALS)
            first = self._partials_reader.first_offset(0)
            self._aggregated_to = max(self._aggregated_to, first)
            for chunk in self._partials_reader.read(0, self._aggregated_to, fresh[0].offset,
                                                    cancel=self.stopping):  # fmt: skip
                out += self._aggregate(chunk)
            if self._aggregated_to < fresh[0].offset:  # stopping: the next owner reads it all
                return out
        out += self._aggregate(fresh)
        if out:
            self.metrics.aggregator(self.aggregator.held())
        return out

    def _aggregate_live(self, payloads: list[bytes], *, local: bool) -> list[Snapshot]:
        """Live figures into the aggregator; from Kafka, only other workers' lanes.

        (This worker's own come straight from :meth:`tick`; their copies on Kafka would be
        older than what the aggregator already holds.)
        """
        out = []
        for payload in payloads:
            message = decode(payload)
            if not local and message.status.lane in self.lanes:
                continue
            out += self._published(self.aggregator.receive(message, time.time_ns() // 1000))
        return out

    def _aggregate(self, records: list[Record]) -> list[Snapshot]:
        out = []
        for record in records:
            if record.offset < self._aggregated_to or not record.value:
                continue
            message = decode(record.value)
            out += self._published(self.aggregator.receive(message, time.time_ns() // 1000))
            self._aggregated_to = record.offset + 1
        return out

    def _published(self, snapshots: list[Snapshot]) -> list[Snapshot]:
        for snap in snapshots:
            revision = snap.revision
            if revision is not None and revision.number:
                log.info("hour %s published again as revision %d: late figures changed %d "
                         "areas", snap.document["as_of"], revision.number,
                         sum(n == revision.number for n, _ in revision.areas.values()))  # fmt: skip
            else:
                self.metrics.hour(snap.as_of_us)
        return snapshots

    def live_snapshot(self) -> tuple[dict, list[tuple[bytes, bytes]]] | None:
        snap = self.aggregator.live_snapshot()
        if snap is None:
            return None
        raised = [(a["code"].encode(), orjson.dumps(a)) for a in self._alerts.update(snap.document)]
        return snap.document, raised
