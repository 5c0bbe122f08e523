"""The demo's parts without the services: its pacing, its plan and its folder."""

from __future__ import annotations

import os
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from beatlight.demo import MARKER, ZONES, DemoOptions, _plan, _reset, demo_zones_file
from beatlight.demo_feed import Feed, FeedPlan, default_history_start, due
from beatlight.errors import BeatlightError
from beatlight.settings import Settings

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 23, 16, 25, tzinfo=UTC)


# -- pacing ---------------------------------------------------------------------------------


def test_history_before_live_from_is_due_at_once():
    anchor = NOW.timestamp()
    live_from = anchor - 900
    for ts in (live_from - 86_400, live_from - 1):
        assert due(ts, live_from=live_from, anchor=anchor, speed=10) < anchor


def test_catch_up_runs_at_speed_until_it_meets_the_wall_clock():
    anchor = NOW.timestamp()
    live_from = anchor - 900  # 15 minutes behind: caught up after 900 / 9 = 100 s
    assert due(live_from, live_from=live_from, anchor=anchor, speed=10) == anchor
    assert due(live_from + 500, live_from=live_from, anchor=anchor, speed=10) == anchor + 50
    meet = live_from + 1000
    assert due(meet, live_from=live_from, anchor=anchor, speed=10) == pytest.approx(anchor + 100)
    # After that, real time: each event at its own time.
    later = anchor + 3600
    assert due(later, live_from=live_from, anchor=anchor, speed=10) == later


def test_no_event_is_ever_due_before_its_own_time():
    anchor = NOW.timestamp()
    for behind in (0, 60, 900, 7200):
        for speed in (1.5, 10, 1000):
            for step in range(0, 20_000, 250):
                ts = anchor - behind + step
                assert due(ts, live_from=anchor - behind, anchor=anchor, speed=speed) >= ts


# -- the plan -------------------------------------------------------------------------------


def test_default_history_starts_a_day_before_the_latest_settled_midnight():
    settle = timedelta(hours=1, minutes=25)
    start = default_history_start(NOW, LONDON, settled_after=settle)
    assert start == datetime(2026, 11, 22, tzinfo=UTC)  # GMT in November
    # Just after midnight, the day that just ended is not settled yet: one more day back.
    early = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert default_history_start(early, LONDON, settled_after=settle) == datetime(
        2026, 11, 21, tzinfo=UTC
    )


def test_default_history_follows_local_midnight_in_summer():
    summer = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
    start = default_history_start(summer, LONDON, settled_after=timedelta(hours=2))
    assert start == datetime(2026, 7, 8, 23, 0, tzinfo=UTC)  # midnight BST


def test_plan_sends_history_then_catches_up_the_last_minutes():
    options = DemoOptions(catch_up_minutes=15, speed=10)
    plan = _plan(options, Settings(_env_file=None), NOW)
    assert plan.live_from == NOW - timedelta(minutes=15)
    assert plan.start == datetime(2026, 11, 22, tzinfo=UTC)
    short = _plan(DemoOptions(history_hours=2, catch_up_minutes=15), Settings(_env_file=None), NOW)
    assert short.start == NOW - timedelta(hours=2)
    none = _plan(DemoOptions(history_hours=0, catch_up_minutes=15), Settings(_env_file=None), NOW)
    assert none.start == none.live_from


# -- the feed -------------------------------------------------------------------------------


class FakeProducer:
    """Records what the feed sends, and when by its clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, object]] = []
        self.rejected: Counter[str] = Counter()
        self.closed = False

    def send(self, event: dict) -> None:
        self.sent.append((self.clock(), event))

    def send_line(self, line: str) -> None:
        self.sent.append((self.clock(), line))

    def flush(self, timeout_s: float | None = None) -> None:
        pass

    def close(self, timeout_s: float = 30) -> None:
        self.closed = True


class FakeClock:
    """Wall-clock seconds that move only when the feed waits."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeStop(threading.Event):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.now += timeout or 0.0
        return self.is_set()


def _event(ts: float, n: int) -> dict:
    moment = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"event_id": f"e{n}", "unit": "u", "ts": moment, "lat": 53.0, "lon": -2.2}


