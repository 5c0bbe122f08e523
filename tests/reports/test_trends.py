"""The report's period, days and wards below target (reports.trends), on tiny documents."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from beatlight.reports.trends import (
    daily_boundaries,
    days,
    is_local_midnight,
    shortfalls,
    window_for,
)
from tests.reports.conftest import ZONE

pytestmark = pytest.mark.unit


def _doc(as_of: str, statuses: dict[str, str], window: str = "24h") -> dict:
    def figures(status: str) -> dict:
        minutes = {"green": 120.0, "amber": 70.0, "red": 10.0, "none": 0.0}[status]
        return {"status": status, "patrol_minutes": minutes, "foot_minutes": 0.0,
                "target_minutes": 85.7, "attainment": minutes / 85.7, "coverage": 0.5,
                "longest_gap_minutes": 600.0, "last_seen": None}  # fmt: skip

    wards = [{"code": c, "name": f"Ward {c}", "district": "D", "windows": {window: figures(s)}}
             for c, s in statuses.items()]  # fmt: skip
    force = {"code": "F", "name": "Force", "windows": {window: figures("green")}}
    return {"as_of": as_of, "wards": wards, "districts": [{"code": "D", "name": "Dale"}],
            "force": force, "fairness": {}, "accepted": 10}  # fmt: skip


@pytest.mark.parametrize(("days_", "window"), [(1, "24h"), (6, "24h"), (7, "7d"), (27, "7d"),
                                               (28, "28d"), (92, "28d")])  # fmt: skip
def test_the_headline_window_is_the_longest_that_fits_the_period(days_, window):
    assert window_for(days_) == window


def test_daily_boundaries_are_local_midnights_across_the_clock_change():
    # Clocks go forward at 01:00 UTC on 29 March 2026: that local midnight is 23:00 UTC.
    ends = daily_boundaries(datetime(2026, 3, 30, 12, tzinfo=UTC), 3, ZONE)
    assert ends == [datetime(2026, 3, 28, 0, tzinfo=UTC), datetime(2026, 3, 29, 0, tzinfo=UTC),
                    datetime(2026, 3, 29, 23, tzinfo=UTC)]  # fmt: skip
    assert all(is_local_midnight(int(e.timestamp() * 1e6), ZONE) for e in ends)
    assert not is_local_midnight(int(datetime(2026, 3, 30, 0, tzinfo=UTC).timestamp() * 1e6),
                                 ZONE)  # fmt: skip


def test_a_period_at_midnight_ends_with_that_midnight():
    ends = daily_boundaries(datetime(2026, 11, 9, tzinfo=UTC), 7, ZONE)
    assert ends[0] == datetime(2026, 11, 3, tzinfo=UTC)
    assert ends[-1] == datetime(2026, 11, 9, tzinfo=UTC)


@pytest.mark.parametrize("period", [0, 93])
def test_a_period_outside_1_to_92_days_is_refused(period):
    with pytest.raises(ValueError, match="1 to 92 days"):
        daily_boundaries(datetime(2026, 11, 9, tzinfo=UTC), period, ZONE)


def test_days_below_target_count_the_latest_run_and_the_whole_period():
    history = [
        _doc("2026-11-05T00:00:00Z", {"A": "red", "B": "green", "C": "amber"}),
        _doc("2026-11-06T00:00:00Z", {"A": "green", "B": "green", "C": "amber"}),
        _doc("2026-11-07T00:00:00Z", {"A": "red", "B": "green", "C": "none"}),
        _doc("2026-11-08T00:00:00Z", {"A": "amber", "B": "green", "C": "amber"}),
    ]
    as_of = datetime(2026, 11, 8, 6, tzinfo=UTC)
    period = days(history, as_of, 5, ZONE)  # 4 Nov has no document: no data
    assert [d.day for d in period][0] == date(2026, 11, 3) and period[0].force is None
    document = _doc("2026-11-08T06:00:00Z", {"A": "red", "B": "green", "C": "none"}, "7d")
    found = {s.code: s for s in shortfalls(document, period, "7d")}
    assert set(found) == {"A", "C"}  # B is on target
    assert (found["A"].days_in_a_row, found["A"].since) == (2, date(2026, 11, 6))
    assert (found["A"].days_below, found["A"].days_known) == (3, 4)
    assert (found["C"].days_in_a_row, found["C"].days_below) == (4, 4)
    assert [s.code for s in shortfalls(document, period, "7d")] == ["C", "A"]  # nobody seen first
    assert found["A"].district == "Dale"


def test_a_day_without_figures_breaks_a_run():
    history = [
        _doc("2026-11-06T00:00:00Z", {"A": "red"}),
        _doc("2026-11-08T00:00:00Z", {"A": "red"}),
    ]
    period = days(history, datetime(2026, 11, 8, tzinfo=UTC), 3, ZONE)
    (short,) = shortfalls(_doc("2026-11-08T00:00:00Z", {"A": "red"}, "7d"), period, "7d")
    assert (short.days_in_a_row, short.days_below, short.days_known) == (1, 2, 2)


def test_a_document_before_the_first_ping_is_no_data_not_nobody_seen():
    empty = _doc("2026-11-08T00:00:00Z", {"A": "none"}) | {"accepted": 0}
    (day,) = days([empty], datetime(2026, 11, 8, tzinfo=UTC), 1, ZONE)
    assert day.force is None and day.statuses is None
