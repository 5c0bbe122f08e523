"""The Faust app: the lanes' feed, an agent and a timer, wired to the lanes and aggregator.

* the **feed** (:mod:`beatlight.runtime.feed`) reads the input partitions this worker
  is assigned straight from Kafka, each from its lane's offset, hands their records to
  their lanes (:mod:`beatlight.runtime.lanes`) and publishes dead letters, recent
  presence points (``visibility.points``) and the lanes' hour figures and final runs.
  Faust's consumer takes part in the group, which shares the partitions out, but never
  fetches them: through Faust a record cost five times the CPU;
* the ``aggregate`` agent reads ``beatlight.partials`` (one partition, so one worker holds
  it at a time) and merges lanes into hour snapshots for ``visibility.history``
  (:mod:`beatlight.runtime.aggregation`);
* the ``live`` timer sends every owned lane's live figures and, on the worker
  holding the aggregator, publishes ``visibility.live`` and ``visibility.alerts``
  (:mod:`beatlight.runtime.pacing`).

All run one at a time each (SPEC pitfalls). CPU work runs in one worker thread
(:mod:`beatlight.runtime.work`) so the event loop keeps heartbeating; a lane's batch of
records runs on the loop itself when it is cheap (see
:meth:`beatlight.runtime.lanes.Lanes.records_now`), and the feed polls Kafka in a thread
of its own. Sends and commits are in :mod:`beatlight.runtime.faust_io`; what this needs
of Faust's and aiokafka's private attributes is in :mod:`beatlight.runtime.faust_private`.

On SIGTERM (see :func:`create_app`'s ``checkpoint_lanes``) the feed and the work thread
stop reading Kafka and take no new records; every owned lane writes its checkpoint, the
producer is flushed, and the group's offsets are committed where the lanes got to. What
the lanes had not reached is read again by whoever owns them next, from their
checkpoints.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import faust

from beatlight.geo.geography import Geography
from beatlight.runtime import faust_private, topics
from beatlight.runtime.aggregation import Aggregation
from beatlight.runtime.broker import faust_brokers
from beatlight.runtime.faust_io import (
    commit_lanes,
    publish,
    send_batched,
    send_hours,
    send_snapshot,
    unless_stopping,
)
from beatlight.runtime.feed import LaneFeed, assigned_partitions, feed_lanes
from beatlight.runtime.lanes import Lanes
from beatlight.runtime.observe import Metrics
from beatlight.runtime.pacing import LivePacing, live_tick
from beatlight.runtime.work import WorkThread
from beatlight.streams.lane import LaneConfig
from beatlight.streams.runner import Record

if TYPE_CHECKING:
    from beatlight.streams.batch import Zoning

__all__ = ["Worker", "WorkerConfig", "create_app"]

log = logging.getLogger("beatlight.worker")

#: On stop, the longest the final checkpoints wait for work begun before (which the
#: ``stopping`` flag cuts short: a chunk of records, an hour's figures).
_SETTLE_S = 5.0


class WorkerConfig(faust.Record, serializer="json"):  # type: ignore[call-arg]
    """What a worker needs beyond the geography.

    Built from ``Settings`` by :func:`beatlight.configs.worker_config`, where the
    defaults are declared; only the feed's batching, which is no setting, has its own:
    the most records a poll returns, and the longest it waits for any (a stop too)."""

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
    batch_size: int = 4000
    batch_seconds: float = 0.2


@dataclass(frozen=True)
class Worker:
    """The pieces a worker's agents are wired to (``app.beatlight_worker``, for tests)."""

    lanes: Lanes
    aggregation: Aggregation
    pacing: LivePacing
    work: WorkThread
    metrics: Metrics


