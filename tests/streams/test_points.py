"""Recent presence points (SPEC "Privacy and publication rules"): worker → topic → API memory.

Only the inspector sees recent points, only the last 15 minutes, never a unit: a
worker publishes the time, place, ward and mode of fresh accepted pings in a ward to
``visibility.points`` and nothing else; :class:`api.points.RecentPoints` holds the
last minutes in memory. Against a real broker and a real worker process.
"""

from __future__ import annotations

import ast
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pytest

from beatlight.api.points import Point, RecentPoints, feature_collection
from beatlight.configs import lane_config
from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.topics import PRESENCE_DLQ, VISIBILITY_POINTS, ensure_topics
from beatlight.runtime.topics import topic as topic_spec
from beatlight.streams.points import POINT_FIELDS
from beatlight.streams.runner import LaneRunner, Record
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

UNIT = "u-7f3a9c"
EXTRAS = {"officer": "PC 1234", "callsign": "Bravo 7", "accuracy_m": 12.5}
SECRETS = (UNIT, "PC 1234", "Bravo 7", "officer", "callsign", "accuracy", "event_id", "unit")
OUTSIDE = (51.5, -0.12)  # London: in no synthetic ward


@pytest.fixture(scope="module")
def wards(tmp_path_factory) -> tuple[Path, Geography]:
    path = write_synthetic(tmp_path_factory.mktemp("points") / "wards.geojson")
    return path, load_geography(path)


def inside(geography: Geography, i: int) -> tuple[float, float]:
    """(lat, lon) well inside ward ``i``, and its code."""
    lon, lat = geography.wards.geometry.iloc[i].representative_point().coords[0]
    return lat, lon


def ping(event_id: str, ts: datetime, where: tuple[float, float], **fields) -> dict:
    return {"event_id": event_id, "unit": UNIT, "ts": ts.isoformat(), "lat": where[0],
            "lon": where[1], **EXTRAS, **fields}  # fmt: skip


# --- the lane's filter, without Kafka ------------------------------------------------------


def run_lane(geography: Geography, events: list[dict], now: datetime, **options) -> list[dict]:
    runner = LaneRunner(0, geography, lane_config(), max_event_bytes=8192, **options)
    records = [Record(i, orjson.dumps(e)) for i, e in enumerate(events)]
    emission = runner.process(records, now_us=int(now.timestamp() * 1_000_000))
    assert all(key == orjson.loads(value)["ward"].encode() for key, value in emission.points)
    return [orjson.loads(value) for _, value in emission.points]


def test_a_lane_sends_fresh_accepted_pings_in_a_ward_and_nothing_else(wards):
    _, geography = wards
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    a, b = inside(geography, 0), inside(geography, 1)
    events = [
        ping("fresh", now - timedelta(minutes=2), a, mode="foot"),
        ping("fresh", now - timedelta(minutes=2), a, mode="foot"),  # duplicate
        ping("edge", now - timedelta(minutes=15), b),  # exactly 15 minutes: still recent
        ping("old", now - timedelta(minutes=15, microseconds=1), a),  # accepted, not recent
        ping("out", now - timedelta(minutes=1), OUTSIDE),
        ping("bad", now - timedelta(minutes=1), a, mode="horse"),
        ping("far", now - timedelta(minutes=1), a, accuracy_m=500),
    ]
    points = run_lane(geography, events, now)
    codes = geography.wards.codes
    assert points == [
        {"ts": "2026-11-23T11:58:00Z", "lat": a[0], "lon": a[1], "ward": codes[0], "mode": "foot"},
        {"ts": "2026-11-23T11:45:00Z", "lat": b[0], "lon": b[1], "ward": codes[1],
         "mode": "unknown"},
    ]  # fmt: skip


def test_a_replay_of_history_on_the_wall_clock_sends_no_points(wards):
    _, geography = wards
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    start = now - timedelta(days=20)
    where = inside(geography, 2)
    events = [ping(f"h{i}", start + timedelta(seconds=30 * i), where) for i in range(5000)]
    assert run_lane(geography, events, now) == []


