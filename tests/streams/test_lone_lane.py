"""A unit alone in its partition, the only one out at the end, settles the last hours.

The other partitions go quiet and their lanes vouch for the hours the lone lane settles
(docs/architecture.md, "Idle lanes"). Lanes run as the workers run them
(:class:`beatlight.streams.runner.LaneRunner`, records in offset order) and feed the
aggregator through the wire, with no broker: the fast form of
``tests/faults/test_wrong_clocks.py::test_a_unit_alone_in_its_partition_still_settles_its_hours``,
on the feeds of seeds that once left no unit out at the end (no lane could settle them).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.streams.aggregate import Aggregator
from beatlight.streams.partitioning import partition_of
from beatlight.streams.runner import LaneRunner, Record, first_publication_us
from beatlight.streams.simulate import SimulationConfig, simulate_annotated
from beatlight.streams.wire import decode
from tests.feeds import alone_at_the_end
from tests.streams.e2e_support import PARTITIONS, START, expected, same_figures

pytestmark = pytest.mark.unit

DAY = START + timedelta(hours=8)
NOW_US = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000


@pytest.fixture(scope="module")
def geography(tmp_path_factory: pytest.TempPathFactory) -> Geography:
    return load_geography(write_synthetic(tmp_path_factory.mktemp("wards") / "wards.geojson"))


def _stream(geography: Geography, events: list[dict]) -> dict[int, dict]:
    """The hour documents lanes and aggregator publish for ``events`` in order, once the
    quiet lanes, caught up, vouch for what the busiest lane settled (as a worker's do)."""
    config = lane_config()
    runners = [LaneRunner(p, geography, config, max_event_bytes=8192) for p in range(PARTITIONS)]
    aggregator = Aggregator(geography.areas, config, PARTITIONS)
    by_lane: dict[int, list[bytes]] = defaultdict(list)
    for event in events:
        by_lane[partition_of(event["unit"], PARTITIONS)].append(orjson.dumps(event))
    messages = []
    for partition, lines in sorted(by_lane.items()):
        runner = runners[partition]
        for start in range(0, len(lines), 200):
            records = [Record(runner.next_offset + i, line)
                       for i, line in enumerate(lines[start : start + 200])]  # fmt: skip
            messages += runner.process(records, now_us=NOW_US).partials
    latest = max(r.lane.intake.watermark_us for r in runners if r.lane.intake.has_watermark)
    for runner in runners:
        runner.caught_up = True
        messages += runner.provisional_ticks(latest - first_publication_us(config.lateness_us))
    published = {}
    for message in messages:
        for snapshot in aggregator.receive(decode(message), NOW_US):
            published[snapshot.as_of_us] = snapshot.document
    return published


@pytest.mark.parametrize("seed", [830, 630])
def test_the_lone_unit_out_at_the_end_settles_the_last_hours(
    geography: Geography, tmp_path: Path, seed: int
) -> None:
    config = SimulationConfig(seed=seed, start=DAY, duration=timedelta(hours=7), units=40)
    clean = [item for item, faults in simulate_annotated(geography.wards, config)
             if not faults and isinstance(item, dict)]  # fmt: skip
    events, solo = alone_at_the_end(clean, PARTITIONS, quiet_from=DAY + timedelta(hours=4))
    assert {partition_of(e["unit"], PARTITIONS) for e in events if e["unit"] != solo} == (
        set(range(PARTITIONS)) - {partition_of(solo, PARTITIONS)}
    )
    feed = tmp_path / "feed.ndjson"
    feed.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    published = _stream(geography, events)
    for h in range(1, 6):
        hour = DAY + timedelta(hours=h)
        hour_us = int(hour.timestamp()) * 1_000_000
        assert hour_us in published, f"{hour:%H:%M} not published"
        same_figures(published[hour_us], expected(geography, feed, hour, partitions=None))
