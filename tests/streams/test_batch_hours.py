"""One pass, many ``as_of``: ``batch_reports(hours=...)`` against ``batch_report`` per hour.

The PCC report's trends need the document at every local midnight of a period.
Each must equal ``beatlight report --as-of H`` on the same events, and the main
document must not change because hours were asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beatlight.configs import lane_config
from beatlight.streams.batch import batch_report, batch_reports
from beatlight.streams.events import parse_lines
from tests.streams.test_report_vs_oracle import NOW, _feed, _geography, assert_same

pytestmark = pytest.mark.unit

NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
HOUR_US = 3_600_000_000


def _batches(lines: list[str], size: int = 500) -> list:
    return [parse_lines(lines[i : i + size], max_event_bytes=8192)
            for i in range(0, len(lines), size)]  # fmt: skip


def _every_six_hours(hour_us: int) -> bool:
    return hour_us % (6 * HOUR_US) == 0


@pytest.mark.parametrize(("seed", "partitions"), [(1, 1), (2, 3)])
def test_each_chosen_hour_is_the_batch_report_as_of_that_hour(tmp_path, seed, partitions):
    wards, geography = _geography(tmp_path)
    lines = _feed(seed, wards.geometry.to_frame(), days=3, units=8)
    batches = _batches(lines)
    found = batch_reports(geography, batches, lane_config(), now_us=NOW_US,
                          partitions=partitions, hours=_every_six_hours)  # fmt: skip
    assert len(found.hours) >= 10
    assert all(_every_six_hours(h) for h in found.hours)
    assert max(found.hours) <= _us(found.document["as_of"])
    for hour, document in found.hours.items():
        expected = batch_report(geography, batches, lane_config(), now_us=NOW_US,
                                as_of_us=hour, partitions=partitions)  # fmt: skip
        got = dict(document)
        # An hour's rejections and duplicates are those counted when it was settled.
        for key in ("rejected", "duplicates"):
            got.pop(key), expected.pop(key)
        assert_same(got, expected)


@pytest.mark.parametrize("as_of", [None, "2026-11-02T13:30:00Z"])
def test_asking_for_hours_leaves_the_document_unchanged(tmp_path, as_of):
    wards, geography = _geography(tmp_path)
    lines = _feed(3, wards.geometry.to_frame(), days=2, units=6)
    batches = _batches(lines)
    as_of_us = None if as_of is None else _us(as_of)
    plain = batch_report(geography, batches, lane_config(), now_us=NOW_US, as_of_us=as_of_us)
    found = batch_reports(geography, batches, lane_config(), now_us=NOW_US, as_of_us=as_of_us,
                          hours=_every_six_hours)  # fmt: skip
    assert found.document == plain
    if as_of is not None:
        # Hours up to as_of only, the last of them too (settled or not by the file's end).
        assert max(found.hours) == _us("2026-11-02T12:00:00Z")


def test_keep_bounds_the_hours_held(tmp_path):
    wards, geography = _geography(tmp_path)
    lines = _feed(4, wards.geometry.to_frame(), days=3, units=5)
    found = batch_reports(geography, _batches(lines), lane_config(), now_us=NOW_US,
                          hours=_every_six_hours, keep_us=24 * HOUR_US)  # fmt: skip
    hours = sorted(found.hours)
    assert len(hours) == 5 and hours[-1] - hours[0] == 24 * HOUR_US


def _us(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.mark.parametrize("partitions", [1, 2])
def test_hours_past_the_longest_window_are_exact_after_old_runs_are_forgotten(tmp_path, partitions):
    """Five weeks: the aggregator forgets runs no later hour can reach (28 days back)."""
    wards, geography = _geography(tmp_path)
    lines = _feed(101, wards.geometry.to_frame(), days=35, units=2)
    batches = _batches(lines, size=400)

    def weekly(hour_us: int) -> bool:
        return hour_us % (7 * 24 * HOUR_US) == 0

    found = batch_reports(geography, batches, lane_config(), now_us=NOW_US,
                          partitions=partitions, hours=weekly)  # fmt: skip
    assert len(found.hours) >= 4
    late = [h for h in found.hours if h > _us("2026-11-30T00:00:00Z")]
    assert late
    for hour in late:
        expected = batch_report(geography, batches, lane_config(), now_us=NOW_US,
                                as_of_us=hour, partitions=partitions)  # fmt: skip
        got = dict(found.hours[hour])
        for key in ("rejected", "duplicates"):
            got.pop(key), expected.pop(key)
        assert_same(got, expected)
