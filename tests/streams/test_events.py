"""Event validation (SPEC "The presence event") and the events-file readers."""

from __future__ import annotations

import gzip

import orjson
import pandas as pd
import pytest

from beatlight.streams.events import REASONS, RawEvents, parse_lines, strip_event, validate
from beatlight.streams.files import EventsFileError, open_events
from beatlight.streams.intake import Intake

pytestmark = pytest.mark.unit

NOW_US = 1_795_500_000 * 1_000_000  # 2026-11-24T06:00:00Z
GOOD = {"event_id": "e1", "unit": "u-1", "ts": "2026-11-23T06:00:00Z", "lat": 52.9, "lon": -2.1}


def reasons(*events, max_event_bytes=8192, **kwargs):
    lines = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in events]
    raw = parse_lines(lines, max_event_bytes=max_event_bytes)
    return validate(raw, now_us=NOW_US, **kwargs).reason.tolist()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_id": ""}, "bad_event_id"),
        ({"event_id": "x" * 129}, "bad_event_id"),
        ({"event_id": 7}, "bad_event_id"),
        ({"unit": "u" * 65}, "bad_unit"),
        ({"unit": ["u"]}, "bad_unit"),
        ({"ts": "2026-11-23T06:00:00"}, "bad_timestamp"),  # no offset
        ({"ts": "2026-02-30T06:00:00Z"}, "bad_timestamp"),
        ({"ts": "2026-11-23T24:00:00Z"}, "bad_timestamp"),
        ({"ts": 1795392000}, "bad_timestamp"),
        ({"ts": "23/11/2026 06:00"}, "bad_timestamp"),
        ({"lat": 0, "lon": 0}, "bad_coordinates"),
        ({"lat": 90.5}, "bad_coordinates"),
        ({"lon": -180.01}, "bad_coordinates"),
        ({"lat": "52.9"}, "bad_coordinates"),
        ({"lat": True}, "bad_coordinates"),
        ({"mode": "horse"}, "bad_mode"),
        ({"mode": 1}, "bad_mode"),
        ({"accuracy_m": -1}, "bad_accuracy"),
        ({"accuracy_m": "5"}, "bad_accuracy"),
        ({"accuracy_m": 100.5}, "inaccurate"),
        ({"ts": "2026-11-24T06:05:01Z"}, "future"),
    ],
)
def test_each_fault_gets_its_reason(change, reason):
    assert reasons({**GOOD, **change}) == [reason]


@pytest.mark.parametrize("field", ["event_id", "unit", "ts", "lat", "lon"])
def test_missing_or_null_required_field(field):
    without = {k: v for k, v in GOOD.items() if k != field}
    assert reasons(without, {**GOOD, field: None}) == ["missing_field", "missing_field"]


def test_valid_edges_are_accepted():
    edges = [
        {**GOOD, "accuracy_m": 100},  # equal to the maximum
        {**GOOD, "accuracy_m": None, "mode": None},  # optional nulls take defaults
        {**GOOD, "ts": "2026-11-24T06:05:00Z"},  # exactly the future tolerance
        {**GOOD, "ts": "2026-11-23t06:00:00.123456789+01:00"},
        {**GOOD, "lat": 0, "lon": 1},
        {**GOOD, "event_id": "x" * 128, "unit": "u" * 64},
    ]
    assert reasons(*edges) == [None] * len(edges)


def test_timestamps_are_normalised_to_utc_microseconds():
    raw = parse_lines(
        [orjson.dumps({**GOOD, "ts": "2026-11-23T07:00:00.1234567+01:00"})], max_event_bytes=8192
    )
    assert validate(raw, now_us=NOW_US).ts_us[0] == 1_795_413_600_123_456


def test_too_large_and_malformed_come_first():
    big = {**GOOD, "lat": None, "note": "x" * 200}
    assert reasons(big, "{not json", "[1, 2]", '"text"', max_event_bytes=100) == [
        "too_large", "malformed_json", "malformed_json", "malformed_json"]  # fmt: skip


def test_first_failing_check_names_the_reason():
    assert reasons({**GOOD, "unit": "", "lat": 999}) == ["bad_unit"]


def test_every_reason_is_documented_in_order():
    assert REASONS[0] == "too_large" and REASONS[-1] == "too_late"


def test_fields_outside_the_schema_never_travel_on():
    raw = parse_lines(
        [orjson.dumps({**GOOD, "officer_name": "PC A", "collar": 123})], max_event_bytes=8192
    )
    assert set(raw.columns) == {"event_id", "unit", "ts", "lat", "lon", "mode", "accuracy_m"}
    assert raw.record(0) == GOOD
    assert strip_event({**GOOD, "badge": "x"}) == GOOD


def _valid(*events):
    raw = RawEvents.from_records([{**GOOD, **e} for e in events])
    return validate(raw, now_us=NOW_US)


