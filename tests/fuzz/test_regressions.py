"""What the event fuzzers found, pinned as worked examples (one test per finding, named after it).

The API's findings are in ``test_api_regressions.py``.
"""

from __future__ import annotations

import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.streams.batch import batch_report
from beatlight.streams.events import parse_lines, validate
from beatlight.streams.runner import LaneRunner, Record
from tests.fuzz.events import IDENTIFYING, NOW_US, good_event, secret_markers
from tests.fuzz.test_events_fuzz import geography

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

HOUR_US = 3_600_000_000


def _event(**fields) -> bytes:
    return orjson.dumps({**good_event(1, 600), **fields})


# -- found by test_nothing_identifying_reaches_any_output_and_every_rejection_is_a_letter ----


@pytest.mark.parametrize("field", ["event_id", "unit", "ts", "lat", "mode", "accuracy_m"])
@pytest.mark.parametrize("nest", [dict, lambda d: [d]], ids=["object", "array"])
def test_an_identifying_field_nested_in_a_spec_field_never_reaches_the_dlq(field, nest):
    runner = LaneRunner(0, geography(), lane_config(), max_event_bytes=8192)
    emission = runner.process([Record(0, _event(**{field: nest(IDENTIFYING)}))], now_us=NOW_US)

    (key, value), = emission.dlq  # fmt: skip
    letter = orjson.loads(value)
    assert letter["payload"][field] in ("<object>", "<array>")
    for secret in secret_markers():
        assert secret not in value and secret not in (key or b"")


# -- found by test_each_timestamp_gets_the_oracles_verdict -------------------------------


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+00:01", "0001-01-01T00:59:59+01:00",
                                "9999-12-31T23:59:59-00:01"])  # fmt: skip
def test_a_timestamp_whose_utc_time_is_outside_years_1_to_9999_is_bad_timestamp(ts):
    raw = parse_lines([_event(ts=ts)], max_event_bytes=8192)
    assert validate(raw, now_us=NOW_US).reason.tolist() == ["bad_timestamp"]


def test_the_batch_report_survives_a_ping_just_before_year_1():
    # Accepted before the fix, it crashed `beatlight report` with an OverflowError when
    # its time was written out (last_seen).
    lines = [_event(ts="0001-01-01T00:00:00+01:00", event_id="ancient"), _event()]
    document = batch_report(geography(), [parse_lines(lines, max_event_bytes=8192)],
                            lane_config(), now_us=NOW_US)  # fmt: skip
    assert document["rejected"] == {"bad_timestamp": 1}


# -- found while writing test_valid_events_mixed_with_junk_are_all_accepted -----------------


def test_an_ancient_first_ping_does_not_owe_an_hour_tick_per_hour_since():
    # One ping at 1970-01-01 (a feed's broken clock) made a fresh lane compute an hour of
    # figures for every hour since 1970 (~500,000) once a current ping arrived, which
    # stalled the worker. A lane now owes figures only for the hours its pings reach (the
    # longest window on): the ones between are empty for it, and skipped.
    from beatlight.streams.wire import Kind, decode

    runner = LaneRunner(0, geography(), lane_config(), max_event_bytes=8192)
    runner.process([Record(0, _event(ts="1970-01-01T00:00:00Z"))], now_us=NOW_US)
    emission = runner.process([Record(1, _event(event_id="now"))], now_us=NOW_US)
    kinds = [decode(payload).kind for payload in emission.partials]
    assert 28 * 24 <= kinds.count(Kind.HOUR) <= 29 * 24  # the 1970 ping's 28 days
    assert runner.lane.hours_skipped > 400_000
    reported = decode(next(p for p in emission.partials if decode(p).kind is Kind.REPORTED))
    span = reported.status.skipped[-1]  # the years between
    assert (span.last_us - span.first_us) // HOUR_US + 1 > 400_000 and span.last_us <= NOW_US
    assert span.accepted == 1  # the 1970 ping is counted in each of them, as the batch report does
