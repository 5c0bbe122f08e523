"""Pacing a simulated feed by event time (``runtime.paced_feed.Pacer``), with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beatlight.errors import BeatlightError
from beatlight.runtime.paced_feed import Pacer, event_seconds

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 6, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that only moves when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _pacer(speed: float, anchor: datetime | None = None) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(speed, anchor, clock=clock, sleep=clock.sleep), clock


def test_real_time_pace_sleeps_until_each_event_is_due():
    pacer, clock = _pacer(1.0)
    t = T0.timestamp()
    for offset in (0, 30, 60, 61):
        pacer.wait(t + offset)
    assert clock.now == pytest.approx(161.0)
    assert clock.slept == pytest.approx([30, 30, 1])


def test_speed_n_compresses_time_n_fold():
    pacer, clock = _pacer(60.0)
    t = T0.timestamp()
    pacer.wait(t)
    pacer.wait(t + 3600)
    assert clock.now == pytest.approx(160.0)


def test_slow_sending_is_not_made_up_by_drifting_later():
    pacer, clock = _pacer(1.0)
    t = T0.timestamp()
    pacer.wait(t)
    clock.now += 50  # sending stalled for 50 s
    pacer.wait(t + 30)  # already overdue: no sleep
    assert clock.slept == [] and pacer.behind_s() == pytest.approx(20)
    pacer.wait(t + 60)  # the schedule is the anchor's, not the last event's
    assert clock.now == pytest.approx(160.0)


def test_late_and_out_of_order_events_go_out_at_once():
    pacer, clock = _pacer(1.0)
    t = T0.timestamp()
    pacer.wait(t + 10)
    pacer.wait(t)  # older than the feed clock
    pacer.wait(None)  # no readable time
    assert clock.now == 100.0 and pacer.feed_ts == t + 10


def test_the_anchor_is_the_simulation_start_not_the_first_event():
    pacer, clock = _pacer(1.0, anchor=T0)
    pacer.wait(T0.timestamp() + 120)  # nobody on duty for the first two minutes
    assert clock.now == pytest.approx(220.0)


def test_speed_zero_never_sleeps_but_tracks_the_feed_clock():
    pacer, clock = _pacer(0)
    pacer.wait(T0.timestamp() + 3600)
    assert clock.slept == [] and pacer.feed_ts == T0.timestamp() + 3600


def test_a_negative_speed_is_refused():
    with pytest.raises(BeatlightError, match="--speed"):
        Pacer(-1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T06:00:00Z", T0.timestamp()),
        ("2026-11-23T07:00:00+01:00", T0.timestamp()),
        ("2026-11-23T06:00:00", None),  # no offset: not an event time
        ("yesterday", None),
        (None, None),
        (1795392000, None),
    ],
)
def test_event_times_for_pacing(text, expected):
    assert event_seconds(text) == expected
