"""``beatlight replay`` against a real broker: no line stops it, none is forwarded as it
came, and events go out in event-time order (SPEC "The presence event", "Replays are in
event-time order"; security findings 2, 3 and 4 of issue 19, in SECURITY.md).

Each file has a name of its own: the dead letters of every test go to the session
broker's one ``patrol.presence.dlq``, and a test reads back the letters of its file.

Long because its three parts read back the same replays, dead letters and event helpers
defined at its top.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.replay import replay_file
from beatlight.runtime.topics import PRESENCE_DLQ, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SPEC_FIELDS = {"event_id", "unit", "ts", "lat", "lon", "mode", "accuracy_m"}
#: Identifying text a feed might add; none of it may reach a topic.
SECRETS = (b"officer_name", b"PC Alex Morgan", b"collar", b"4711")
LETTER_KEYS = {"reason", "source", "file", "line"}


def _event(i: int, unit: str = "u-1", minute: int | None = None, **extra) -> dict:
    minute = i % 60 if minute is None else minute
    return {"event_id": f"e{i}", "unit": unit, "ts": f"2026-11-23T06:{minute:02d}:00Z",
            "lat": 52.9 + i * 1e-4, "lon": -2.1, "mode": "foot", **extra}  # fmt: skip


def _line(i: int, **kwargs) -> bytes:
    return orjson.dumps(_event(i, **kwargs, officer_name="PC Alex Morgan", collar="4711"))


@pytest.fixture
def events_file(tmp_path: Path):
    """``events_file(lines)``: an NDJSON file with a name no other test uses."""

    def write(lines: list[bytes], suffix: str = ".ndjson") -> Path:
        path = tmp_path / f"events-{uuid.uuid4().hex[:10]}{suffix}"
        path.write_bytes(b"\n".join(lines) + b"\n")
        return path

    return write


@pytest.fixture
def dlq(broker, read_topic):
    """``dlq(path)``: the dead letters about one file, as dicts, in the order written."""
    ensure_topics(broker, 1)

    def letters(path: Path) -> list[dict]:
        values = [orjson.loads(r.value) for r in read_topic(PRESENCE_DLQ)]
        return [v for v in values if v.get("file") == path.name]

    return letters


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    env |= {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "beatlight", "replay", *args],
                          capture_output=True, text=True, timeout=150, env=env)  # fmt: skip


def _said(result: subprocess.CompletedProcess[str]) -> str:
    """What the command wrote to stderr, as one line (the log wraps long lines)."""
    return " ".join(result.stderr.split())


def _assert_clean(records) -> None:  # noqa: ANN001
    """Every record is a JSON object of SPEC fields only, and holds nothing identifying."""
    for record in records:
        blob = (record.key or b"") + record.value
        assert not any(secret in blob for secret in SECRETS), record.value[:200]
        value = orjson.loads(record.value)
        assert set(value) <= SPEC_FIELDS, value


# --- findings 2, 3, 4: no line stops a replay, none is forwarded -------------------------


def test_a_line_nested_500_deep_neither_stops_the_replay_nor_travels(
    broker, new_topic, read_topic, dlq, events_file
):
    """Finding 2: orjson reads 500 levels but writes only 254; the replay died there."""
    deep = b"[" * 500 + b"]" * 500
    path = events_file([
        _line(0),
        b'{"event_id":"deep","unit":' + deep + b',"officer_name":"PC Alex Morgan"}',
        b'{"event_id":"deep-extra","unit":"u-2","note":' + deep + b',"collar":"4711"}',
        b'{"event_id":"too-deep","unit":' + b"[" * 1100 + b"]" * 1100 + b"}",  # past the parser
        _line(1),
    ])  # fmt: skip
    name = new_topic(partitions=1)
    result = _cli(str(path), "--bootstrap", broker, "--topic", name)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    records = read_topic(name)
    _assert_clean(records)
    by_id = {orjson.loads(r.value)["event_id"]: orjson.loads(r.value) for r in records}
    assert set(by_id) == {"e0", "e1", "deep", "deep-extra"}
    # The nested value travels empty: the worker rejects it (bad_unit), as the report does.
    assert by_id["deep"] == {"event_id": "deep", "unit": {}}
    assert by_id["deep-extra"] == {"event_id": "deep-extra", "unit": "u-2"}
    assert dlq(path) == [{"reason": "malformed_json", "source": "producer",
                          "file": path.name, "line": 4}]  # fmt: skip


def test_a_line_over_a_mebibyte_is_dead_lettered_and_the_events_after_it_arrive(
    broker, new_topic, read_topic, dlq, events_file
):
    """Finding 3: the client refused the 1 MiB record and the replay stopped there."""
    huge = orjson.dumps(_event(5, note="x" * (1 << 20), officer_name="PC Alex Morgan"))
    path = events_file([_line(0), huge, *[_line(i) for i in range(1, 40)]])
    name = new_topic(partitions=2)
    result = _cli(str(path), "--bootstrap", broker, "--topic", name)
    assert result.returncode == 0, result.stderr
    records = read_topic(name)
    _assert_clean(records)
    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(
        f"e{i}" for i in range(40)
    )
    assert dlq(path) == [{"reason": "too_large", "source": "producer",
                          "file": path.name, "line": 2}]  # fmt: skip
    assert "40 sent" in _said(result) and "1 too_large" in _said(result)


def test_lines_that_cannot_be_read_go_to_the_dlq_without_their_content(
    broker, new_topic, read_topic, dlq, events_file
):
    """Finding 4: such lines were forwarded as they came, officer's name and all."""
    path = events_file([
        _line(0),
        b'{"event_id":"nan","unit":"u-1","lat":NaN,"officer_name":"PC Alex Morgan"}',
        b'{"event_id":"inf","unit":"u-1","lat":-Infinity,"collar":"4711"}',
        b'{"event_id":"bytes","unit":"u-\xff","officer_name":"PC Alex Morgan"}',
        b'[{"officer_name":"PC Alex Morgan"}]',
        b'{"event_id":"nested","unit":{"officer_name":"PC Alex Morgan"},"lat":52.9}',
        _line(1),
        b'{"event_id":"tail","unit":"u-1","officer_name":"PC Alex Mor',  # truncated tail
    ])  # fmt: skip
    name = new_topic(partitions=1)
    result = _cli(str(path), "--bootstrap", broker, "--topic", name)
    assert result.returncode == 0, result.stderr
    records = read_topic(name)
    _assert_clean(records)
    values = {orjson.loads(r.value)["event_id"]: orjson.loads(r.value) for r in records}
    assert set(values) == {"e0", "e1", "nested"}
    assert values["nested"] == {"event_id": "nested", "unit": {}, "lat": 52.9}
    letters = dlq(path)
    assert [(x["reason"], x["line"]) for x in letters] == [
        ("malformed_json", 2), ("malformed_json", 3), ("malformed_json", 4),
        ("malformed_json", 5), ("malformed_json", 8),
    ]  # fmt: skip
    assert all(set(letter) == LETTER_KEYS for letter in letters)
    assert "5 malformed_json" in _said(result)


