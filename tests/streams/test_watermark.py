"""The watermark that wrong clocks cannot drag forward (SPEC "Event time, order and lateness").

Of the n units a lane has heard from within the allowed lateness, max(n // 20, 1) may
run ahead by any amount without a single ping of another unit becoming ``too_late``;
the watermark is the next latest unit's latest ping. A lane with one unit follows it.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatlight.streams.events import ValidEvents
from beatlight.streams.intake import Intake, watermark_rank
from tests.streams.fixtures import valid_events

pytestmark = pytest.mark.unit

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US


def pings(rows: list[tuple[str, int]], prefix: str = "e") -> ValidEvents:
    """Valid events with these (unit, ts_us), ids numbered in order."""
    return valid_events([(f"{prefix}{i}", unit, t) for i, (unit, t) in enumerate(rows)])


def patrol(units: int, minutes: int, *, fast: dict[str, int] | None = None) -> list:
    """Every unit pings once a minute, in arrival order; ``fast`` units' clocks run ahead
    from the second minute (after the lane has heard from every unit once)."""
    fast = fast or {}
    rows = []
    for minute in range(minutes):
        for u in range(units):
            unit = f"u{u}"
            ahead = fast.get(unit, 0) if minute else 0
            rows.append((unit, minute * MINUTE_US + u * 1000 + ahead))
    return rows


def test_the_rank_lets_five_percent_and_always_one_unit_run_ahead():
    assert [watermark_rank(n) for n in (1, 2, 3, 20, 39, 40, 59, 60, 300)] == [
        1, 2, 2, 2, 2, 3, 3, 4, 16,
    ]  # fmt: skip


def test_one_clock_two_days_fast_makes_no_other_ping_too_late():
    intake = Intake(HOUR_US)
    admission = intake.admit(pings(patrol(25, 180, fast={"u7": 2 * DAY_US})))
    assert admission.accepted.all()
    assert intake.watermark_us < 180 * MINUTE_US  # the others' time, not u7's
    assert intake.units_ahead == 1
    assert intake.ahead == 179  # every ping of u7 but its first was counted as ahead
    assert intake.furthest_ahead_us > 2 * DAY_US - 2 * MINUTE_US


def test_five_percent_of_recent_units_may_run_ahead_but_not_more():
    fast = {f"u{39 - i}": (i + 1) * DAY_US for i in range(2)}
    intake = Intake(HOUR_US)
    assert intake.admit(pings(patrol(40, 90, fast=fast))).accepted.all()
    assert intake.units_ahead == 2
    # A third fast clock among 40 units is one too many: it drags the watermark along.
    fast["u37"] = 3 * DAY_US
    dragged = Intake(HOUR_US)
    admission = dragged.admit(pings(patrol(40, 90, fast=fast)))
    assert not admission.accepted.all()


def test_a_lane_with_one_unit_follows_it_and_judges_its_late_pings():
    intake = Intake(HOUR_US)
    rows = [("u", m * MINUTE_US) for m in range(120)] + [("u", 10 * MINUTE_US)]
    admission = intake.admit(pings(rows))
    assert intake.watermark_us == 119 * MINUTE_US
    assert admission.accepted[:120].all() and not admission.accepted[120]


def test_a_clock_that_comes_back_is_not_late_and_the_watermark_never_moves_back():
    rows = patrol(10, 30, fast={"u3": 2 * DAY_US}) + patrol(10, 60)[300:]
    intake = Intake(HOUR_US)
    marks = []
    for start in range(0, len(rows), 7):
        batch = pings(rows[start : start + 7], prefix=f"b{start}-")
        assert intake.admit(batch).accepted.all()
        marks.append(intake.watermark_us)
    assert marks == sorted(marks)


def test_units_not_heard_from_within_the_lateness_no_longer_count():
    intake = Intake(HOUR_US)
    # 40 units in the first hour, then only 2 pinging for four more hours: once their
    # pings fill the recent window, the watermark follows the two (the second latest).
    rows = patrol(40, 60) + [(f"u{u}", 60 * MINUTE_US + m * MINUTE_US + u)
                             for m in range(240) for u in range(2)]  # fmt: skip
    intake.admit(pings(rows))
    assert intake.watermark_us == 299 * MINUTE_US


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), units=st.integers(1, 60), batch=st.integers(1, 50))
def test_no_ping_of_a_unit_with_a_right_clock_is_late_in_an_ordered_feed(seed, units, batch):
    """Clocks ahead among at most the allowed share of units: every other ping counts."""
    rng = random.Random(seed)
    allowed = max(units // 20, 1) if units > 1 else 0
    fast = {f"u{u}": rng.randint(1, 72) * HOUR_US for u in rng.sample(range(units), allowed)}
    rows = patrol(units, 20, fast=fast)
    intake = Intake(HOUR_US)
    accepted = np.concatenate([
        intake.admit(pings(rows[i : i + batch], prefix=f"{i}-")).accepted
        for i in range(0, len(rows), batch)
    ])  # fmt: skip
    right = np.array([unit not in fast for unit, _ in rows])
    assert accepted[right].all()


def test_state_round_trips_through_a_checkpoint():
    intake = Intake(HOUR_US)
    intake.admit(pings(patrol(25, 30, fast={"u1": DAY_US})))
    again = Intake.from_state(HOUR_US, intake.state())
    later = pings(patrol(25, 40)[25 * 30 :], prefix="later")
    assert (again.admit(later).accepted == intake.admit(pings(patrol(25, 40)[25 * 30 :],
            prefix="later")).accepted).all()  # fmt: skip
    assert again.watermark_us == intake.watermark_us and again.units_ahead == intake.units_ahead
