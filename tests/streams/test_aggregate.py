"""The stream's two stages in one process: lanes → wire → aggregator, against the batch report.

This pins the streaming logic without a broker: each hour snapshot the aggregator
publishes must equal ``batch_report(as_of=H, partitions=N)`` figure for figure.
The same code runs inside the Faust workers (tests/streams/test_worker*.py).

Long because every case drives the same two-stage harness (:func:`stream`, defined here)
over its feeds and compares it with the batch report.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from beatlight.configs import lane_config, model_params
from beatlight.streams.aggregate import Aggregator, document_from_records, snapshot_records
from beatlight.streams.batch import batch_report
from beatlight.streams.events import parse_lines
from beatlight.streams.lane import Lane
from beatlight.streams.partitioning import partitions_of
from beatlight.streams.wire import (
    Kind,
    LaneStatus,
    decode,
    encode_final,
    encode_reported,
    encode_tick,
)
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
    config = config or lane_config()
    lanes = [Lane(geography, config, hourly=True) for _ in range(partitions)]
    aggregator = Aggregator(geography.areas, config, partitions)
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
                messages = [encode_tick(Kind.HOUR, status, h) for h in outcome.hours]
                if (reported := lane.take_reported()) is not None:
                    messages.append(encode_reported(status, *reported))
                if outcome.final is not None:
                    messages.append(encode_final(status, outcome.final))
            # The workers' timer: each lane's live figures and status, read to the end.
            status = _status(p, lane, offsets[p])
            status.caught_up = True
            as_of = lane.settled_until_us or 0
            messages.append(
                encode_tick(
                    Kind.LIVE,
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
            geography, batches, lane_config(), now_us=NOW_US, as_of_us=hour, partitions=partitions
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
    model = replace(model_params(), windows=(("1h", 3600), ("6h", 6 * 3600)))
    config = replace(lane_config(), model=model)
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


T0 = datetime(2026, 11, 2, tzinfo=UTC)
HOUR_US = 3_600_000_000


def _two_units(wards):
    """A busy and a quiet unit on different lanes of two, and a line maker for them."""
    from beatlight.streams.partitioning import partition_of

    units = [f"u{i}" for i in range(60)]
    busy = units[0]
    quiet = next(u for u in units if partition_of(u, 2) != partition_of(busy, 2))
    inside = wards.geometry.iloc[1].representative_point().coords[0]

    def line(unit, n, minutes, at=inside):
        ts = (T0 + timedelta(minutes=minutes)).isoformat()
        lon, lat = at
        return f'{{"event_id":"{unit}-{n}","unit":"{unit}","ts":"{ts}","lat":{lat},"lon":{lon}}}'

    return busy, quiet, partition_of(quiet, 2), line


def _send(aggregator, lane, p, kind, partials, offset=0):
    """A lane's messages as a worker sends them: its hours, then its word on what it skipped."""
    status = _status(p, lane, offset)
    messages = [encode_tick(kind, status, partial) for partial in partials]
    if (reported := lane.take_reported()) is not None:
        messages.append(encode_reported(status, *reported))
    return {snap.as_of_us: snap.document
            for payload in messages for snap in aggregator.receive(decode(payload))}  # fmt: skip


def _same_as_batch(geography, lines, snapshots, hours):
    everything = [parse_lines(lines, max_event_bytes=8192)]
    for hour in hours:
        expected = batch_report(
            geography, everything, lane_config(), now_us=NOW_US, as_of_us=hour, partitions=2
        )
        got = dict(snapshots[hour])
        for key in ("rejected", "duplicates"):
            got.pop(key), expected.pop(key)
        assert_same(got, expected)