def test_a_replay_of_nothing_but_bad_lines_fails_and_says_so(broker, new_topic, dlq, events_file):
    path = events_file([b"{", b"NaN", b'{"a":' * 3 + b"1"])
    result = _cli(str(path), "--bootstrap", broker, "--topic", new_topic(partitions=1))
    assert result.returncode == 2
    assert f"nothing of {path} could be sent: all 3 events were rejected" in _said(result)
    assert [x["line"] for x in dlq(path)] == [1, 2, 3]


def test_csv_rows_that_do_not_fit_are_dead_lettered_and_identifying_columns_dropped(
    broker, new_topic, read_topic, dlq, tmp_path
):
    path = tmp_path / f"events-{uuid.uuid4().hex[:10]}.csv"
    rows = ["event_id,unit,ts,lat,lon,officer_name"]
    rows += [f"e{i},u-{i % 2},2026-11-23T06:{59 - i:02d}:00Z,52.9,-2.1,PC Alex Morgan"
             for i in range(6)]  # fmt: skip
    rows.insert(3, "e-short,u-1")
    rows.append("e-nan,u-1,2026-11-23T05:00:00Z,nan,-2.1,PC Alex Morgan")
    path.write_text("\n".join(rows) + "\n")
    name = new_topic(partitions=1)
    result = _cli(str(path), "--bootstrap", broker, "--topic", name)
    assert result.returncode == 0, result.stderr
    records = read_topic(name)
    _assert_clean(records)
    # In ts order; "nan" is not a number, so the worker rejects it (bad_coordinates).
    assert [orjson.loads(r.value)["event_id"] for r in records] == [
        "e-nan", "e5", "e4", "e3", "e2", "e1", "e0"]  # fmt: skip
    assert orjson.loads(records[0].value)["lat"] == "nan"
    assert dlq(path) == [{"reason": "malformed_json", "source": "producer",
                          "file": path.name, "line": 4}]  # fmt: skip


