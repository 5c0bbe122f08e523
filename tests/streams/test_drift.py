"""Which lanes a worker pauses for running ahead while it reads a backlog."""

from __future__ import annotations

import pytest

from streams.app import drift_pauses

pytestmark = pytest.mark.unit

H = 3_600_000_000  # an hour in microseconds
BATCHES = 8_000  # records behind that make a backlog


def pauses(marks, backlog, paused=frozenset(), limit_h=6):
    return drift_pauses(marks, backlog, set(paused), limit_us=limit_h * H,
                        backlog_records=BATCHES)  # fmt: skip


def test_lanes_over_the_limit_ahead_of_a_lane_with_a_backlog_pause():
    marks = {0: 100 * H, 1: 107 * H, 2: 106 * H, 3: 103 * H}
    assert pauses(marks, {0: 50_000, 1: 50_000, 2: 50_000, 3: 50_000}) == {1}


def test_a_slow_lane_without_a_backlog_pauses_nobody():
    # A live partition whose records bring no accepted pings: its watermark stays behind,
    # but it keeps up with its partition, so the others must go on.
    marks = {0: 100 * H, 1: 130 * H, 2: 131 * H}
    assert pauses(marks, {0: 20, 1: 50_000, 2: 0}) == set()


def test_the_slowest_lane_with_a_backlog_sets_the_pace():
    marks = {0: 90 * H, 1: 100 * H, 2: 108 * H, 3: 130 * H}
    assert pauses(marks, {0: 0, 1: 9_000, 2: 50_000, 3: 50_000}) == {2, 3}


def test_a_paused_lane_resumes_only_within_half_the_limit():
    marks = {0: 100 * H, 1: 104 * H}
    backlog = {0: 50_000, 1: 50_000}
    assert pauses(marks, backlog, paused={1}) == {1}  # 4 h ahead: over half of 6 h
    assert pauses({0: 101 * H + 1, 1: 104 * H}, backlog, paused={1}) == set()
    assert pauses(marks, backlog) == set()  # not paused yet: 4 h is within the limit


def test_no_limit_pauses_nothing_and_lanes_without_a_watermark_are_never_paused():
    marks = {0: 100 * H, 1: 200 * H}
    assert pauses(marks, {0: 50_000, 1: 50_000}, limit_h=0) == set()
    assert pauses({1: 200 * H}, {0: 50_000, 1: 50_000}) == set()