def test_hours_no_ping_of_a_lane_reaches_are_skipped_by_it_with_every_figure_unchanged(tmp_path):
    """A unit pings on day 0 and day 32 only: its lane skips the days between (its 28-day
    windows are empty then), yet every hour, counts included, equals the batch report."""
    wards, geography = _geography(tmp_path)
    busy, quiet, quiet_lane, line = _two_units(wards)
    minutes = [*range(0, 30), *range(32 * 1440, 32 * 1440 + 200)]
    lines = [line(busy, i, m) for i, m in enumerate(range(0, 33 * 1440, 20))]
    lines += [line(quiet, i, m) for i, m in enumerate(minutes)]
    east, north = wards.geometry.total_bounds[2:]
    lines.append(line(quiet, 999, 20, at=(east + 0.5, north)))  # outside every ward
    lines.sort(key=lambda text: text.split('"ts":"')[1])
    lanes, aggregator, snapshots = stream(geography, lines, 2)
    day = 24 * HOUR_US
    t0 = int(T0.timestamp()) * 1_000_000
    assert lanes[quiet_lane].hours_skipped > 3 * 24
    assert lanes[1 - quiet_lane].hours_skipped == 1  # the first: nothing before its first ping
    hours = [t0 + h for h in (HOUR_US, 27 * day, 28 * day + 2 * HOUR_US, 30 * day,
                              32 * day + 2 * HOUR_US)]  # fmt: skip
    assert set(hours) <= set(snapshots)
    _same_as_batch(geography, lines, snapshots, hours)
    assert snapshots[hours[3]]["outside"] == 1 and snapshots[hours[3]]["accepted"] > 30


def test_a_lane_idle_for_days_that_wakes_up_does_not_stop_history(tmp_path):
    """A lane idle past the two days hours stay revisable settles the hours it vouched
    for: those too old to revise are dropped, not held waiting for the other lanes."""
    wards, geography = _geography(tmp_path)
    busy, quiet, quiet_lane, line = _two_units(wards)
    early = [line(busy, i, m) for i, m in enumerate(range(0, 4 * 1440, 5))]
    early += [line(quiet, i, i) for i in range(30)]
    early.sort(key=lambda text: text.split('"ts":"')[1])
    lanes, aggregator, snapshots = stream(geography, early, 2)
    idle, busy_lane = lanes[quiet_lane], lanes[1 - quiet_lane]
    snapshots |= _send(aggregator, idle, quiet_lane, Kind.PROVISIONAL,
                       idle.provisional_hours(busy_lane.settled_until_us))  # fmt: skip
    published = max(snapshots)

    woken = [line(quiet, 100, 4 * 1440 - 10)]  # four days on
    outcome = idle.ingest(parse_lines(woken, max_event_bytes=8192), now_us=NOW_US)
    _send(aggregator, idle, quiet_lane, Kind.HOUR, outcome.hours, 30)
    assert aggregator.too_old > 0 and aggregator.held()["waiting_hours"] == 0

    later = [line(busy, 10_000 + i, 4 * 1440 + i) for i in range(0, 1440, 5)]
    outcome = busy_lane.ingest(parse_lines(later, max_event_bytes=8192), now_us=NOW_US)
    new = _send(aggregator, busy_lane, 1 - quiet_lane, Kind.HOUR, outcome.hours, 2000)
    new |= _send(aggregator, idle, quiet_lane, Kind.PROVISIONAL,
                 idle.provisional_hours(busy_lane.settled_until_us), 30)  # fmt: skip
    assert new and min(new) > published  # history goes on
    _same_as_batch(geography, early + woken + later, new, sorted(new)[::6])


def test_an_idle_partition_vouches_for_hours_and_revises_them_when_it_wakes(tmp_path):
    """Partition b goes quiet; its provisional hours let others publish; late pings revise."""
    wards, geography = _geography(tmp_path)
    busy, quiet, quiet_lane, line = _two_units(wards)
    t0 = T0

    early = [line(busy, i, i) for i in range(0, 600, 1)] + [line(quiet, i, i) for i in range(30)]
    early.sort(key=lambda text: text.split('"ts":"')[1])
    lanes, aggregator, snapshots = stream(geography, early, 2)
    assert aggregator.waiting_for(t0.timestamp() * 1e6 + 5 * 3_600_000_000) == [quiet_lane]

    # The quiet lane vouches for the hours the busy one has settled.
    settled = lanes[1 - quiet_lane].settled_until_us
    for partial in lanes[quiet_lane].provisional_hours(settled):
        status = _status(quiet_lane, lanes[quiet_lane], 29)
        for snap in aggregator.receive(decode(encode_tick(Kind.PROVISIONAL, status, partial))):
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
        for snap in aggregator.receive(decode(encode_tick(Kind.PROVISIONAL, status, partial))):
            revised[snap.as_of_us] = snap.document
    assert aggregator.revisions > 0 and revised
    everything = [parse_lines(early + late, max_event_bytes=8192)]
    for hour, document in revised.items():
        expected = batch_report(
            geography, everything, lane_config(), now_us=NOW_US, as_of_us=hour, partitions=2
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
