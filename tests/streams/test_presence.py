"""Worked examples that pin the SPEC's metric rules on the presence model itself."""

from __future__ import annotations

import numpy as np
import pytest

from beatlight.configs import model_params
from beatlight.streams.presence import PresenceLane
from tests.streams.fixtures import Ping, S, add_pings, as_of_us, run, tiny_areas

pytestmark = pytest.mark.unit

A, B, C = 0, 1, 2
N1, N2 = 3, 4
D1, FORCE = 5, 6
HOUR = 3600


def day(fig, name="24h"):
    return fig[name]


def test_areas_are_wards_then_rollups():
    areas = tiny_areas()
    assert list(areas.code) == ["A", "B", "C", "N1", "N2", "D1", "force"]
    assert list(areas.level) == ["ward"] * 3 + ["neighbourhood"] * 2 + ["district", "force"]
    assert areas.target_minutes_per_week[N1] == 1200.0  # rule 11: sum of its wards' targets
    assert list(areas.cell_count) == [4, 5, 4, 8, 4, 12, 12]  # shared cell 3 counted once


def test_two_pings_in_one_slot_are_one_minute():
    _, fig = run([Ping("u", 10, A), Ping("u", 50, A)], as_of=HOUR)
    f = day(fig)
    assert f.patrol_minutes[A] == 1.0
    assert f.unit_minutes[A] == 1.0
    assert f.visits[A] == 1


def test_gap_of_exactly_G_is_filled():
    _, fig = run([Ping("u", 0, A), Ping("u", 300, A)], as_of=HOUR)
    assert day(fig).patrol_minutes[A] == 6.0  # slots 0..5


def test_gap_of_G_plus_one_second_is_not_filled():
    _, fig = run([Ping("u", 0, A), Ping("u", 301, A)], as_of=HOUR)
    assert day(fig).patrol_minutes[A] == 2.0
    assert day(fig).visits[A] == 2


def test_ping_elsewhere_between_breaks_the_pair():
    # Rule 2: consecutive in the unit's time order, "wherever it was".
    _, fig = run([Ping("u", 0, A), Ping("u", 100, -1), Ping("u", 200, A)], as_of=HOUR)
    assert day(fig).patrol_minutes[A] == 2.0


def test_pair_in_different_wards_fills_neither():
    _, fig = run([Ping("u", 0, A), Ping("u", 240, B)], as_of=HOUR)
    f = day(fig)
    assert (f.patrol_minutes[A], f.patrol_minutes[B]) == (1.0, 1.0)
    assert f.patrol_minutes[N1] == 2.0  # the roll-up uses the wards' unit-slots, no new fill


def test_mode_is_that_of_the_earliest_ping_in_the_slot():
    _, fig = run([Ping("u", 5, A, "vehicle"), Ping("u", 30, A, "foot")], as_of=HOUR)
    assert day(fig).foot_minutes[A] == 0.0
    _, fig = run([Ping("u", 5, A, "foot"), Ping("u", 30, A, "vehicle")], as_of=HOUR)
    assert day(fig).foot_minutes[A] == 1.0


def test_equal_times_break_ties_by_event_id():
    pings = [Ping("u", 5, A, "vehicle", event_id="b"), Ping("u", 5, A, "foot", event_id="a")]
    _, fig = run(pings, as_of=HOUR)
    assert day(fig).foot_minutes[A] == 1.0


def test_gap_filled_slot_takes_the_earlier_pings_mode():
    _, fig = run([Ping("u", 0, A, "foot"), Ping("u", 240, A, "vehicle")], as_of=HOUR)
    f = day(fig)
    assert f.patrol_minutes[A] == 5.0
    assert f.foot_minutes[A] == 4.0  # slots 0-3 foot, slot 4 vehicle


def test_unit_in_two_wards_of_a_neighbourhood_counts_once():
    _, fig = run([Ping("u", 10, A), Ping("u", 20, B)], as_of=HOUR)
    f = day(fig)
    assert f.unit_minutes[A] == f.unit_minutes[B] == 1.0
    assert f.unit_minutes[N1] == 1.0
    assert f.patrol_minutes[N1] == 1.0
    assert f.distinct_units[N1] == 1
    assert f.visits[N1] == 1


def test_two_units_together_count_twice_in_unit_minutes_only():
    _, fig = run([Ping("u", 10, A), Ping("v", 20, A)], as_of=HOUR)
    f = day(fig)
    assert f.patrol_minutes[A] == 1.0
    assert f.unit_minutes[A] == 2.0
    assert f.distinct_units[A] == 2


def test_event_at_as_of_is_ignored_and_breaks_no_fill():
    pings = [Ping("u", HOUR - 200, A), Ping("u", HOUR, A)]
    partial, fig = run(pings, as_of=HOUR)
    assert day(fig).patrol_minutes[A] == 1.0
    assert partial.accepted == 1


def test_pair_completed_after_as_of_does_not_fill_before_it():
    pings = [Ping("u", HOUR - 250, A), Ping("u", HOUR + 10, A)]
    _, fig = run(pings, as_of=HOUR)
    assert day(fig).patrol_minutes[A] == 1.0


