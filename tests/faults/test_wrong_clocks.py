"""Devices whose clocks run hours or days ahead cost no other unit's pings.

A simulated feed as a real one delivers it (``tests/feeds.py``): times jittered by up to
90 s, 2 % of events sent again up to three hours later, and two devices in different
partitions whose clocks ran ahead for part of their shift, one by two days and one by six
hours. Replayed in that order (as it arrived) into four partitions, the stream rejects no
other unit's ping as ``too_late``, and every settled hour equals ``beatlight report`` on
the same file, which is a complete record. The worker counts the pings ahead and says in
its log which partition has a clock ahead, never which unit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.streams.partitioning import partition_of
from beatlight.streams.simulate import SimulationConfig, simulate_annotated
from tests.faults.workers import Worker
from tests.feeds import FastClock, alone_at_the_end, real_feed
from tests.streams.e2e_support import (
    PARTITIONS,
    START,
    expected,
    replay_lines,
    same_figures,
    wait_for_hour,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HOURS = 7
DAY = START + timedelta(hours=8)  # a day shift: most units out
LATENESS_US = lane_config().lateness_us


def _clean(geography, units: int, seed: int) -> list[dict]:  # noqa: ANN001
    """A clean simulated feed (its own faults off: tests/feeds.py adds a real feed's)."""
    config = SimulationConfig(seed=seed, start=DAY, duration=timedelta(hours=HOURS), units=units)
    return [item for item, faults in simulate_annotated(geography.wards, config)
            if not faults and isinstance(item, dict)]  # fmt: skip


def _replayed(kafka, wards_file, tmp_path, lines: list[bytes]) -> tuple[Path, Worker]:  # noqa: ANN001
    """The lines as a file, replayed in their order (as delivered), and a worker on them."""
    feed = tmp_path / "feed.ndjson"
    feed.write_bytes(b"".join(line + b"\n" for line in lines))
    replay_lines(kafka, lines)
    return feed, Worker.start(kafka, wards_file, tmp_path / "worker.log")


def _settled_hours(kafka: str, worker: Worker) -> Iterator[tuple[datetime, dict]]:
    """The stream's snapshot of each hour from 1 to HOURS - 2 into the day, once whole."""
    for h in range(1, HOURS - 1):
        hour = DAY + timedelta(hours=h)
        yield hour, wait_for_hour(kafka, hour, 120, [worker.process])


def test_clocks_days_ahead_make_no_other_ping_late_and_hours_equal_the_report(
    kafka, geography, wards_file, tmp_path, fault_seed
):
    at = [DAY + timedelta(hours=h) for h in range(HOURS)]
    # The first simulation from the seed on in which two partitions each have three units
    # or more out from 02:00 to 06:00: the unit most out in each gets the fast clock, and
    # the others in its partition are the pings it must not make late.
    for seed in range(fault_seed % 1000, fault_seed % 1000 + 50):
        events = _clean(geography, 40, seed)
        members: dict[int, set[str]] = {}
        busy = Counter(e["unit"] for e in events
                       if at[2] <= datetime.fromisoformat(e["ts"]) < at[6])  # fmt: skip
        for unit in busy:
            members.setdefault(partition_of(unit, PARTITIONS), set()).add(unit)
        crowded = sorted(members, key=lambda p: -len(members[p]))[:2]
        if all(len(members[p]) >= 3 for p in crowded):
            break
    else:
        pytest.fail(f"no simulation from seed {fault_seed % 1000} on has two crowded partitions")
    units = sorted({e["unit"] for e in events})
    first, second = (max(members[p], key=busy.__getitem__) for p in crowded)
    fast = [FastClock(first, timedelta(days=2), at[2], at[5]),
            FastClock(second, timedelta(hours=6), at[3], at[6])]  # fmt: skip
    feed, worker = _replayed(kafka, wards_file, tmp_path, real_feed(events, seed=fault_seed,
                                                                    fast=fast))  # fmt: skip
    try:
        for hour, stream in _settled_hours(kafka, worker):
            record = expected(geography, feed, hour, partitions=None)
            same_figures(stream, record)
            # What the stream decided, event by event: no original ping was late (only
            # copies re-sent over an hour after their first), so the same figures.
            as_received = expected(geography, feed, hour)
            assert as_received["accepted"] == record["accepted"], hour
            same_figures(as_received, record)
        metrics = worker.metrics()
    finally:
        assert worker.stop() == 0, worker.tail()
    ahead = {k: v for k, v in metrics.items() if k.startswith("beatlight_pings_ahead_total")}
    partitions = {str(partition_of(c.unit, PARTITIONS)) for c in fast}
    assert {re.search(r'partition="(\d+)"', k)[1] for k, v in ahead.items() if v > 0} == partitions
    log = worker.log.read_text()
    named = set(re.findall(r"partition (\d+): 1 unit\(s\) with clocks running", log))
    assert named == partitions, log[-3000:]
    assert not any(unit in log for unit in units)  # pseudonyms stay in the worker


def test_a_unit_alone_in_its_partition_still_settles_its_hours(
    kafka, geography, wards_file, tmp_path, fault_seed
):
    # Only the lone unit's partition carries pings in the last hours: it settles them.
    events, solo = alone_at_the_end(_clean(geography, 40, fault_seed % 1000 + 1), PARTITIONS,
                                    quiet_from=DAY + timedelta(hours=4))  # fmt: skip
    last_settled = DAY + timedelta(hours=HOURS - 2) + timedelta(microseconds=LATENESS_US)
    assert max(datetime.fromisoformat(e["ts"]) for e in events if e["unit"] == solo) >= last_settled
    feed, worker = _replayed(kafka, wards_file, tmp_path, [orjson.dumps(e) for e in events])
    try:
        for hour, stream in _settled_hours(kafka, worker):
            same_figures(stream, expected(geography, feed, hour, partitions=None))
    finally:
        assert worker.stop() == 0, worker.tail()
