"""Recent presence points held by the API (SPEC "Privacy and publication rules"), on their own.

:class:`beatlight.api.points.RecentPoints` reads ``visibility.points`` against a real
broker: every partition, repeats dropped, only the last minutes kept, never a unit, and
never the store; it rides out a broker that goes away. The worker's side is
tests/streams/test_points.py.
"""

from __future__ import annotations

import ast
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from beatlight.api.points import RecentPoints, feature_collection
from beatlight.errors import BeatlightError
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.topics import VISIBILITY_POINTS, ensure_topics
from beatlight.runtime.topics import topic as topic_spec
from tests.streams.test_points import Clock, wait_for
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


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
                or name.removeprefix("beatlight.") in ("api.store", "api.documents", "api.db",
                                                       "api.materialise")}  # fmt: skip


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
