"""RFC 3339 times (beatlight.times): one text for a moment, whichever form it arrives in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatlight.times import (
    NO_TIME,
    format_time,
    format_us,
    format_us_array,
    parse_time,
    parse_us,
    to_us,
)
from tests.oracle import format_ts as oracle_format_ts

pytestmark = pytest.mark.unit

#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in µs since the epoch.
_FIRST, _LAST = -62_135_596_800_000_000, 253_402_300_799_999_999
_MOMENTS = st.one_of(
    st.integers(_FIRST, _LAST),
    st.integers(_FIRST // 1_000_000, _LAST // 1_000_000).map(lambda s: s * 1_000_000),
)
_SETTINGS = settings(max_examples=300, derandomize=True, database=None, deadline=None)


@_SETTINGS
@given(st.lists(st.one_of(_MOMENTS, st.just(int(NO_TIME))), max_size=50))
def test_array_formatting_equals_one_at_a_time(stamps):
    got = format_us_array(np.array(stamps, dtype=np.int64))
    assert got == [None if us == NO_TIME else format_us(us) for us in stamps]
    assert got == [None if us == NO_TIME else oracle_format_ts(us) for us in stamps]


@_SETTINGS
@given(_MOMENTS, st.integers(-14 * 60, 14 * 60))
def test_a_datetime_is_written_as_its_microseconds_and_read_back(us, offset_minutes):
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    zone = timezone(timedelta(minutes=offset_minutes))
    if (
        not datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
        < moment
        < datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
    ):
        return  # a local time out of datetime's range
    text = format_us(us)
    assert format_time(moment.astimezone(zone)) == text
    assert parse_time(text) == moment and parse_time(text).tzinfo is UTC
    assert parse_us(text) == us == to_us(moment)


def test_whole_seconds_have_no_fraction_and_others_all_six_digits():
    year_1000 = to_us(datetime(1000, 1, 1, tzinfo=UTC))
    stamps = np.array([0, 1, 1_764_000_000_100_000, -1, year_1000 - 1, NO_TIME], dtype=np.int64)
    expected = [
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00.000001Z",
        "2025-11-24T16:00:00.100000Z",
        "1969-12-31T23:59:59.999999Z",
        "0999-12-31T23:59:59.999999Z",  # four digits, as RFC 3339 wants (strftime writes "999")
        None,
    ]
    assert format_us_array(stamps) == expected
    assert [None if us == NO_TIME else format_us(us) for us in stamps.tolist()] == expected


def test_year_999_has_four_digits():
    assert format_time(datetime(999, 5, 6, 7, 8, 9, tzinfo=UTC)) == "0999-05-06T07:08:09Z"
    assert parse_time("0999-05-06T07:08:09Z") == datetime(999, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_points_of_a_live_map_are_written_as_report_times():
    ts = np.array([0, 1, -1, 1_795_435_200_000_000, 1_795_435_200_250_000, -86_400_000_000])
    assert format_us_array(ts) == [format_us(t) for t in ts.tolist()]
    assert format_us_array(ts)[3:5] == ["2026-11-23T12:00:00Z", "2026-11-23T12:00:00.250000Z"]


def test_offsets_are_read_and_converted_to_utc():
    assert parse_time("2026-11-23T07:00:00+01:00") == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert format_time(parse_time("2026-11-23T07:00:00.5+01:00")) == "2026-11-23T06:00:00.500000Z"


@pytest.mark.parametrize("text", ["2026-11-23T06:00:00", "not a time", "2026-13-01T00:00:00Z"])
def test_a_time_without_an_offset_or_not_a_time_is_refused(text):
    with pytest.raises(ValueError):
        parse_time(text)