# --- event-time order ----------------------------------------------------------------------


def test_events_go_out_in_ts_order_ties_by_line_text_unreadable_times_last(
    broker, new_topic, read_topic, events_file
):
    lines = [orjson.dumps(_event(i, unit=f"u-{i % 4}", minute=(i * 7) % 60)) for i in range(60)]
    # Two copies of one event_id at one ts: the smaller line text goes first.
    lines += [orjson.dumps(_event(100, minute=30, accuracy_m=9.0)),
              orjson.dumps(_event(100, minute=30, accuracy_m=10.0))]  # fmt: skip
    lines += [orjson.dumps({**_event(200), "ts": "yesterday"}),
              orjson.dumps({**_event(201), "ts": None})]  # fmt: skip
    random.Random(4).shuffle(lines)
    path = events_file(lines)
    name = new_topic(partitions=1)
    result = _cli(str(path), "--bootstrap", broker, "--topic", name)
    assert result.returncode == 0, result.stderr
    got = [r.value for r in read_topic(name)]
    unreadable = {"e200", "e201"}
    readable = [v for v in lines if orjson.loads(v)["event_id"] not in unreadable]
    assert got[:-2] == sorted(readable, key=lambda v: (orjson.loads(v)["ts"], v))
    assert {orjson.loads(v)["event_id"] for v in got[-2:]} == unreadable
    copies = [v for v in got if b'"e100"' in v]
    assert copies == sorted(copies) and b'"accuracy_m":10.0' in copies[0]  # "1" < "9"


def test_keep_order_sends_the_lines_as_they_stand(broker, new_topic, read_topic, events_file):
    lines = [orjson.dumps(_event(i, minute=59 - i)) for i in range(30)]
    path = events_file(lines)
    name = new_topic(partitions=1)
    result = _cli(str(path), "--bootstrap", broker, "--topic", name, "--keep-order")
    assert result.returncode == 0, result.stderr
    assert [r.value for r in read_topic(name)] == lines
    assert "in file order" in _said(result)