def test_late_beyond_the_allowed_hour_behind_the_watermark():
    intake = Intake(lateness_us=3_600_000_000)
    events = _valid(
        {"event_id": "a", "ts": "2026-11-23T08:00:00Z"},
        {"event_id": "b", "ts": "2026-11-23T07:00:00Z"},  # exactly 1 h: accepted
        {"event_id": "c", "ts": "2026-11-23T06:59:59.999999Z"},
    )
    admission = intake.admit(events)
    assert admission.accepted.tolist() == [True, True, False]
    assert events.reason.tolist() == [None, None, "too_late"]


def test_a_repeated_event_id_changes_nothing_but_is_counted():
    intake = Intake(lateness_us=3_600_000_000)
    events = _valid({"event_id": "a"}, {"event_id": "a", "lat": 53.0}, {"event_id": "b"})
    admission = intake.admit(events)
    assert admission.accepted.tolist() == [True, False, True]
    assert admission.duplicate.tolist() == [False, True, False]
    again = _valid({"event_id": "a"})
    assert intake.admit(again).duplicate.tolist() == [True]


def test_rejected_events_do_not_move_the_watermark():
    intake = Intake(lateness_us=3_600_000_000)
    events = _valid(
        {"event_id": "a", "ts": "2026-11-23T08:00:00Z", "accuracy_m": 500},
        {"event_id": "b", "ts": "2026-11-23T06:00:00Z"},
    )
    validate_first = events.reason.tolist()
    assert validate_first == ["inaccurate", None]
    assert intake.admit(events).accepted.tolist() == [False, True]


# -- files ------------------------------------------------------------------------------


def _rows(path):
    return [r for raw, _ in open_events(path).chunks(rows=2) for r in range(len(raw))]


def test_ndjson_plain_and_gzipped(tmp_path):
    lines = [orjson.dumps({**GOOD, "event_id": f"e{i}"}) for i in range(5)]
    plain = tmp_path / "events.ndjson"
    plain.write_bytes(b"\n".join(lines) + b"\n\n")
    zipped = tmp_path / "events.ndjson.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, zipped):
        batches = [raw for raw, _ in open_events(path).chunks(rows=2)]
        assert [len(b) for b in batches] == [2, 2, 1]
        assert batches[0].position == [1, 2]


def test_csv_values_become_the_json_they_stand_for(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,unit,ts,lat,lon,mode,accuracy_m,officer\n"
        "e1,u1,2026-11-23T06:00:00Z,52.9,-2.1,foot,,PC A\n"
        "e2,u1,2026-11-23T06:00:00Z,north,-2.1,,,\n"
        "e3,u1,2026-11-23T06:00:00Z\n"
    )
    raw = next(iter(open_events(path).chunks()))[0]
    assert raw.record(0) == {**GOOD, "event_id": "e1", "unit": "u1", "mode": "foot"}
    checked = validate(raw, now_us=NOW_US)
    assert checked.reason.tolist() == [None, "bad_coordinates", "malformed_json"]


def test_parquet_with_typed_timestamps(tmp_path):
    path = tmp_path / "events.parquet"
    frame = pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "unit": ["u1", "u1"],
            "ts": pd.to_datetime(
                ["2026-11-23T06:00:00Z", "2026-11-23T06:00:01.5Z"], format="ISO8601"
            ),
            "lat": [52.9, None],
            "lon": [-2.1, -2.1],
            "badge": ["1", "2"],
        }
    )
    frame.to_parquet(path)
    raw = next(iter(open_events(path).chunks()))[0]
    checked = validate(raw, now_us=NOW_US)
    assert checked.reason.tolist() == [None, "missing_field"]
    assert checked.ts_us[0] == 1_795_413_600_000_000
    assert "badge" not in raw.columns


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.ndjson", None, "no such events file"),
        ("events.txt", "x", "unknown events format"),
        ("events.csv", "id,who,when\n1,2,3\n", "required column(s) event_id, unit, ts, lat, lon"),
        ("events.parquet", "not parquet", "cannot be read as parquet"),
        ("events.ndjson.gz", "not gzip", "cannot be read"),
    ],
)
def test_unusable_files_get_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(EventsFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_events(path)


def test_mode_codes_have_one_home():
    """The code a mode is stored as is its index in MODES, wherever modes are named."""
    from beatlight.maps.palette import MODE_COLOURS
    from beatlight.streams.events import CYCLE, FOOT, MODES, UNKNOWN, VEHICLE

    assert [MODES[code] for code in (UNKNOWN, FOOT, CYCLE, VEHICLE)] == [
        "unknown", "foot", "cycle", "vehicle"
    ]  # fmt: skip
    assert set(MODE_COLOURS) == set(MODES)
    events = parse_lines([orjson.dumps({"event_id": "e", "unit": "u", "ts": "2026-11-23T06:00:00Z",
                                        "lat": 52.8, "lon": -2.1, "mode": "cycle"}).decode()],
                         max_event_bytes=8192)  # fmt: skip
    assert validate(events, now_us=2**62).mode.tolist() == [CYCLE]
