"""Recent presence points (SPEC "Privacy and publication rules"): worker → topic → API memory.

Only the inspector sees recent points, only the last 15 minutes, never a unit: a
worker publishes the time, place, ward and mode of fresh accepted pings in a ward to
``visibility.points`` and nothing else; :class:`api.points.RecentPoints` holds the
last minutes in memory. Against a real broker and a real worker process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from beatlight.api.points import Point, RecentPoints
from beatlight.configs import lane_config
from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.topics import PRESENCE_DLQ, VISIBILITY_POINTS, ensure_topics
from beatlight.streams.points import POINT_FIELDS
from beatlight.streams.runner import LaneRunner, Record

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