def test_a_sort_larger_than_a_run_spills_only_what_may_travel_and_cleans_up(
    broker, new_topic, read_topic, events_file, tmp_path
):
    import pyarrow.ipc as ipc

    rng = random.Random(7)
    lines = [_line(i, unit=f"u-{i % 9}", minute=rng.randrange(60)) for i in range(500)]
    lines.insert(250, b"{not json")
    path = events_file(lines)
    spill = tmp_path / "spill"
    spill.mkdir()
    phases: list[tuple[str, int, int]] = []
    folders: set[tuple[str, int]] = set()
    spilled: list[bytes] = []

    def progress(phase: str, done: int, total: int) -> None:
        phases.append((phase, done, total))
        folders.update((f.name, f.stat().st_mode & 0o777) for f in spill.iterdir())
        if phase == "sending" and not spilled:
            for run in spill.glob("*/*.arrow"):
                table = ipc.open_file(str(run)).read_all()
                spilled.extend(v for c in table.columns for v in c.to_pylist() if v)

    name, dead = new_topic(partitions=1), new_topic(partitions=1)
    with PresenceProducer(broker, name, dlq_topic=dead) as producer:
        stats = replay_file(path, producer, progress=progress, run_rows=37, spill_dir=spill)
    assert (stats.events, stats.sent, dict(stats.rejected)) == (501, 500, {"malformed_json": 1})
    got = [orjson.loads(r.value) for r in read_topic(name)]
    assert [e["ts"] for e in got] == sorted(e["ts"] for e in got)
    assert sorted(e["event_id"] for e in got) == sorted(f"e{i}" for i in range(500))
    # The runs were spilled here, in a folder only this user can read, with nothing that
    # may not travel (the lines, which do, are in an unnamed file), and removed.
    assert len(folders) == 1 and next(iter(folders))[1] == 0o700
    assert len(spilled) > 500 * 2
    assert not any(secret in v for v in spilled if isinstance(v, bytes) for secret in SECRETS)
    assert list(spill.iterdir()) == []
    # Both passes are reported, reading first, each to its end.
    kinds = [phase for phase, _, _ in phases]
    assert kinds == sorted(kinds, key=["reading", "sending"].index) and set(kinds) == {
        "reading", "sending"}  # fmt: skip
    last = {phase: (done, total) for phase, done, total in phases}
    assert last["reading"] == (path.stat().st_size,) * 2 and last["sending"] == (500, 500)


# --- PresenceProducer -----------------------------------------------------------------------


def test_a_bad_event_is_dead_lettered_with_its_reason_and_the_feed_goes_on(
    broker, new_topic, read_topic
):
    name, dead = new_topic(partitions=1), new_topic(partitions=1)
    with PresenceProducer(broker, name, dlq_topic=dead, max_event_bytes=400) as producer:
        assert producer.send(_event(0, officer_name="PC Alex Morgan"))
        assert not producer.send(["not", "a", "mapping"])  # type: ignore[arg-type]
        assert not producer.send(_event(1, event_id="x" * 120, ts="t" * 400))  # SPEC fields too big
        assert producer.send(_event(2, lat=float("nan"), unit={"officer_name": "PC Alex Morgan"}))
        assert producer.send(
            _event(3, event_id="y" * 129, collar="4711")
        )  # too long: travels as {}
        assert not producer.send_line(b"   ")  # blank: nothing to do
        assert producer.send_line(b'{"event_id":"t","officer_name":"PC Alex Mor')
        assert producer.send_line(_line(4))
    assert producer.sent == 4
    assert producer.rejected == {"malformed_json": 2, "too_large": 1}
    records = read_topic(name)
    _assert_clean(records)
    values = [orjson.loads(r.value) for r in records]
    assert values[1] == {**_event(2), "lat": {}, "unit": {}} and records[1].key is None
    assert values[2]["event_id"] == {}
    letters = [orjson.loads(r.value) for r in read_topic(dead)]
    assert letters == [
        {"reason": "malformed_json", "source": "producer", "event": 2},
        {"reason": "too_large", "source": "producer", "event": 3},
        {"reason": "malformed_json", "source": "producer", "line": 2},
    ]


def test_an_event_larger_than_the_client_may_send_is_dead_lettered(broker, new_topic, read_topic):
    name, dead = new_topic(partitions=1), new_topic(partitions=1)
    small = len(orjson.dumps(_event(1))) + 100  # room for one event and the record's header
    with PresenceProducer(broker, name, dlq_topic=dead, max_request_size=small) as producer:
        assert not producer.send(_event(0, event_id="e" * 128, unit="u" * 60))
        assert producer.send(_event(2))  # and the producer carries on
    assert (producer.sent, producer.rejected) == (1, {"too_large": 1})
    assert [orjson.loads(r.value)["event_id"] for r in read_topic(name)] == ["e2"]
    assert [orjson.loads(r.value)["reason"] for r in read_topic(dead)] == ["too_large"]