def create_app(
    config: WorkerConfig,
    geography: Geography,
    lane_config: LaneConfig,
    zoning: Zoning | None = None,
) -> faust.App:
    """A Faust app wired to ``geography`` (and the zones of ``zoning``, if any); start it
    with :func:`run_worker`."""
    app = _faust_app(config)
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    presence = app.topic(topics.PRESENCE, partitions=config.partitions, **raw)
    # One agent over both: Faust hands the partitions of one agent's topics to one worker.
    lane_output = app.topic(topics.PARTIALS, topics.LIVE_TICKS, **raw)

    metrics = Metrics()
    lanes = Lanes(config, geography, lane_config, stopping=app.stopping, metrics=metrics,
                  zoning=zoning)  # fmt: skip
    aggregation = Aggregation(config, geography, lane_config, local=lanes,
                              stopping=app.stopping, metrics=metrics, zoning=zoning)  # fmt: skip
    pacing = LivePacing(config.live_seconds, metrics)
    work = WorkThread()
    app.beatlight_worker = Worker(lanes, aggregation, pacing, work, metrics)

    feed = LaneFeed(config.bootstrap, topics.PRESENCE, fetch_wait_ms=config.fetch_wait_ms,
                    max_records=config.batch_size)  # fmt: skip

    @app.task
    async def read_lanes() -> None:
        await feed_lanes(app, feed, lanes, work, metrics, poll_s=config.batch_seconds)

    @app.agent(presence, concurrency=1)
    async def assigned(stream: Any) -> None:
        """Subscribes the worker to the input, so that the group shares its partitions
        out; the feed reads them (Faust's consumer never fetches them)."""
        async for _event in stream:
            pass

    @app.agent(lane_output, concurrency=1)
    async def aggregate(stream: Any) -> None:
        async for events in stream.take_events(500, within=min(0.5, config.live_seconds)):
            records = [Record(e.message.offset, e.message.value) for e in events
                       if e.message.topic == topics.PARTIALS]  # fmt: skip
            live = [e.message.value for e in events if e.message.topic == topics.LIVE_TICKS]
            hours = await work.run(aggregation.records, records, live)
            with unless_stopping(f"{len(hours)} hour snapshots"):
                await send_hours(app, hours)

    @app.timer(config.live_seconds)
    async def tick() -> None:
        if app.should_stop or not pacing.due():
            return
        with work.busy():
            await _tick()

    async def _tick() -> None:
        started = time.monotonic()
        partitions = assigned_partitions(app)
        aggregating = any(tp.topic == topics.PARTIALS for tp in app.consumer.assignment())
        now_us = time.time_ns() // 1000
        emission, hours, live, pacing.cost_s = await work.run(
            live_tick, lanes, aggregation, partitions, now_us, aggregating
        )
        await publish(app, metrics, emission)
        with unless_stopping("the commit of the lanes' checkpoints"):
            await commit_lanes(app, lanes.checkpointed(set(partitions)),
                               flush=bool(emission.checkpoints))  # fmt: skip
        with unless_stopping(f"{len(hours)} hour snapshots and the live snapshot"):
            await send_hours(app, hours)
            if live is not None:
                document, raised = live
                sending = time.perf_counter()
                await send_snapshot(app, topics.VISIBILITY_LIVE, document, live=True)
                await send_batched(app, topics.VISIBILITY_ALERTS, raised)
                pacing.cost_s += time.perf_counter() - sending
        pacing.pace(started)

    @app.on_partitions_revoked.connect
    async def rebalance_began(sender: Any, revoked: Any, **_: Any) -> None:
        metrics.revoked(time.monotonic())

    @app.on_partitions_assigned.connect
    async def rebalance_ended(sender: Any, assigned: Any, **_: Any) -> None:
        metrics.assigned(sum(tp.topic == topics.PRESENCE for tp in assigned), time.monotonic())

    @app.on_before_shutdown.connect
    async def checkpoint_lanes(sender: Any, **_: Any) -> None:
        """On stop, once Faust has committed its offsets: every owned lane's checkpoint.

        Faust flushes the producer next. Work begun before the stop ends early (the
        ``stopping`` flag), so this waits for it only briefly.
        """
        started = time.monotonic()
        await work.settle(timeout_s=_SETTLE_S)
        await feed.aclose()
        try:
            owned = set(assigned_partitions(app))
        except Exception as error:  # noqa: BLE001 - the consumer never started
            log.warning("stopping: no assignment to checkpoint (%r)", error)
            return
        emission = await work.run(lanes.checkpoint, owned)
        await publish(app, metrics, emission)
        with unless_stopping("the commit of the lanes' checkpoints"):
            await commit_lanes(app, lanes.checkpointed(owned))
        log.info("stopping: checkpoints of lanes %s written in %.1f s",
                 sorted(owned & set(lanes.held())), time.monotonic() - started)  # fmt: skip

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        body, content_type = metrics.exposition()
        return web.bytes(body, content_type=content_type)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "lanes": lanes.held()})

    return app


def _faust_app(config: WorkerConfig) -> faust_private.App:
    """The Faust app with the worker's settings for its consumer, producer and web server."""
    app = faust_private.App(
        config.app_id,
        fetch_wait_ms=config.fetch_wait_ms,
        fed_topics=frozenset({topics.PRESENCE}),
        broker=faust_brokers(config.bootstrap),
        store="memory://",
        autodiscover=False,
        topic_partitions=config.partitions,
        topic_disable_leader=True,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=config.heartbeat_s,
        broker_rebalance_timeout=max(config.session_timeout_s * 2, 10.0),
        consumer_auto_offset_reset="earliest",
        # Faust's consumer reads the lanes' partials and live ticks (the input is the
        # feed's): fetches of 1 MiB, not 4, a partition. A record larger than that still
        # comes, alone (KIP-74; Tansu too).
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
    return app
