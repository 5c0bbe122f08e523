"""Producers, ``beatlight replay`` and ``simulate --kafka`` against a real broker."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from beatlight.runtime.paced_feed import send_simulation
from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.reach import KafkaUnreachable
from beatlight.runtime.replay import replay_file
from beatlight.runtime.topics import PRESENCE, PRESENCE_DLQ

pytestmark = pytest.mark.integration

IDENTIFYING = {"officer_name": "PC Alex Morgan", "collar_number": "4711", "radio_id": "R-99"}
SPEC_FIELDS = {"event_id", "unit", "ts", "lat", "lon", "mode", "accuracy_m"}


def _event(i: int, unit: str = "u-1", **extra) -> dict:
    return {
        "event_id": f"e{i}", "unit": unit, "ts": f"2026-11-23T06:{i % 60:02d}:00Z",
        "lat": 52.9 + i * 1e-4, "lon": -2.1, "mode": "foot", "accuracy_m": 8.0, **extra,
    }  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    clean.update({"COLUMNS": "200", "NO_COLOR": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "beatlight", *args],
        capture_output=True, text=True, timeout=120, env=clean,
    )  # fmt: skip


# --- PresenceProducer ---------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_events_arrive_stripped_to_the_spec_keyed_by_unit(broker, new_topic, read_topic):
    name = new_topic(partitions=4)
    events = [_event(i, unit=f"u-{i % 5}", **IDENTIFYING) for i in range(50)]
    with PresenceProducer(broker, name) as producer:
        for event in events:
            producer.send(event)
    assert producer.sent == 50
    records = read_topic(name)
    assert len(records) == 50
    by_id = {orjson.loads(r.value)["event_id"]: r for r in records}
    for event in events:
        record = by_id[event["event_id"]]
        value = orjson.loads(record.value)
        assert value == {k: v for k, v in event.items() if k in SPEC_FIELDS}
        assert record.key == event["unit"].encode()
        assert not any(secret.encode() in record.value for secret in IDENTIFYING.values())
    # One unit, one partition: its pings stay in order.
    partitions = {}
    for record in records:
        partitions.setdefault(record.key, set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions.values())
    for unit in partitions:
        offsets = [orjson.loads(r.value)["event_id"] for r in records if r.key == unit]
        assert offsets == [e["event_id"] for e in events if e["unit"].encode() == unit]


@pytest.mark.timeout(120)
def test_raw_lines_arrive_as_sent_and_unkeyed(broker, new_topic, read_topic):
    name = new_topic(partitions=1)
    with PresenceProducer(broker, name) as producer:
        producer.send_raw(b'{"event_id": "e1", "unit": "u-1", "ts": "2026-11')
        producer.send_raw(b"\x00\xffnot json", key=b"u-2")
    records = read_topic(name)
    assert [(r.key, r.value) for r in records] == [
        (None, b'{"event_id": "e1", "unit": "u-1", "ts": "2026-11'),
        (b"u-2", b"\x00\xffnot json"),
    ]


@pytest.mark.timeout(120)
def test_send_line_strips_objects_and_dead_letters_the_unreadable(broker, new_topic, read_topic):
    name, dead = new_topic(partitions=1), new_topic(partitions=1)
    big = _event(1, note="x" * 9000)  # too large as it came, as for the batch report
    lines = [
        orjson.dumps(_event(0, **IDENTIFYING)) + b"\r\n",
        b'{"event_id": "e9", "unit": "u-1", "officer_name": "PC Alex',  # truncated
        b"   \n",  # blank: skipped, as by the batch report
        b"[1, 2]",  # JSON, but not an object
        b'{"event_id": "e8", "unit": 7}',  # a unit that is not a string: no key
        orjson.dumps(big),
    ]
    with PresenceProducer(broker, name, dlq_topic=dead, max_event_bytes=8192) as producer:
        sent = [producer.send_line(line) for line in lines]
    assert sent == [True, True, False, True, True, True]
    assert (producer.sent, producer.rejected) == (2, {"malformed_json": 2, "too_large": 1})
    first, numeric_unit = read_topic(name)
    assert orjson.loads(first.value) == _event(0) and first.key == b"u-1"
    assert numeric_unit.key is None and orjson.loads(numeric_unit.value)["unit"] == 7
    letters = [orjson.loads(r.value) for r in read_topic(dead)]
    assert [(x["reason"], x["line"]) for x in letters] == [
        ("malformed_json", 2), ("malformed_json", 4), ("too_large", 6)]  # fmt: skip
    assert not any(b"PC Alex" in r.value or b"xxxx" in r.value for r in read_topic(dead))


def test_an_unreachable_broker_is_one_clear_error():
    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(KafkaUnreachable, match=f"cannot reach Kafka at {address}"):
        PresenceProducer(address, connect_timeout_s=1)


# --- replay ------------------------------------------------------------------------------


def _ndjson(path: Path) -> Path:
    lines = [orjson.dumps(_event(i, unit=f"u-{i % 3}", **IDENTIFYING)) for i in range(20)]
    lines.insert(5, b'{"event_id": "bad", "unit": "u-1", "ts"')  # truncated
    lines.insert(9, b"")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _csv(path: Path) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["event_id", "unit", "ts", "lat", "lon", "mode", "officer_name"])
        for i in range(12):
            e = _event(i, unit=f"u-{i % 2}")
            writer.writerow([e["event_id"], e["unit"], e["ts"], e["lat"], e["lon"], "foot", "PC X"])
        writer.writerow(["e-short", "u-1"])  # does not fit the header
    return path


@pytest.mark.timeout(120)
def test_replay_file_keeping_the_order_sends_every_line_in_file_order(
    broker, new_topic, read_topic, tmp_path
):
    name, dead = new_topic(partitions=1), new_topic(partitions=1)
    seen: list[tuple[str, int, int]] = []
    path = _ndjson(tmp_path / "events.ndjson")
    with PresenceProducer(broker, name, dlq_topic=dead) as producer:
        stats = replay_file(path, producer, keep_order=True, progress=lambda *p: seen.append(p))
    # 20 events + 1 truncated; blank skipped
    assert (stats.events, stats.sent, dict(stats.rejected)) == (21, 20, {"malformed_json": 1})
    assert seen[-1] == ("sending", path.stat().st_size, path.stat().st_size)
    values = [r.value for r in read_topic(name)]
    assert [orjson.loads(v)["event_id"] for v in values] == [f"e{i}" for i in range(20)]
    assert not any(b"PC Alex" in v for v in values)
    letter = orjson.loads(read_topic(dead)[0].value)
    assert letter == {"reason": "malformed_json", "source": "producer", "file": path.name,
                      "line": 6}  # fmt: skip


@pytest.mark.timeout(120)
def test_replay_reads_gzipped_ndjson(broker, new_topic, read_topic, tmp_path):
    import gzip

    name, dead = new_topic(partitions=1), new_topic(partitions=1)
    plain = _ndjson(tmp_path / "events.ndjson")
    packed = tmp_path / "events.ndjson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with PresenceProducer(broker, name, dlq_topic=dead) as producer:
        stats = replay_file(packed, producer)
    assert (stats.events, stats.sent) == (21, 20)
    assert len(read_topic(name)) == 20 and len(read_topic(dead)) == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["ndjson", "csv"])
def test_replay_command_sends_the_whole_file(broker, new_topic, read_topic, tmp_path, kind):
    from beatlight.runtime.topics import ensure_topics

    ensure_topics(broker, 1)  # the dead letters' topic
    name = new_topic(partitions=4)
    path = _ndjson(tmp_path / "e.ndjson") if kind == "ndjson" else _csv(tmp_path / "e.csv")
    result = _cli("replay", str(path), "--bootstrap", broker, "--topic", name)
    assert result.returncode == 0, result.stderr
    records = read_topic(name)
    expected = 20 if kind == "ndjson" else 12
    assert len(records) == expected
    said = " ".join(result.stderr.split())
    assert f"{expected + 1} events read, {expected} sent" in said
    assert "1 rejected here (1 malformed_json" in said
    for record in records:
        value = orjson.loads(record.value)
        assert set(value) <= SPEC_FIELDS and record.key == value["unit"].encode()
    assert not any(b"PC " in r.value for r in records)
    letters = [orjson.loads(r.value) for r in read_topic(PRESENCE_DLQ)]
    assert [x["reason"] for x in letters if x.get("file") == path.name] == ["malformed_json"]


@pytest.mark.timeout(60)
def test_replay_to_an_unreachable_broker_fails_in_one_line(tmp_path):
    address = f"127.0.0.1:{_closed_port()}"
    path = _ndjson(tmp_path / "events.ndjson")
    result = _cli(
        "replay", str(path), "--bootstrap", address, BEATLIGHT_KAFKA_CONNECT_TIMEOUT_S="1"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot reach Kafka at {address}: is the broker running? "
        "(beatlight broker, or set BEATLIGHT_KAFKA_BOOTSTRAP)"
    ]


def test_replay_without_a_broker_says_how_to_get_one(tmp_path):
    result = _cli("replay", str(_ndjson(tmp_path / "events.ndjson")))
    assert result.returncode == 2
    assert "beatlight broker" in result.stderr and "BEATLIGHT_KAFKA_BOOTSTRAP" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_replay_of_a_missing_file_fails_before_connecting(tmp_path):
    result = _cli("replay", str(tmp_path / "nope.ndjson"), "--bootstrap", "127.0.0.1:1")
    assert result.returncode == 2
    assert "no such events file" in result.stderr


def test_replay_takes_the_bootstrap_from_the_environment(broker, new_topic, read_topic, tmp_path):
    from beatlight.runtime.topics import ensure_topics

    ensure_topics(broker, 1)  # the dead letters' topic
    name = new_topic(partitions=1)
    path = _ndjson(tmp_path / "events.ndjson")
    result = _cli("replay", str(path), "--topic", name, BEATLIGHT_KAFKA_BOOTSTRAP=broker)
    assert result.returncode == 0, result.stderr
    assert len(read_topic(name)) == 20


# --- simulation ----------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_send_simulation_sends_dicts_and_dead_letters_broken_lines(broker, new_topic, read_topic):
    name = new_topic(partitions=2)
    from beatlight.runtime.topics import ensure_topics

    ensure_topics(broker, 1)  # the dead letters' topic
    feed = [_event(0, **IDENTIFYING), '{"event_id": "x", "unit', _event(1), _event(2)]
    assert send_simulation(feed, broker, speed=0, topic=name, limit=3) == 3
    values = sorted(r.value for r in read_topic(name))
    assert values == sorted([orjson.dumps(_event(0)), orjson.dumps(_event(1))])


@pytest.mark.timeout(120)
def test_simulate_kafka_command_sends_the_simulation(broker, read_topic):
    from beatlight.runtime.topics import ensure_topics

    ensure_topics(broker)
    before = len(read_topic(PRESENCE))
    result = _cli(
        "simulate", "--kafka", "--bootstrap", broker, "--speed", "0", "--duration", "1",
        "--start", "2026-11-22T08:00:00Z", "--events", "150",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sent 150 events" in result.stderr
    records = read_topic(PRESENCE)
    assert len(records) - before == 150
    assert not any(b"officer_name" in r.value for r in records)


def test_simulate_kafka_refuses_a_negative_speed_and_out():
    result = _cli("simulate", "--kafka", "--bootstrap", "127.0.0.1:1", "--speed", "-1")
    assert result.returncode == 2 and "--speed" in result.stderr
    result = _cli("simulate", "--kafka", "--out", "x.ndjson")
    assert result.returncode == 2 and "--kafka and --out" in result.stderr


def test_kafka_commands_have_help():
    for command in (["broker"], ["replay"], ["simulate"]):
        result = _cli(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout
    assert "--kafka" in _cli("simulate", "--help").stdout
