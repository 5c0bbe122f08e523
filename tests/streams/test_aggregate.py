"""The stream's two stages in one process: lanes → wire → aggregator, against the batch report.

This pins the streaming logic without a broker: each hour snapshot the aggregator
publishes must equal ``batch_report(as_of=H, partitions=N)`` figure for figure.
The same code runs inside the Faust workers (tests/streams/test_worker*.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.aggregate import Aggregator, document_from_records, snapshot_records
from streams.batch import batch_report
from streams.events import parse_lines
from streams.lane import Lane, LaneConfig
from streams.partitioning import partitions_of
from streams.presence import ModelParams
from streams.wire import LaneStatus, decode, encode_final, encode_tick
from tests.streams.test_report_vs_oracle import NOW, _feed, _geography, assert_same

pytestmark = pytest.mark.unit

NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _status(p: int, lane: Lane, offset: int) -> LaneStatus:
    return LaneStatus(
        lane=p,
        watermark_us=lane.intake.watermark_us if lane.intake.has_watermark else None,
        first_hour_us=lane.first_hour_us,
        offset=offset,
        rejected=dict(lane.rejected),
        duplicates=lane.duplicates,
    )


def stream(geography, lines, partitions, batch=300, config=None, behind=None, watch=None):
    """Drive lanes and the aggregator as the workers do; return the hour snapshots.

    Lane ``behind`` (if any) sends nothing until every record is in, as a lane reading a
    backlog far slower than the others would; ``watch`` is called after every batch.
    """
    config = config or LaneConfig()
    lanes = [Lane(geography, config, hourly=True) for _ in range(partitions)]
    aggregator = Aggregator(geography.areas, config.model, partitions)
    snapshots = {}
    held_back = []
    offsets = [-1] * partitions
    for start in range(0, len(lines), batch):
        raw = parse_lines(lines[start : start + batch], max_event_bytes=8192)
        lane_of = partitions_of(raw.columns["unit"], partitions)
        for p, lane in enumerate(lanes):
            rows = np.flatnonzero(lane_of == p).tolist()
            messages = []
            if rows:
                outcome = lane.ingest(raw.take(rows), now_us=NOW_US)
                offsets[p] += len(rows)
                status = _status(p, lane, offsets[p])
                messages = [encode_tick("hour", status, h) for h in outcome.hours]
                if outcome.final is not None:
                    messages.append(encode_final(status, outcome.final))
            # The workers' timer: each lane's live figures and status, read to the end.
            status = _status(p, lane, offsets[p])
            status.caught_up = True
            as_of = lane.settled_until_us or 0
            messages.append(
                encode_tick(
                    "live",
                    status,
                    lane.partial(
                        max(as_of + 3_600_000_000, lane.presence.earliest_admissible_us or 0),
                        complete=False,
                    ),
                )
            )
            if p == behind:
                held_back += messages
                continue
            for payload in messages:
                for snap in aggregator.receive(decode(payload)):
                    snapshots[snap.as_of_us] = snap.document
        if watch is not None:
            watch(aggregator)
    for payload in held_back:
        for snap in aggregator.receive(decode(payload)):
            snapshots[snap.as_of_us] = snap.document
    return lanes, aggregator, snapshots


@pytest.mark.parametrize(("seed", "partitions"), [(1, 1), (2, 4), (3, 3)])
def test_hour_snapshots_equal_the_batch_report(tmp_path, seed, partitions):
    wards, geography = _geography(tmp_path)
    lines = _feed(seed, wards.geometry.to_frame(), days=3, units=9)
    _, _, snapshots = stream(geography, lines, partitions)
    assert len(snapshots) > 40
    batches = [parse_lines(lines[i : i + 1000], max_event_bytes=8192)
               for i in range(0, len(lines), 1000)]  # fmt: skip
    for hour in sorted(snapshots)[:: max(len(snapshots) // 8, 1)]:
        expected = batch_report(
            geography, batches, LaneConfig(), now_us=NOW_US, as_of_us=hour, partitions=partitions
        )
        got = dict(snapshots[hour])
        # Rejections and duplicates in a snapshot are those counted so far, not the file's.
        for key in ("rejected", "duplicates"):
            got.pop(key), expected.pop(key)
        assert_same(got, expected)


def test_a_lane_days_behind_changes_no_figure_and_its_wait_is_held_compressed(tmp_path):
    """Hours waiting for a slow lane are held as the wire's compressed bytes, not decoded.

    A worker reading a backlog (a restart, a new deployment) can hold lanes weeks apart,
    and every hour in between waits for the slowest; decoded, that is most of its memory.
    """
    wards, geography = _geography(tmp_path)
    lines = _feed(6, wards.geometry.to_frame(), days=3, units=9)
    _, step_aggregator, in_step = stream(geography, lines, 2)
    most = {"waiting_hours": 0}

    def watch(aggregator):
        held = aggregator.held()
        if held["waiting_hours"] > most["waiting_hours"]:
            most.update(held)
            waiting = [h for lanes in aggregator._hours.values() for h, _ in lanes.values()]
            most["decoded"] = sum(decode(h).partial.nbytes for h in waiting)
            most["all_bytes"] = all(isinstance(h, bytes) for h in waiting)
            most["waiting_bytes"] = sum(len(h) for h in waiting)

    _, aggregator, behind = stream(geography, lines, 2, behind=1, watch=watch)
    assert behind == in_step  # every hour, figure for figure
    assert most["waiting_hours"] >= 60  # nearly three days of hours waited for lane 1
    assert most["all_bytes"]
    # A third or less even on these five wards (a county's partials shrink far more).
    assert most["waiting_bytes"] * 3 < most["decoded"]
    assert aggregator.held()["waiting_hours"] == step_aggregator.held()["waiting_hours"]


def test_final_runs_no_snapshot_can_reach_are_forgotten(tmp_path):
    """The aggregator's final runs stay bounded: the longest window plus the revisable days."""
    wards, geography = _geography(tmp_path)
    model = ModelParams(windows=(("1h", 3600), ("6h", 6 * 3600)))
    config = LaneConfig(model=model)
    lines = _feed(7, wards.geometry.to_frame(), days=5, units=9)
    _, aggregator, snapshots = stream(geography, lines, 2, config=config)
    held = aggregator.held()
    last = max(snapshots)
    reach = (last - 48 * 3_600_000_000 - model.longest_window_us) // model.slot_us
    assert held["oldest_final_slot"] >= reach - 24 * 60 - 2  # expired a day at a time
    assert held["final_runs"] > 0
    batches = [parse_lines(lines, max_event_bytes=8192)]
    for hour in (sorted(snapshots)[len(snapshots) // 2], last):
        expected = batch_report(
            geography, batches, config, now_us=NOW_US, as_of_us=hour, partitions=2
        )
        got = dict(snapshots[hour])
        for key in ("rejected", "duplicates"):
            got.pop(key), expected.pop(key)
        assert_same(got, expected)


def test_snapshot_records_round_trip(tmp_path):
    wards, geography = _geography(tmp_path)
    lines = _feed(4, wards.geometry.to_frame(), days=1, units=4)
    _, _, snapshots = stream(geography, lines, 2)
    hour, document = sorted(snapshots.items())[-1]
    records = snapshot_records(document, prefix=document["as_of"])
    assert (
        len(records)
        == 1
        + len(document["wards"])
        + len(document["neighbourhoods"])
        + len(document["districts"])
        + 1
    )
    assert document_from_records(records, document["as_of"]) == document
    assert document_from_records(records, "1999-01-01T00:00:00Z") is None


def test_an_hour_waits_for_every_lane_that_may_hold_pings_before_it(tmp_path):
    wards, geography = _geography(tmp_path)
    lines = _feed(5, wards.geometry.to_frame(), days=1, units=6)
    lanes, aggregator, snapshots = stream(geography, lines[: len(lines) // 2], 2)
    pending = max(snapshots) + 3_600_000_000
    # Lane statuses are known; a lane whose watermark has not passed the hour holds it up.
    assert aggregator.waiting_for(pending)


def test_an_idle_partition_vouches_for_hours_and_revises_them_when_it_wakes(tmp_path):
    """Partition b goes quiet; its provisional hours let others publish; late pings revise."""
    from streams.partitioning import partition_of

    wards, geography = _geography(tmp_path)
    units = [f"u{i}" for i in range(60)]
    busy = units[0]
    quiet = next(u for u in units if partition_of(u, 2) != partition_of(busy, 2))
    lon, lat = wards.geometry.iloc[1].representative_point().coords[0]
    t0 = datetime(2026, 11, 2, tzinfo=UTC)

    def line(unit, n, minutes):
        ts = (t0 + timedelta(minutes=minutes)).isoformat()
        return f'{{"event_id":"{unit}-{n}","unit":"{unit}","ts":"{ts}","lat":{lat},"lon":{lon}}}'

    early = [line(busy, i, i) for i in range(0, 600, 1)] + [line(quiet, i, i) for i in range(30)]
    early.sort(key=lambda text: text.split('"ts":"')[1])
    lanes, aggregator, snapshots = stream(geography, early, 2)
    quiet_lane = partition_of(quiet, 2)
    assert aggregator.waiting_for(t0.timestamp() * 1e6 + 5 * 3_600_000_000) == [quiet_lane]

    # The quiet lane vouches for the hours the busy one has settled.
    settled = lanes[1 - quiet_lane].settled_until_us
    for partial in lanes[quiet_lane].provisional_hours(settled):
        status = _status(quiet_lane, lanes[quiet_lane], 29)
        for snap in aggregator.receive(decode(encode_tick("provisional", status, partial))):
            snapshots[snap.as_of_us] = snap.document
    published = sorted(snapshots)
    assert published[-1] == settled // 3_600_000_000 * 3_600_000_000

    # It wakes with pings from 40 minutes into the day: still within its own lateness.
    late = [line(quiet, 100 + i, 40 + i) for i in range(20)]
    outcome = lanes[quiet_lane].ingest(parse_lines(late, max_event_bytes=8192), now_us=NOW_US)
    assert outcome.accepted.all()
    revised = {}
    for partial in lanes[quiet_lane].provisional_hours(settled):
        status = _status(quiet_lane, lanes[quiet_lane], 49)
        for snap in aggregator.receive(decode(encode_tick("provisional", status, partial))):
            revised[snap.as_of_us] = snap.document
    assert aggregator.revisions > 0 and revised
    everything = [parse_lines(early + late, max_event_bytes=8192)]
    for hour, document in revised.items():
        expected = batch_report(
            geography, everything, LaneConfig(), now_us=NOW_US, as_of_us=hour, partitions=2
        )
        got = dict(document)
        for key in ("rejected", "duplicates"):
            got.pop(key), expected.pop(key)
        assert_same(got, expected)
    first_hour = revised[int((t0 + timedelta(hours=1)).timestamp()) * 1_000_000]
    assert first_hour["force"]["windows"]["1h"]["distinct_units"] == 2


def test_a_snapshot_cut_short_is_not_taken_for_a_whole_one(tmp_path):
    wards, geography = _geography(tmp_path)
    _, _, snapshots = stream(geography, _feed(4, wards.geometry.to_frame(), days=1, units=4), 2)
    document = sorted(snapshots.items())[-1][1]
    records = snapshot_records(document, prefix=document["as_of"])
    assert records[-1][0].endswith("|summary")  # written last
    partly = records[:3] + records[-1:]  # a writer killed half way, then a summary
    assert document_from_records(partly, document["as_of"]) is None
