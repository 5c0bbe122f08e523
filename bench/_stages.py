"""The stages of the stream, measured in this process for ``bench/stage_costs.py``.

Each stage is the product's own pure piece, fed what it is fed in a worker, its CPU
time taken with ``time.process_time`` (nothing else runs in this process meanwhile):

* :func:`run_lanes`: :class:`~beatlight.streams.runner.LaneRunner` per partition over
  the feed's records, as the broker partitions them (by unit), in batches;
* :func:`run_aggregator`: :class:`~beatlight.streams.aggregate.Aggregator` over the lanes'
  partials in the order they were sent, then live snapshots of every lane's live tick;
  each snapshot also serialised as the worker sends it (``snapshot_records``, orjson);
* :func:`materialise`: snapshot records into the store as the materialiser writes
  them (orjson, ``api.store.Changes``, ``apply``), with the PostgreSQL backend's CPU
  read from ``/proc``.

Long because the three stages share what one hands the next (records, partials,
snapshots), and each is timed where the worker or materialiser would spend it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from beatlight.configs import alert_tracker, defaults, lane_config
from beatlight.runtime.topics import VISIBILITY_LIVE
from beatlight.streams.aggregate import Aggregator, Snapshot, snapshot_records
from beatlight.streams.outbound import Rejection, encode_event
from beatlight.streams.partitioning import partition_of
from beatlight.streams.runner import LaneRunner, Record
from beatlight.streams.wire import Kind, decode

__all__ = [
    "AggregatorCosts",
    "hour_feed",
    "LaneCosts",
    "StoreCosts",
    "materialise",
    "partitioned",
    "run_aggregator",
    "run_lanes",
    "serialised",
]

_HOUR_US = 3_600_000_000


def hour_feed(wards: Any, *, units: int, hours: int, ping_seconds: float, seed: int) -> list:
    """A feed that publishes ``hours`` hours: the simulation from 06:00 yesterday for
    ``hours`` and two more (an hour's figures settle an hour of lateness after it), its
    units pinging every ``ping_seconds`` so that the hours cost what they cost in any
    feed (every area, every unit's runs) for fewer events."""
    from datetime import UTC, datetime, timedelta

    from beatlight.streams.simulate import SimulationConfig, simulate

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = SimulationConfig(seed=seed, start=today - timedelta(hours=18),
                              duration=timedelta(hours=hours + 2), units=units,
                              ping_seconds=ping_seconds)  # fmt: skip
    return list(simulate(wards, config))


def partitioned(events: list[dict | str], partitions: int) -> list[list[Record]]:
    """The feed as the broker holds it: each event encoded as the producer sends it and
    put in its unit's partition (Kafka's default partitioner); raw lines round-robin."""
    max_bytes = defaults().max_event_bytes
    out: list[list[Record]] = [[] for _ in range(partitions)]
    for i, event in enumerate(events):
        if isinstance(event, str):
            value, key, p = event.encode(), None, i % partitions
        else:
            encoded = encode_event(event, max_event_bytes=max_bytes)
            if isinstance(encoded, Rejection):
                continue  # the producer dead-letters it: it never reaches a lane
            value, key = encoded.value, encoded.key
            p = partition_of(key.decode() if key else None, partitions)
        out[p].append(Record(len(out[p]), value, key))
    return out


@dataclass
class LaneCosts:
    """The lanes' CPU over the feed, and what they sent the aggregator."""

    partitions: int
    events: int
    cpu_s: float  # every process() call
    hours: int  # hour figures sent (settled or early), over all lanes
    hour_cpu_s: float  # the part of cpu_s spent on batches' hour figures (estimated)
    live_tick_s: float  # one lane's live tick, median
    partials: list[bytes] = field(default_factory=list, repr=False)  # in the order sent
    live: list[bytes] = field(default_factory=list, repr=False)  # every lane's last tick
    event_hours: int = 0  # hours of event time the feed spans

    @property
    def per_event_s(self) -> float:
        """What a lane spends on an event apart from hour figures."""
        return (self.cpu_s - self.hour_cpu_s) / self.events

    @property
    def per_lane_hour_s(self) -> float:
        return self.hour_cpu_s / max(self.hours, 1)


def run_lanes(
    records: list[list[Record]], geography: Any, *, batch: int, live_ticks: int = 3
) -> LaneCosts:
    """Every partition's lane over its records, batches taken in turn from each partition
    (as a worker's consumer delivers them); then ``live_ticks`` live ticks of each lane."""
    config = lane_config()
    max_bytes = defaults().max_event_bytes
    runners = [LaneRunner(p, geography, config, max_event_bytes=max_bytes, event_clock=True)
               for p in range(len(records))]  # fmt: skip
    partials: list[bytes] = []
    costs: list[tuple[float, int, int]] = []  # (cpu, events, hour ticks) per batch
    starts = [0] * len(records)
    while any(s < len(r) for s, r in zip(starts, records, strict=True)):
        for p, runner in enumerate(runners):
            chunk = records[p][starts[p] : starts[p] + batch]
            if not chunk:
                continue
            starts[p] += len(chunk)
            now_us = time.time_ns() // 1000
            began = time.process_time()
            emission = runner.process(chunk, now_us=now_us)
            spent = time.process_time() - began
            assert emission is not None
            partials += emission.partials
            ticks = sum(_is_hour(m) for m in emission.partials)
            costs.append((spent, len(chunk), ticks))
    total = sum(c for c, _, _ in costs)
    events = sum(n for _, n, _ in costs)
    # An hour's figures cost what a batch that sent them took beyond an ordinary batch.
    plain = [c / n for c, n, t in costs if not t and n]
    per_event = statistics.median(plain) if plain else total / max(events, 1)
    hour_cpu = sum(max(c - per_event * n, 0.0) for c, n, t in costs if t)
    hours = sum(t for _, _, t in costs)
    live, tick_costs = _live_ticks(runners, config.model.slot_us, live_ticks)
    marks = [r.lane.intake.watermark_us for r in runners if r.lane.intake.has_watermark]
    firsts = [r.lane.first_hour_us for r in runners if r.lane.first_hour_us is not None]
    span = (max(marks) - min(firsts)) // _HOUR_US + 1 if marks and firsts else 0
    return LaneCosts(len(records), events, total, hours, hour_cpu,
                     statistics.median(tick_costs), partials, live, span)  # fmt: skip


def _live_ticks(runners: list[LaneRunner], slot_us: int, rounds: int) -> tuple[list[bytes], list]:
    """Each lane's live tick at the latest event time, ``rounds`` times; the last ones."""
    latest = max(r.lane.intake.watermark_us for r in runners if r.lane.intake.has_watermark)
    as_of = (latest // slot_us + 1) * slot_us
    costs, last = [], []
    for _ in range(rounds):
        last = []
        for runner in runners:
            began = time.process_time()
            last.append(runner.live_tick(as_of))
            costs.append(time.process_time() - began)
    return last, costs


def _is_hour(payload: bytes) -> bool:
    return decode(payload).kind in (Kind.HOUR, Kind.PROVISIONAL)


@dataclass
class AggregatorCosts:
    """The aggregator's CPU over the lanes' partials and live ticks."""

    partitions: int
    messages: int
    cpu_s: float  # every partial taken: decode, receive, and sending the hours it made
    hours: int  # hour snapshots published
    hour_cpu_s: float  # the receives that published an hour, and sending them
    live_s: float  # one live snapshot: merge, document, alerts, send (median)
    hour_documents: list[Snapshot] = field(default_factory=list, repr=False)
    live_document: dict | None = field(default=None, repr=False)
    hour_costs: list[float] = field(default_factory=list)  # in the order published

    @property
    def other_cpu_s(self) -> float:
        """Partials that publish nothing: final runs, early hours held for slower lanes."""
        return self.cpu_s - self.hour_cpu_s

    @property
    def per_hour_s(self) -> float:
        return self.hour_cpu_s / max(self.hours, 1)


def run_aggregator(
    lanes: LaneCosts, geography: Any, *, live_rounds: int = 3, keep_hours: int = 3
) -> AggregatorCosts:
    """The partials into an aggregator of ``lanes.partitions`` lanes, as the worker holding
    it takes them (decode, receive, then send the hours); then ``live_rounds`` live
    snapshots of the lanes' last live ticks (the alerts raised on each, and its sending)."""
    config = lane_config()
    aggregator = Aggregator(geography.areas, config, lanes.partitions)
    total = hour_cpu = 0.0
    kept: list[Snapshot] = []
    hours = 0
    hour_costs = []
    for payload in lanes.partials:
        began = time.process_time()
        snapshots = aggregator.receive(decode(payload), time.time_ns() // 1000)
        for snap in snapshots:
            serialised(snap.document, prefix=snap.document["as_of"], revision=snap.revision)
        spent = time.process_time() - began
        total += spent
        if snapshots:
            hour_cpu += spent
            hours += len(snapshots)
            hour_costs += [spent / len(snapshots)] * len(snapshots)
            kept = (kept + snapshots)[-keep_hours:]
    tracker = alert_tracker()
    costs = []
    document = None
    for _ in range(live_rounds):
        began = time.process_time()
        for payload in lanes.live:  # as Aggregation.live: decode and receive
            aggregator.receive(decode(payload), time.time_ns() // 1000)
        snap = aggregator.live_snapshot()
        assert snap is not None, "every lane sent a live tick"
        tracker.update(snap.document)
        serialised(snap.document, prefix="live")
        costs.append(time.process_time() - began)
        document = snap.document
    return AggregatorCosts(lanes.partitions, len(lanes.partials), total, hours, hour_cpu,
                           statistics.median(costs), kept, document, hour_costs)  # fmt: skip


def serialised(document: dict, *, prefix: str, revision: Any = None) -> list[tuple[bytes, bytes]]:
    """A snapshot's records as the worker sends them (``runtime.faust_io.send_snapshot``)."""
    live = prefix == "live"
    out = []
    for key, value in snapshot_records(document, prefix=prefix, revision=revision):
        if live:
            key = key.removeprefix("live|")
        out.append((key.encode(), orjson.dumps(value)))
    return out


@dataclass
class StoreCosts:
    """What storing one snapshot cost: the materialiser's CPU and PostgreSQL's."""

    records: int
    cpu_s: float  # this process: parsing records, building rows, the driver
    database_s: float  # the PostgreSQL backend serving the connection
    wall_s: float


def materialise(
    engine: Any, records: list[tuple[bytes, bytes]], *, topic: str, batch_records: int
) -> StoreCosts:
    """One snapshot's records into the store as :class:`api.materialise.Materialiser` does:
    ``batch_records`` to a transaction, each parsed with orjson into
    :class:`~beatlight.api.store.Changes` and upserted with :func:`~beatlight.api.store.apply`."""
    from sqlalchemy.orm import Session

    from beatlight.api.store import Changes, apply
    from bench._stage_api import thread_cpu

    with engine.connect() as connection:
        backend = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        connection.commit()
        db0, cpu0, wall0 = thread_cpu(backend), time.process_time(), time.perf_counter()
        for first, chunk in _chunks(records, batch_records):
            changes = Changes()
            for offset, (key, value) in enumerate(chunk, first):
                changes.add_offset(topic, 0, offset)
                text = key.decode()
                if topic == VISIBILITY_LIVE:
                    changes.add_live(text, orjson.loads(value))
                else:
                    changes.add_history(text, orjson.loads(value))
            with Session(bind=connection) as session:
                apply(session, changes)
                session.commit()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        database = thread_cpu(backend) - db0
    return StoreCosts(len(records), cpu, database, wall)


def _chunks(items: list, size: int) -> Iterator[tuple[int, list]]:
    for first in range(0, len(items), size):
        yield first, items[first : first + size]