def test_koper_visit_needs_K_minutes():
    ten = [Ping("u", 30 + 60 * i, A) for i in range(10)]
    nine = [Ping("v", 30 + 60 * i, B) for i in range(9)]
    _, fig = run(ten + nine, as_of=HOUR)
    f = day(fig)
    assert (f.visits[A], f.koper_visits[A]) == (1, 1)
    assert (f.visits[B], f.koper_visits[B]) == (1, 0)
    assert (f.visits[N1], f.koper_visits[N1]) == (2, 1)


def test_visit_belongs_to_the_window_of_its_first_slot():
    # A run from 20 minutes before the hour window into it counts in 24h, not in 1h.
    pings = [Ping("u", 2 * HOUR - 1200 + 60 * i, A) for i in range(40)]
    _, fig = run(pings, as_of=3 * HOUR)
    assert fig["1h"].visits[A] == 0
    assert fig["24h"].visits[A] == 1
    assert fig["1h"].unit_minutes[A] == 20.0


def test_longest_gap_is_the_whole_window_without_presence():
    _, fig = run([Ping("u", 10, A)], as_of=2 * HOUR)
    assert fig["1h"].longest_gap_minutes[C] == 60.0
    assert fig["1h"].longest_gap_minutes[A] == 60.0
    assert fig["24h"].longest_gap_minutes[A] == 24 * 60 - 2 * 60  # window starts a day back
    assert fig["1h"].status[A] == "none"


def test_longest_gap_between_runs_and_at_the_edges():
    pings = [Ping("u", HOUR + 600, A), Ping("u", HOUR + 3000, A)]
    _, fig = run(pings, as_of=2 * HOUR)
    assert fig["1h"].longest_gap_minutes[A] == 39.0  # slots 11..49


def test_coverage_counts_cells_of_the_area_with_a_ping_of_the_area():
    pings = [Ping("u", 10, A, cell=0), Ping("u", 20, A, cell=3), Ping("v", 30, B, cell=4)]
    _, fig = run(pings, as_of=HOUR)
    f = day(fig)
    assert f.coverage[A] == pytest.approx(2 / 4)
    assert f.coverage[B] == pytest.approx(1 / 5)  # cell 3 is B's too, but the ping was A's
    assert f.coverage[N1] == pytest.approx(3 / 8)
    assert f.coverage[FORCE] == pytest.approx(3 / 12)


def test_last_seen_is_the_latest_ping_in_the_window():
    partial, fig = run([Ping("u", 10, A), Ping("u", 70.5, A)], as_of=HOUR)
    assert day(fig).last_seen_us[A] == as_of_us(70.5)
    assert day(fig).last_seen_us[FORCE] == as_of_us(70.5)
    assert day(fig).last_seen_us[C] == np.iinfo(np.int64).min


def test_attainment_and_status_follow_the_weekly_target_pro_rata():
    # 24h target for A = 600 / 7 minutes; 90 minutes of presence → attainment 1.05 → green.
    pings = [Ping("u", 30 + 60 * i, A) for i in range(90)]
    _, fig = run(pings, as_of=2 * HOUR)
    f = day(fig)
    assert f.target_minutes[A] == pytest.approx(600 / 7)
    assert f.attainment[A] == pytest.approx(90 / (600 / 7))
    assert f.status[A] == "green"
    assert f.status[C] == "none"


def test_outside_pings_are_counted_not_placed():
    partial, fig = run([Ping("u", 10, -1), Ping("u", 20, A)], as_of=HOUR)
    assert partial.outside == 1
    assert partial.accepted == 2
    assert day(fig).patrol_minutes[FORCE] == 1.0


def test_finalised_state_gives_the_same_figures_as_one_pass():
    pings = [
        Ping(
            f"u{k}",
            45 * i + 7 * k,
            (i // 7 + k) % 3 - (i % 11 == 0),
            "foot" if k else "vehicle",
            cell=(i + k) % 12,
        )
        for k in range(3)
        for i in range(400)
    ]
    params = model_params()
    areas = tiny_areas()
    whole = PresenceLane(areas, params)
    add_pings(whole, pings)
    stepwise = PresenceLane(areas, params)
    ordered = sorted(pings, key=lambda p: p.t)
    for start in range(0, len(ordered), 50):
        add_pings(stepwise, ordered[start : start + 50], offset=0)
        latest = ordered[min(start + 49, len(ordered) - 1)].t
        stepwise.finalise(as_of_us(latest - 3600 - 300))
        stepwise.expire(as_of_us(latest - 3600 - 28 * 86400 - S))
    # event ids must match between the two runs
    as_of = 45 * 400 + 60
    a, b = whole.partial(as_of_us(as_of)), stepwise.partial(as_of_us(as_of))
    for name in ("unit_slots", "distinct_units", "visits", "koper_visits"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for x, y in zip(a.present, b.present, strict=True):
        assert np.array_equal(x, y)
    assert np.array_equal(a.covered, b.covered)
    assert all(np.array_equal(x, y) for x, y in zip(a.stray, b.stray, strict=True))
    assert (a.outside, a.accepted) == (b.outside, b.accepted)


def test_adding_a_ping_older_than_the_finalised_horizon_is_refused():
    lane = PresenceLane(tiny_areas(), model_params())
    add_pings(lane, [Ping("u", 10 * HOUR, A)])
    lane.finalise(as_of_us(9 * HOUR))
    with pytest.raises(ValueError, match="finalised horizon"):
        add_pings(lane, [Ping("u", HOUR, A)])
