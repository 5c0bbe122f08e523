"""Times in the report document: one NumPy call per snapshot, the same text as one at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatlight.streams.report import _NONE, format_ts, format_ts_array
from tests.oracle import format_ts as oracle_format_ts

pytestmark = pytest.mark.unit

#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in µs since the epoch.
_FIRST, _LAST = -62_135_596_800_000_000, 253_402_300_799_999_999


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(_FIRST, _LAST),
            st.integers(_FIRST // 1_000_000, _LAST // 1_000_000).map(lambda s: s * 1_000_000),
            st.just(int(_NONE)),
        ),
        max_size=50,
    )
)
def test_array_formatting_equals_one_at_a_time(stamps):
    got = format_ts_array(np.array(stamps, dtype=np.int64))
    assert got == [None if us == _NONE else format_ts(us) for us in stamps]
    assert got == [None if us == _NONE else oracle_format_ts(us) for us in stamps]


def test_whole_seconds_have_no_fraction_and_others_all_six_digits():
    year_1000 = (datetime(1000, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    stamps = np.array([0, 1, 1_764_000_000_100_000, -1, year_1000 - 1, _NONE], dtype=np.int64)
    expected = [
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00.000001Z",
        "2025-11-24T16:00:00.100000Z",
        "1969-12-31T23:59:59.999999Z",
        "0999-12-31T23:59:59.999999Z",  # four digits, as RFC 3339 wants (strftime wrote "999")
        None,
    ]
    assert format_ts_array(stamps) == expected
    assert [None if us == _NONE else format_ts(us) for us in stamps.tolist()] == expected