def test_with_the_event_clock_a_replay_of_history_sends_no_points_either(wards):
    _, geography = wards
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    where = inside(geography, 2)
    events = [ping(f"h{i}", start + timedelta(minutes=i), where) for i in range(60)]
    assert run_lane(geography, events, start + timedelta(days=21), event_clock=True) == []


def test_with_the_event_clock_a_feed_ahead_of_the_wall_clock_is_recent_behind_its_watermark(
    wards,
):
    _, geography = wards
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    where = inside(geography, 2)
    events = [ping(f"h{i}", start + timedelta(minutes=i), where) for i in range(60)]
    # The wall clock is 2 minutes behind the feed (within the future tolerance): the
    # watermark (minute 59) sets the cut-off, not the wall clock (minute 57).
    points = run_lane(geography, events, start + timedelta(minutes=57), event_clock=True,
                      points_us=5 * 60_000_000)  # fmt: skip
    assert [p["ts"] for p in points] == [
        (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(54, 60)
    ]


# --- a real worker ----------------------------------------------------------------------------


@pytest.fixture
def kafka() -> Iterator[str]:
    """A fresh broker: Beatlight's topic names are fixed."""
    with EmbeddedBroker() as running:
        yield running.bootstrap


def start_worker(bootstrap: str, boundaries: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    env |= {"BEATLIGHT_LIVE_SECONDS": "1", "BEATLIGHT_KAFKA_PARTITIONS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "beatlight", "worker", "--bootstrap", bootstrap,
         "--boundaries", str(boundaries), "--live-clock", "wall", "--web-port", "0"],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env,
    )  # fmt: skip


def stop_worker(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=10)


def test_a_worker_publishes_fresh_pings_without_identities_and_the_api_reads_them_back(
    kafka, wards, read_topic, tmp_path
):
    boundaries, geography = wards
    codes = geography.wards.codes
    now = datetime.now(UTC).replace(microsecond=250_000)
    a, b = inside(geography, 0), inside(geography, 1)
    bst = timezone(timedelta(hours=1))  # an offset other than Z: published in UTC
    fresh = [  # (event, expected ward)
        (ping("p1", now - timedelta(minutes=10), a, mode="foot"), codes[0]),
        (ping("p2", (now - timedelta(minutes=3)).astimezone(bst), b, mode="vehicle"), codes[1]),
        (ping("p3", now - timedelta(minutes=1), a), codes[0]),
    ]
    last = (ping("last", now - timedelta(seconds=30), b, mode="cycle"), codes[1])
    not_points = [
        ping("old", now - timedelta(minutes=20), a),  # accepted, but not recent
        ping("p1", now - timedelta(minutes=10), a, mode="foot"),  # a duplicate
        ping("outside", now - timedelta(minutes=2), OUTSIDE),
        ping("inaccurate", now - timedelta(minutes=2), a, accuracy_m=500),
        ping("bad_mode", now - timedelta(minutes=2), a, mode="horse"),
        ping("future", now + timedelta(hours=1), a),
        ping("too_late", now - timedelta(hours=3), a),
    ]
    ensure_topics(kafka, 1)
    with PresenceProducer(kafka) as producer:
        # Raw bytes with extra identifying fields, as a feed that does not strip them sends.
        for event in [e for e, _ in fresh] + not_points + [last[0]]:
            producer.send_raw(orjson.dumps(event), UNIT.encode())
    log = tmp_path / "worker.log"
    worker = start_worker(kafka, boundaries, log)
    try:
        records = wait_for(
            lambda: read_topic(VISIBILITY_POINTS, bootstrap=kafka),
            lambda got: any(b'"cycle"' in r.value for r in got),
            worker,
        )
        letters = read_topic(PRESENCE_DLQ, bootstrap=kafka)
    finally:
        assert stop_worker(worker) == 0, log.read_text()[-3000:]

    assert sorted(orjson.loads(r.value)["reason"] for r in letters) == [
        "bad_mode", "future", "inaccurate", "too_late"]  # fmt: skip
    expected = [_published(event, ward) for event, ward in [*fresh, last]]
    assert [orjson.loads(r.value) for r in records] == expected
    assert [r.key for r in records] == [p["ward"].encode() for p in expected]
    assert all(tuple(orjson.loads(r.value)) == POINT_FIELDS for r in records)
    blob = b"".join(r.key + r.value for r in records)
    for secret in (*SECRETS, "p1", "p2", "last"):
        assert secret.encode() not in blob, secret

    clock = Clock(now)
    with RecentPoints(kafka, 15, clock) as recent:
        got = wait_for(recent.recent, lambda got: len(got) == 4)
        assert [p.ts for p in got] == sorted(p.ts for p in got)  # newest last
        assert got[1] == Point(now - timedelta(minutes=3), b[0], b[1], codes[1], "vehicle")
        assert got[1].ts.tzinfo == UTC
        assert [p.ts for p in recent.recent(codes[0])] == [got[0].ts, got[2].ts]
        clock.now = now + timedelta(minutes=6)  # p1 is 16 minutes old now
        assert [p.ts for p in recent.recent()] == [p.ts for p in got[1:]]
        clock.now = now + timedelta(minutes=16)
        assert recent.recent() == []


def _published(event: dict, ward: str) -> dict:
    ts = datetime.fromisoformat(event["ts"]).astimezone(UTC)
    return {"ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "lat": event["lat"], "lon": event["lon"],
            "ward": ward, "mode": event.get("mode", "unknown")}  # fmt: skip


# --- RecentPoints on its own ---------------------------------------------------------------


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_for(read: Callable, done: Callable, worker: subprocess.Popen | None = None,
             timeout_s: float = 90):  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while True:
        got = read()
        if done(got):
            return got
        assert worker is None or worker.poll() is None, "the worker died"
        assert time.monotonic() < deadline, f"timed out; got {got!r}"[:2000]
        time.sleep(0.2)


def point_value(ts: datetime, ward: str = "W1", lat: float = 53.0, mode: str = "foot") -> bytes:
    return orjson.dumps({"ts": ts.isoformat().replace("+00:00", "Z"), "lat": lat, "lon": -2.2,
                         "ward": ward, "mode": mode})  # fmt: skip


def produce(bootstrap: str, topic: str, records: list[tuple[int, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for partition, value in records:
            producer.send(topic, key=b"W", value=value, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def test_recent_points_reads_every_partition_drops_repeats_and_keeps_the_last_minutes(
    broker, new_topic, caplog
):
    caplog.set_level(logging.INFO, logger="beatlight.points")
    topic = new_topic(partitions=2)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    produce(broker, topic, [
        (0, point_value(now - timedelta(minutes=30))),  # too old already: never held
        (0, point_value(now - timedelta(minutes=5), "W1")),
        (1, point_value(now - timedelta(minutes=9), "W2", mode="vehicle")),
        (1, point_value(now - timedelta(minutes=5), "W1")),  # a worker's restart sent it again
        (1, b"{not a point"),
        (0, orjson.dumps({"ts": now.isoformat(), "lat": 53.0, "lon": -2.2, "ward": "W1",
                          "mode": "foot", "unit": "u-1"})[:-1]),  # not JSON: skipped
        (0, point_value(now - timedelta(minutes=1), "W2", lat=53.1)),
    ])  # fmt: skip
    clock = Clock(now)
    with RecentPoints(broker, 15, clock, topic=topic) as recent:
        got = wait_for(recent.recent, lambda got: len(got) == 3)
        assert [(p.ward, now - p.ts) for p in got] == [
            ("W2", timedelta(minutes=9)), ("W1", timedelta(minutes=5)),
            ("W2", timedelta(minutes=1))]  # fmt: skip
        assert [p.mode for p in recent.recent("W2")] == ["vehicle", "foot"]
        clock.now = now + timedelta(minutes=7)
        assert [p.ward for p in recent.recent()] == ["W1", "W2"]
        produce(broker, topic, [(1, point_value(now + timedelta(minutes=6), "W3"))])
        assert wait_for(recent.recent, lambda got: len(got) == 3)[-1].ward == "W3"
        assert recent._thread.is_alive()
    assert caplog.text.count("not a point") == 2
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-2.2, 53.0]},
        "properties": {"ts": "2026-11-23T11:51:00Z", "ward": "W2", "mode": "vehicle"},
    }
    assert feature_collection(got[:1]) == {"type": "FeatureCollection", "features": [feature]}


def test_with_the_event_clock_now_is_the_newest_point(broker, new_topic):
    topic = new_topic(partitions=1)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a replay of history
    produce(broker, topic, [(0, point_value(start + timedelta(minutes=i))) for i in range(30)])
    with RecentPoints(broker, 15, "event", topic=topic) as recent:
        got = wait_for(recent.recent, lambda got: got and got[-1].ts.minute == 29)
        assert [p.ts.minute for p in got] == list(range(14, 30))
        assert recent.newest == start + timedelta(minutes=29)


def test_recent_points_wait_for_kafka_and_ride_out_an_outage(caplog):
    caplog.set_level(logging.INFO, logger="beatlight.points")
    port = free_port()
    now = datetime.now(UTC)
    spec = topic_spec(VISIBILITY_POINTS)

    def logged() -> str:
        return caplog.text

    recent = RecentPoints(f"127.0.0.1:{port}", connect_timeout_s=1, max_backoff_s=1).start()
    try:
        wait_for(logged, lambda text: "cannot reach Kafka at 127.0.0.1:" in text)
        # The broker dies (killed, not drained) once the point is read.
        with EmbeddedBroker(port=port, stop_timeout_s=0.1) as broker:
            ensure_topics(broker.bootstrap, 1, specs=[spec])
            produce(broker.bootstrap, VISIBILITY_POINTS, [(0, point_value(now, "W1"))])
            wait_for(recent.recent, lambda got: [p.ward for p in got] == ["W1"])
        assert "reading again" in caplog.text
        wait_for(logged, lambda text: "lost Kafka" in text)
        assert [p.ward for p in recent.recent()] == ["W1"]  # served from memory meanwhile
        # A restarted Tansu (memory storage) starts empty: the topic is read again from 0.
        with EmbeddedBroker(port=port) as broker:
            ensure_topics(broker.bootstrap, 1, specs=[spec])
            produce(broker.bootstrap, VISIBILITY_POINTS, [(0, point_value(now, "W2"))])
            wait_for(recent.recent, lambda got: [p.ward for p in got] == ["W1", "W2"])
            wait_for(logged, lambda text: "is back" in text)
            assert recent._thread.is_alive()
            recent.close()  # before the broker stops: it would wait for connected clients
    finally:
        recent.close()
    assert not recent._thread.is_alive()
    assert caplog.text.count("lost Kafka") == 1


def test_recent_points_never_touch_the_store():
    source = (Path(__file__).resolve().parents[2] / "api" / "points.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {name for name in imported if name.split(".")[0] == "sqlalchemy"
                or name in ("api.store", "api.db", "api.materialise")}  # fmt: skip


def test_points_are_kept_for_the_spec_s_15_minutes_at_most():
    from pydantic import ValidationError

    from beatlight.settings import Settings

    assert Settings().points_minutes == 15
    with pytest.raises(ValidationError):
        Settings(points_minutes=20)
    assert np.isclose(Settings(points_minutes=7.5).points_minutes, 7.5)
    with pytest.raises(BeatlightError, match="at most 15 minutes"):
        RecentPoints("127.0.0.1:9092", minutes=60)
    with pytest.raises(BeatlightError, match="clock must be"):
        RecentPoints("127.0.0.1:9092", clock="tomorrow")  # type: ignore[arg-type]
