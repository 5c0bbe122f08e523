"""Fuzzing the way in: raw records → :func:`parse_lines` → :func:`validate` → a lane → output.

Properties (SPEC "The presence event"):

* nothing a feed sends makes parsing, validation or a lane raise;
* every record is accepted, a duplicate, or rejected with exactly one SPEC reason, the
  same one the independent oracle (``tests/oracle.py``) gives;
* valid events mixed with junk are all accepted: junk never costs good data;
* no identifying field, nor its value, reaches anything a lane emits (DLQ, points,
  figures), however it is nested.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beatlight.configs import lane_config
from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.streams.events import FIELDS, REASONS, parse_lines, validate
from beatlight.streams.lane import Lane
from beatlight.streams.runner import LaneRunner, Record
from tests import oracle
from tests.fuzz.events import (
    NOW_US,
    encode,
    good_event,
    json_values,
    junk_line,
    near_valid,
    secret_markers,
    timestamps,
    to_bytes,
)
from tests.fuzz.profiles import fuzz, timeout

pytestmark = [pytest.mark.unit, pytest.mark.timeout(timeout(120))]

MAX_EVENT_BYTES = 8192
CONFIG = lane_config()
#: The letter's own keys: anything else would be a field that travelled on.
LETTER_KEYS = {"reason", "partition", "offset", "event_id", "payload"}


_GEOGRAPHY: list[Geography] = []


def geography() -> Geography:
    """The synthetic wards, loaded once (hypothesis calls the tests many times)."""
    if not _GEOGRAPHY:
        folder = Path(tempfile.mkdtemp(prefix="beatlight-fuzz-"))
        _GEOGRAPHY.append(load_geography(write_synthetic(folder / "wards.geojson")))
    return _GEOGRAPHY[0]


# -- parsing and validation --------------------------------------------------------------


lines = st.lists(junk_line() | st.binary(max_size=64), max_size=30)


@fuzz(250)
@given(lines)
def test_any_bytes_get_exactly_one_verdict_per_record(records):
    raw = parse_lines(records, max_event_bytes=MAX_EVENT_BYTES)
    events = validate(raw, now_us=NOW_US, max_accuracy_m=CONFIG.max_accuracy_m)

    non_blank = [i for i, line in enumerate(records) if line.strip()]
    assert events.position.tolist() == non_blank
    assert set(raw.columns) == set(FIELDS)
    for reason in events.reason.tolist():
        assert reason is None or reason in REASONS
    accepted = events.ok
    # What passes is what the SPEC's table allows.
    assert all(isinstance(v, str) and 0 < len(v) <= 128 for v in events.event_id[accepted])
    assert all(isinstance(v, str) and 0 < len(v) <= 64 for v in events.unit[accepted])
    for lat, lon in zip(events.lat[accepted], events.lon[accepted], strict=True):
        assert math.isfinite(lat) and math.isfinite(lon)
        assert abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0.0, 0.0)
    assert (events.ts_us[accepted] <= NOW_US + CONFIG.future_us).all()


texts_for_oracle = st.one_of(
    near_valid().map(lambda e: encode(e)),
    near_valid().map(lambda e: encode(e, ascii_only=False)),
    json_values.map(encode),
)


@fuzz(400)
@given(texts_for_oracle)
def test_each_line_gets_the_oracles_reason(line):
    data = to_bytes(line)
    raw = parse_lines([data], max_event_bytes=MAX_EVENT_BYTES)
    if not data.strip():
        assert len(raw) == 0
        return
    fast = validate(raw, now_us=NOW_US, max_accuracy_m=CONFIG.max_accuracy_m).reason[0]
    expected = _oracle_reason(line)
    if fast == "malformed_json" and expected != "malformed_json":
        # orjson is stricter than the oracle's json module, by choice: the line cannot be
        # re-encoded as UTF-8 JSON for the DLQ, or holds a number no double can.
        assert _strict_json_refusal(data), (line[:300], expected)
        return
    assert fast == expected, line[:300]


@fuzz(300)
@given(timestamps())
def test_each_timestamp_gets_the_oracles_verdict(ts):
    line = encode({"event_id": "e", "unit": "u", "ts": ts, "lat": 52.9, "lon": -2.1})
    raw = parse_lines([to_bytes(line)], max_event_bytes=MAX_EVENT_BYTES)
    events = validate(raw, now_us=NOW_US)
    assert events.reason[0] == _oracle_reason(line), ts
    if events.reason[0] is None:
        assert events.ts_us[0] == oracle.parse_ts(ts)


def _oracle_reason(line: str) -> str | None:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # raw lone surrogates: not UTF-8, so not JSON
        return "too_large" if len(to_bytes(line)) > MAX_EVENT_BYTES else "malformed_json"
    reason, event = oracle.validate(line, max_event_bytes=MAX_EVENT_BYTES,
                                    max_accuracy_m=CONFIG.max_accuracy_m)  # fmt: skip
    if reason is None and event.ts_us > NOW_US + CONFIG.future_us:
        return "future"
    return reason


def _strict_json_refusal(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as error:
        message = str(error)
        return any(why in message for why in ("surrogate", "infinity", "depth limit"))
    return False


# -- a lane: good data survives junk --------------------------------------------------------


@st.composite
def mixed_feed(draw: st.DrawFn) -> tuple[list[bytes], set[int], list[int]]:
    """Records: valid events (indices returned) among junk, and where the batches split."""
    good = draw(st.lists(st.integers(0, 2999), min_size=1, max_size=12))
    junk = draw(st.lists(junk_line(), max_size=25))
    # Junk may be valid too, but never shares a good event's id (it would be a duplicate).
    junk = [line.replace(b"good-", b"junk-") for line in junk]
    # The first record is a good one: it gives the lane its watermark. (A lane whose first
    # ping is ancient owes an hour of figures for every hour since: see
    # test_regressions.py::test_an_ancient_first_ping_does_not_owe_an_hour_tick_per_hour_since.)
    records: list[bytes] = [orjson.dumps(good_event(0, 1800))]
    good_at = {0}
    slots = draw(st.lists(st.integers(0, len(junk)), min_size=len(good), max_size=len(good)))
    merged = list(junk)
    for k, (seconds, at) in enumerate(sorted(zip(good, slots, strict=True), key=lambda p: -p[1])):
        merged.insert(at, orjson.dumps(good_event(k + 1, seconds)))
    for line in merged:
        if line.startswith(b'{"event_id":"good-'):
            good_at.add(len(records))
        records.append(line)
    cuts = sorted(draw(st.lists(st.integers(1, len(records)), max_size=3)))
    return records, good_at, cuts


def _batches(records: list, cuts: list[int]) -> list[tuple[int, list]]:
    bounds = [0, *cuts, len(records)]
    return [(a, records[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@fuzz(100)
@given(mixed_feed())
def test_valid_events_mixed_with_junk_are_all_accepted(feed):
    records, good_at, cuts = feed
    lane = Lane(geography(), CONFIG, hourly=True)
    verdict: dict[int, str] = {}
    for first, batch in _batches(records, cuts):
        raw = parse_lines(batch, max_event_bytes=MAX_EVENT_BYTES, first_position=first)
        outcome = lane.ingest(raw, now_us=NOW_US)
        for row, position in enumerate(outcome.events.position.tolist()):
            reason = outcome.events.reason[row]
            kinds = [outcome.accepted[row], outcome.duplicate[row], reason is not None]
            assert sum(map(bool, kinds)) == 1, (records[position], kinds)
            assert reason is None or reason in REASONS
            verdict[position] = "accepted" if outcome.accepted[row] else reason or "duplicate"
    assert set(verdict) == {i for i, r in enumerate(records) if r.strip()}
    lost = {i: verdict[i] for i in good_at if verdict[i] != "accepted"}
    assert not lost, {records[i]: why for i, why in lost.items()}


# -- a stream worker's lane: nothing identifying leaves it ------------------------------------


@fuzz(100)
@given(mixed_feed(), st.lists(st.sampled_from([None, b"", b"  \n"]), max_size=3))
def test_nothing_identifying_reaches_any_output_and_every_rejection_is_a_letter(feed, blanks):
    records, good_at, cuts = feed
    values = [*records, *blanks]
    runner = LaneRunner(0, geography(), CONFIG, max_event_bytes=MAX_EVENT_BYTES,
                        points_us=24 * 3_600_000_000)  # fmt: skip
    emitted: list[bytes] = []
    letters: list[dict] = []
    accepted = duplicates = 0
    for first, batch in _batches(values, cuts):
        chunk = [Record(first + i, v, b"u") for i, v in enumerate(batch)]
        emission = runner.process(chunk, now_us=NOW_US)
        accepted += emission.accepted
        duplicates += emission.duplicates
        for key, value in emission.dlq:
            emitted += [key or b"", value]
            letters.append(orjson.loads(value))
        emitted += [b for pair in emission.points for b in pair]
        emitted += [*emission.partials, *emission.live]
    emitted += [runner.live_tick(NOW_US), *runner.flush_final()]

    non_blank = [i for i, v in enumerate(values) if v and v.strip()]
    assert accepted + duplicates + len(letters) == len(non_blank)
    assert accepted >= len(good_at)
    assert sorted(letter["offset"] for letter in letters) == sorted(
        set(letter["offset"] for letter in letters))  # fmt: skip
    assert {letter["offset"] for letter in letters} <= set(non_blank) - good_at
    for letter in letters:
        assert set(letter) <= LETTER_KEYS and letter["reason"] in REASONS
        payload = letter.get("payload", {})
        assert set(payload) <= set(FIELDS)
        assert all(not isinstance(v, dict | list) for v in payload.values()), letter
    blob = b"\n".join(emitted)
    for secret in secret_markers():
        assert secret not in blob, (secret, [r for r in records if secret in r])


@fuzz(100)
@given(st.lists(near_valid(), min_size=1, max_size=6))
def test_a_letter_copies_only_the_spec_fields_as_they_came(events):
    runner = LaneRunner(0, geography(), CONFIG, max_event_bytes=MAX_EVENT_BYTES)
    anchor = Record(0, orjson.dumps(good_event(0, 60)))
    records = [anchor, *(Record(i + 1, to_bytes(encode(e))) for i, e in enumerate(events))]
    emission = runner.process(records, now_us=NOW_US)
    for _, value in emission.dlq:
        letter = orjson.loads(value)
        if "payload" not in letter:
            assert letter["reason"] in ("malformed_json", "too_large")
            continue
        source = orjson.loads(records[letter["offset"]].value)  # the last duplicate key wins
        for name, copied in letter["payload"].items():
            original = source[name]
            if isinstance(original, dict | list):
                assert copied == f"<{'object' if isinstance(original, dict) else 'array'}>"
            else:
                assert copied == original
