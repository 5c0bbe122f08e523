"""The stream end to end: a real broker, real worker processes, against the batch report.

Each test starts its own embedded Tansu broker (the topic names are fixed), replays
simulated events into ``patrol.presence`` (4 partitions), runs ``beatlight worker``
processes, and compares the hour snapshots they publish with ``beatlight report
--as-of H --partitions 4`` on the same events, figure for figure.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from kafka.record.default_records import DefaultRecordBatch

from beatlight.geo.geography import load_geography
from beatlight.runtime import topics
from beatlight.runtime.producers import PresenceProducer
from beatlight.streams.simulate import SimulationConfig
from tests.streams import e2e_support
from tests.streams.e2e_support import (
    START,
    expected,
    replay,
    replay_lines,
    same_figures,
    start_worker,
    stop,
    wait_for_hour,
    write_simulation,
)
from tests.support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

IDENTIFYING = ("officer_name", "collar_number", "badge_id", "radio_id")
kafka = e2e_support.kafka  # a fresh broker per test

# tests/api import these under their first names.
_replay, _worker, _stop = replay, start_worker, stop
_expected, _same_figures = expected, same_figures


@pytest.fixture(scope="module")
def day(staffordshire, tmp_path_factory) -> tuple[Path, Path]:
    """A simulated day over the Staffordshire wards, with a real feed's faults."""
    path = tmp_path_factory.mktemp("day") / "events.ndjson"
    config = SimulationConfig(seed=21, start=START, duration=timedelta(hours=14), units=60)
    return staffordshire, write_simulation(staffordshire, path, config)


HOURS = [START + timedelta(hours=h) for h in (4, 8, 11, 12)]


@pytest.fixture
def codecs_read(monkeypatch) -> list[int]:
    """The codec of every record batch kafka-python reads in this process (``read_history``)."""
    from kafka.record.default_records import DefaultRecordBatch

    seen: list[int] = []
    uncompress = DefaultRecordBatch._maybe_uncompress

    def spying(batch: DefaultRecordBatch) -> None:
        seen.append(batch.compression_type)
        uncompress(batch)

    monkeypatch.setattr(DefaultRecordBatch, "_maybe_uncompress", spying)
    return seen


