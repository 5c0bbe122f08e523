"""A lane the consumer has not fed reads Kafka itself; it counts as caught up only at the end.

An idle lane vouches for the hours other lanes have settled (README "The stream"): the
aggregator publishes an hour once every lane has sent its figures for it, or is caught up
with nothing before it. A lane that counted itself caught up with records of its partition
still unread would let an hour be published without them, a figure the batch report does
not have. These tests drive a worker's lanes and aggregator (``beatlight.runtime.lanes`` and
``beatlight.runtime.aggregation``, no Faust) against a real broker, with the records a slow
consumer left unfed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from beatlight.configs import lane_config, worker_config
from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime import topics
from beatlight.runtime.aggregation import Aggregation
from beatlight.runtime.lanes import Lanes
from beatlight.runtime.observe import Metrics
from beatlight.runtime.pacing import live_tick
from beatlight.runtime.reader import PartitionReader
from beatlight.settings import Settings
from beatlight.streams.partitioning import partition_of
from beatlight.streams.runner import Emission, Record
from beatlight.streams.simulate import SimulationConfig
from beatlight.streams.wire import decode
from tests.streams import e2e_support
from tests.streams.e2e_support import PARTITIONS, START, expected, same_figures, write_simulation

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

kafka = e2e_support.kafka  # a fresh broker per test

#: How long a lane goes unfed before the live tick reads Kafka for it (``IDLE_AFTER_S``).
IDLE_S = 5.2


@pytest.fixture(scope="module")
def geography(tmp_path_factory: pytest.TempPathFactory) -> Geography:
    return load_geography(write_synthetic(tmp_path_factory.mktemp("wards") / "wards.geojson"))


@pytest.fixture(scope="module")
def feed(geography: Geography, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SimulationConfig(seed=5, start=START + timedelta(hours=7), duration=timedelta(hours=4),
                              units=16)  # fmt: skip
    return write_simulation(geography, tmp_path_factory.mktemp("feed") / "events.ndjson", config)


def test_idle_lanes_vouch_for_hours_only_once_they_have_read_their_partitions_to_the_end(
    kafka, geography, feed
):
    """Lanes 0 and 1 are fed and go quiet; the feed never feeds lanes 2 and 3.

    One live tick then reads Kafka for all four in turn, as a worker does after five
    seconds without records. Each lane that says it is caught up must have read every
    record of its partition, and every version of every hour published must equal the
    batch report's.
    """
    ends = _send_by_partition(kafka, feed)
    assert all(ends[p] > 0 for p in range(PARTITIONS)), ends
    settings = Settings(live_clock="event", live_seconds=1.0)
    config = worker_config(settings, kafka, partitions=PARTITIONS)
    stopping, metrics = threading.Event(), Metrics()
    lanes = Lanes(config, geography, lane_config(), stopping=stopping, metrics=metrics)
    aggregation = Aggregation(config, geography, lane_config(), local=lanes, stopping=stopping,
                              metrics=metrics)  # fmt: skip
    published: list[dict] = []
    try:
        for partition in (0, 1):  # what the feed delivered
            records = _records(kafka, partition, ends[partition])
            published += _aggregate(aggregation, lanes.records(partition, records))
        partitions = list(range(PARTITIONS))
        published += _tick(lanes, aggregation, partitions)  # makes lanes 2 and 3, unfed since
        for _ in range(4):
            time.sleep(IDLE_S)
            published += _tick(lanes, aggregation, partitions)
            for partition, runner in lanes.runners.items():
                if runner.caught_up:
                    assert runner.next_offset == ends[partition], (
                        f"lane {partition} counts as caught up at offset {runner.next_offset} "
                        f"of {ends[partition]}"
                    )
            if (all(r.caught_up for r in lanes.runners.values())
                    and not aggregation.aggregator.held()["waiting_hours"]):  # fmt: skip
                break  # every lane has read to its end, and no hour waits for one
        # Lanes 2 and 3 go to another worker: their gauges leave this one's /metrics.
        published += _tick(lanes, aggregation, [0, 1])
        exposed = metrics.exposition()[0].decode()
        for partition in range(PARTITIONS):
            shown = f'beatlight_lane_offset{{partition="{partition}"}}' in exposed
            assert shown == (partition in (0, 1)), (partition, exposed)
    finally:
        lanes.close()
        aggregation.close()
    hours = Counter(document["as_of"] for document in published)
    assert len(hours) >= 2, f"hours published: {hours}"
    wanted = {as_of: expected(geography, feed, _hour(as_of)) for as_of in hours}
    for document in published:
        same_figures(document, wanted[document["as_of"]])


def test_a_read_to_the_end_gets_every_record_or_says_it_fell_short(kafka):
    """Quiet partitions read in a row, then one with records (Tansu holds a fetch with
    nothing to return, which once left the third read no time to get any): a read that
    says it got to the end has every record, and each partition's read gets there."""
    producer = KafkaProducer(bootstrap_servers=kafka, linger_ms=50)
    for i in range(500):  # a few batches, the last of many (Tansu's ListOffsets lags it)
        producer.send(topics.PRESENCE, value=b"%d" % i, partition=2)
    producer.flush()
    producer.close()
    reader = PartitionReader(kafka, topics.PRESENCE)
    reached: Counter[int] = Counter()
    try:
        for _ in range(3):
            for partition in (0, 1, 2):
                got = [r.offset for chunk in reader.read(partition, 0, idle_ms=300)
                       for r in chunk]  # fmt: skip
                if reader.at_end:
                    assert got == list(range(500 if partition == 2 else 0)), partition
                    reached[partition] += 1
    finally:
        reader.close()
    assert set(reached) == {0, 1, 2}, f"reads that got to the end, by partition: {reached}"


def _hour(as_of: str) -> datetime:
    return datetime.fromisoformat(as_of.replace("Z", "+00:00")).astimezone(UTC)


def _send_by_partition(bootstrap: str, feed: Path) -> dict[int, int]:
    """The feed's lines into ``patrol.presence``, each in its unit's partition (what the
    batch report assumes); returns how many records each partition holds."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    ends: Counter[int] = Counter()
    try:
        for line in feed.read_bytes().splitlines():
            try:
                unit = orjson.loads(line).get("unit")
            except (orjson.JSONDecodeError, AttributeError):
                unit = None
            partition = partition_of(unit, PARTITIONS)
            key = unit.encode() if isinstance(unit, str) else None
            producer.send(topics.PRESENCE, value=line, key=key, partition=partition)
            ends[partition] += 1
        producer.flush()
    finally:
        producer.close()
    return dict(ends)


def _records(bootstrap: str, partition: int, end: int) -> list[Record]:
    reader = PartitionReader(bootstrap, topics.PRESENCE)
    try:
        return [r for chunk in reader.read(partition, 0, end) for r in chunk]
    finally:
        reader.close()


def _tick(lanes: Lanes, aggregation: Aggregation, partitions: list[int]) -> list[dict]:
    """One live tick on the worker holding the aggregator; the hour documents it publishes."""
    emission, hours, _, _ = live_tick(lanes, aggregation, partitions, time.time_ns() // 1000,
                                      aggregating=True)  # fmt: skip
    return [snap.document for snap in hours] + _aggregate(aggregation, emission)


def _aggregate(aggregation: Aggregation, emission: Emission) -> list[dict]:
    """The lanes' hour figures and final runs through the aggregator, as
    ``beatlight.partials`` would carry them; the hour documents they complete."""
    return [snap.document for payload in emission.partials
            for snap in aggregation.aggregator.receive(decode(payload))]  # fmt: skip