def test_feed_sends_history_waits_for_the_worker_then_paces():
    clock = FakeClock(NOW.timestamp())
    live_from = NOW - timedelta(minutes=10)
    times = [live_from.timestamp() - 3600 + 60 * i for i in range(60)]  # an hour of history
    times += [live_from.timestamp() + 60 * i for i in range(40)]  # 10 minutes behind, then on
    events = [_event(t, i) for i, t in enumerate(times)] + ["{truncated"]
    producer, stop = FakeProducer(clock), FakeStop(clock)
    asked: list[float] = []

    def processed() -> int:
        asked.append(clock())
        return 60 if len(asked) > 2 else 10  # the worker catches up on the third look

    feed = Feed(events, producer, FeedPlan(NOW - timedelta(hours=2), live_from, 5.0), processed,
                stop, clock=clock)  # fmt: skip
    feed.run()
    assert feed.error is None and producer.closed
    assert feed.sent == len(events) and feed.history_events == 60
    assert feed.phase == "ended"
    sent_at = [at for at, _ in producer.sent]
    assert all(at == NOW.timestamp() for at in sent_at[:60])  # history at once
    anchor = asked[-1]
    assert sent_at[60] == anchor  # pacing starts once the worker has the history
    for at, ts in zip(sent_at[60:100], times[60:], strict=True):
        assert at >= ts  # never from the future
        assert at == pytest.approx(max(anchor + (ts - live_from.timestamp()) / 5, ts))
    assert producer.sent[-1][1] == "{truncated"  # the producer dead-letters broken lines


def test_feed_stops_when_asked_and_goes_on_past_a_stalled_worker():
    clock = FakeClock(NOW.timestamp())
    live_from = NOW - timedelta(minutes=1)
    events = [_event(live_from.timestamp() - 10, 0), _event(NOW.timestamp() + 600, 1)]
    producer, stop = FakeProducer(clock), FakeStop(clock)
    feed = Feed(events, producer, FeedPlan(live_from, live_from, 10), lambda: None, stop,
                stall_s=5, clock=clock)  # fmt: skip
    original_wait = stop.wait

    def wait(timeout: float | None = None) -> bool:
        if (timeout or 0) > 60:  # the live event is 10 minutes away: Ctrl-C meanwhile
            stop.set()
        return original_wait(timeout)

    stop.wait = wait  # type: ignore[method-assign]
    feed.run()
    assert feed.sent == 1 and producer.closed  # the history, then stopped while pacing


def test_feed_does_not_wait_for_lines_the_producer_dead_lettered_itself():
    clock = FakeClock(NOW.timestamp())
    live_from = NOW - timedelta(minutes=1)
    history = [
        _event(live_from.timestamp() - 60, 0),
        "{truncated",
        _event(live_from.timestamp() - 30, 1),
    ]

    class DeadLettering(FakeProducer):
        def send_line(self, line: str) -> None:  # as PresenceProducer does with a broken line
            self.rejected["malformed_json"] += 1

    producer, stop = DeadLettering(clock), FakeStop(clock)
    feed = Feed(history, producer, FeedPlan(live_from - timedelta(hours=1), live_from, 10),
                lambda: 2, stop, stall_s=600, clock=clock)  # fmt: skip
    feed.run()
    assert feed.error is None and feed.history_events == 3
    assert clock() - NOW.timestamp() < 600  # the worker had all it will get: no stall


# -- the folder -----------------------------------------------------------------------------


def test_the_demo_folder_is_emptied_and_marked(tmp_path):
    folder = tmp_path / "demo"
    _reset(folder)
    (folder / "worker.log").write_text("old")
    (folder / MARKER).write_text("999999999\n")  # a demo that has stopped
    _reset(folder)
    assert sorted(p.name for p in folder.iterdir()) == [MARKER]
    assert (folder / MARKER).read_text().strip() == str(os.getpid())


def test_a_folder_that_is_not_the_demos_is_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(BeatlightError, match="not a demo folder"):
        _reset(tmp_path)
    assert (tmp_path / "thesis.tex").exists()


def test_the_batch_demos_old_folder_is_taken_over(tmp_path):
    for name in ("events.ndjson", "report.json"):
        (tmp_path / name).write_text("{}")
    _reset(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER]


# -- the zones ------------------------------------------------------------------------------


def test_the_demo_writes_its_own_zones_for_the_synthetic_wards(tmp_path):
    from beatlight.cli.places import geography_for

    geography = geography_for(Settings(_env_file=None))
    written = demo_zones_file(DemoOptions(), geography, tmp_path)
    assert written == tmp_path / ZONES and written.is_file()
    assert demo_zones_file(DemoOptions(no_zones=True), geography, tmp_path / "x") is None
    own = tmp_path / "own.geojson"
    assert demo_zones_file(DemoOptions(zones=own), geography, tmp_path / "y") == own.resolve()