def test_hour_snapshots_equal_the_batch_report(kafka, day, tmp_path, codecs_read):
    """Also: a feed may compress with any codec Kafka has, and the worker's output is zstd."""
    boundaries, events = day
    lines = events.read_bytes().splitlines()
    codecs = ("gzip", "snappy", "lz4", "zstd", None)  # a fifth of the day in each, in order
    step = -(-len(lines) // len(codecs))
    for i, codec in enumerate(codecs):
        replay_lines(kafka, lines[i * step : (i + 1) * step], compression_type=codec)
    worker = start_worker(kafka, boundaries, tmp_path / "worker.log")
    try:
        for hour in HOURS:
            document = wait_for_hour(kafka, hour, 240, [worker])
            assert document["force"]["windows"]["1h"]["patrol_minutes"] > 0
            same_figures(document, expected(boundaries, events, hour))
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert codecs_read and set(codecs_read) == {DefaultRecordBatch.CODEC_ZSTD}


def test_two_workers_give_the_same_snapshots(kafka, day, tmp_path):
    boundaries, events = day
    replay(kafka, events)
    workers = [start_worker(kafka, boundaries, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        for hour in HOURS:
            same_figures(
                wait_for_hour(kafka, hour, 300, workers), expected(boundaries, events, hour)
            )
    finally:
        for worker in workers:
            stop(worker)


def test_a_killed_worker_restarts_and_loses_nothing(kafka, day, tmp_path):
    boundaries, events = day
    half = replay(kafka, events, limit=len(events.read_bytes().splitlines()) // 2)
    log = tmp_path / "worker.log"
    first = start_worker(kafka, boundaries, log, checkpoint_seconds="2")
    wait_for_hour(kafka, START + timedelta(hours=3), 240, [first])
    time.sleep(4)  # a checkpoint or two
    replay(kafka, events, skip=half)  # the rest arrives while it is working
    time.sleep(2)
    assert stop(first, signal.SIGKILL) == -signal.SIGKILL
    second = start_worker(kafka, boundaries, log, checkpoint_seconds="2")
    try:
        for hour in HOURS:
            same_figures(
                wait_for_hour(kafka, hour, 300, [second]), expected(boundaries, events, hour)
            )
    finally:
        stop(second)
    assert "from its checkpoint" in log.read_text()


@pytest.fixture(scope="module")
def days(staffordshire, tmp_path_factory) -> tuple[Path, Path]:
    """Three simulated days: a backlog much longer than what a consumer buffers."""
    path = tmp_path_factory.mktemp("days") / "events.ndjson"
    config = SimulationConfig(seed=22, start=START, duration=timedelta(days=3), units=60)
    return staffordshire, write_simulation(staffordshire, path, config)


def test_lanes_resume_from_their_checkpoints_and_the_groups_offsets_follow(kafka, days, tmp_path):
    # A consumer group with no committed offsets (a new app id here; in production,
    # Kafka drops a group's offsets after offsets.retention.minutes of downtime): each
    # lane resumes from its checkpoint, the feed reads from there, so no record before
    # it is read again, and the group's offsets are committed where the lanes are.
    boundaries, events = days
    last_hours = [START + timedelta(hours=h) for h in (60, 70)]
    total = replay(kafka, events)
    log = tmp_path / "worker.log"
    first = start_worker(kafka, boundaries, log, checkpoint_seconds="1", app_id="first")
    try:
        wait_for_hour(kafka, last_hours[-1], 300, [first])
        time.sleep(4)  # checkpoints of every lane after its last record
    finally:
        stop(first)
    port = free_port()
    second = start_worker(kafka, boundaries, log, checkpoint_seconds="1", app_id="second",
                          web_port=str(port))  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert second.poll() is None, log.read_text()[-3000:]
            metrics = e2e_support.scrape_metrics(port) or {}
            lanes = {p: metrics.get(f'beatlight_lane_offset{{partition="{p}"}}')
                     for p in range(e2e_support.PARTITIONS)}  # fmt: skip
            lags = {p: metrics.get(f'beatlight_lane_lag_records{{partition="{p}"}}')
                    for p in range(e2e_support.PARTITIONS)}  # fmt: skip
            if (None not in lanes.values() and _committed(kafka, "second") == lanes
                    and set(lags.values()) == {0}):  # fmt: skip
                break  # the group committed where every lane is, at the partition's end
            assert time.monotonic() < deadline, (_committed(kafka, "second"), lanes, lags)
            time.sleep(1)
        seen = metrics["beatlight_records_seen_before_total"]
        assert seen == 0, f"{seen:,.0f} of {total:,} records delivered again"
        for hour in last_hours:
            same_figures(wait_for_hour(kafka, hour, 120, [second]),
                         expected(boundaries, events, hour))  # fmt: skip
    finally:
        stop(second)
    assert log.read_text().count("from its checkpoint") >= 4


def _committed(bootstrap: str, group: str) -> dict[int, int | None]:
    """The offsets ``group`` committed on the input partitions (without joining it)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)  # fmt: skip
    try:
        return {p: consumer.committed(TopicPartition(topics.PRESENCE, p))
                for p in range(e2e_support.PARTITIONS)}  # fmt: skip
    finally:
        consumer.close()


def test_bad_input_goes_to_the_dead_letter_queue_and_identities_nowhere(
    kafka, read_topic, tmp_path
):
    from beatlight.geo.synthetic import write_synthetic
    from beatlight.runtime.topics import PRESENCE_DLQ, TOPICS

    boundaries = tmp_path / "wards.geojson"
    write_synthetic(boundaries)
    geography = load_geography(boundaries)
    lon, lat = geography.wards.geometry.iloc[0].representative_point().coords[0]
    ts = (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    good = {"event_id": "g", "unit": "u-good", "ts": ts, "lat": lat, "lon": lon}
    bad = {
        "too_large": {**good, "event_id": "big", "note": "x" * 9000},
        "missing_field": {k: v for k, v in good.items() if k != "ts"} | {"event_id": "m"},
        "bad_event_id": {**good, "event_id": 5},
        "bad_unit": {**good, "event_id": "bu", "unit": ""},
        "bad_timestamp": {**good, "event_id": "bt", "ts": "yesterday"},
        "bad_coordinates": {**good, "event_id": "bc", "lat": 0, "lon": 0},
        "bad_mode": {**good, "event_id": "bm", "mode": "horse"},
        "bad_accuracy": {**good, "event_id": "ba", "accuracy_m": -3},
        "inaccurate": {**good, "event_id": "in", "accuracy_m": 500},
        "future": {**good, "event_id": "fu", "ts": "2099-01-01T00:00:00Z"},
        "too_late": {**good, "event_id": "tl", "ts": (START - timedelta(hours=3)).isoformat()},
    }
    with PresenceProducer(kafka) as producer:
        producer.send_raw(b"{not json", b"u-good")
        producer.send({**good, "officer_name": "PC Example", "collar_number": "1234"})
        for event in bad.values():
            # Raw bytes, as a feed that does not use our producer would send them.
            producer.send_raw(orjson.dumps({**event, "badge_id": "B-77"}), b"u-good")
        for i in range(400):  # the worker keeps going after every rejection
            producer.send(
                {
                    **good,
                    "event_id": f"after-{i}",
                    "ts": (START + timedelta(hours=1, seconds=30 * i)).isoformat(),
                }
            )
    worker = start_worker(kafka, boundaries, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 120
        letters: list = []
        while time.monotonic() < deadline and len(letters) < 1 + len(bad):
            letters = read_topic(PRESENCE_DLQ, bootstrap=kafka)
            time.sleep(1)
        reasons = {orjson.loads(r.value)["reason"]: orjson.loads(r.value) for r in letters}
        assert set(reasons) == {"malformed_json", *bad}
        assert reasons["bad_mode"]["event_id"] == "bm"
        assert "payload" not in reasons["malformed_json"]
        assert reasons["inaccurate"]["payload"]["accuracy_m"] == 500
        # START + 1 h has no ping before it: skipped, as empty (README "Hours a lane has
        # no ping for"). START + 2 h is the first hour with figures.
        wait_for_hour(kafka, START + timedelta(hours=2), 120, [worker])
        for spec in TOPICS:
            if spec.name == "patrol.presence":
                continue  # the input holds what feeds sent
            records = read_topic(spec.name, bootstrap=kafka)
            blob = b"".join((r.key or b"") + (r.value or b"") for r in records)
            for secret in (b"PC Example", b"1234", b"B-77", *[n.encode() for n in IDENTIFYING]):
                assert secret not in blob, (spec.name, secret)
            if spec.name != PRESENCE_DLQ:
                assert b"u-good" not in blob, spec.name  # no pseudonym past the DLQ either
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
