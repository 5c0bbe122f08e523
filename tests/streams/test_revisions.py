"""Late uploads (SPEC "Late uploads"): with 24 h of lateness, hours are published an hour
behind the feed, and published again as numbered revisions when late pings change them.

Lanes run as the workers run them (:class:`beatlight.streams.runner.LaneRunner`, records in
offset order) and feed the aggregator through the wire, with no broker: a body-worn
camera's shift of pings comes eight hours after the shift ended.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.streams.aggregate import (
    Aggregator,
    Snapshot,
    document_from_records,
    snapshot_records,
)
from beatlight.streams.batch import batch_report
from beatlight.streams.events import parse_lines
from beatlight.streams.lane import LaneConfig
from beatlight.streams.partitioning import partition_of
from beatlight.streams.runner import LaneRunner, Record
from beatlight.streams.wire import decode
from tests.streams.test_report_vs_oracle import NOW, _geography, assert_same

pytestmark = pytest.mark.unit

NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
HOUR_US = 3_600_000_000
DAY_LATENESS = replace(lane_config(), lateness_us=24 * HOUR_US)
T0 = datetime(2026, 11, 2, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
PARTITIONS = 2


class Stream:
    """Lanes of two partitions and the aggregator, with a wall clock that ticks per call."""

    def __init__(self, geography, config: LaneConfig = DAY_LATENESS) -> None:
        self.runners = [LaneRunner(p, geography, config, max_event_bytes=8192)
                        for p in range(PARTITIONS)]  # fmt: skip
        self.aggregator = Aggregator(geography.areas, config, PARTITIONS)
        self.clock = count(NOW_US, 1_000_000)
        self.published: list[Snapshot] = []

    def send(self, lines: list[str], batch: int = 100) -> list[Snapshot]:
        """Lines in arrival order, by unit to their partition's lane; the snapshots made."""
        made = []
        for start in range(0, len(lines), batch):
            by_lane = defaultdict(list)
            for line in lines[start : start + batch]:
                by_lane[partition_of(orjson.loads(line)["unit"], PARTITIONS)].append(line)
            for p, chunk in sorted(by_lane.items()):
                runner = self.runners[p]
                records = [Record(runner.next_offset + i, text.encode())
                           for i, text in enumerate(chunk)]  # fmt: skip
                for payload in runner.process(records, now_us=NOW_US).partials:
                    made += self.aggregator.receive(decode(payload), next(self.clock))
        self.published += made
        return made

    def newest(self) -> dict[int, Snapshot]:
        return {snap.as_of_us: snap for snap in self.published}


def _units(wards):
    """Two busy units on different lanes, and a body-worn camera sharing a busy lane."""
    units = [f"u{i}" for i in range(60)]
    first = {p: [u for u in units if partition_of(u, PARTITIONS) == p] for p in range(PARTITIONS)}
    busy = (first[0][0], first[1][0])
    camera = first[0][1]
    centres = [wards.geometry.iloc[i].representative_point().coords[0] for i in range(4)]

    def line(unit: str, n: int, minutes: float, ward: int) -> str:
        ts = (T0 + timedelta(minutes=minutes)).isoformat()
        lon, lat = centres[ward]
        return f'{{"event_id":"{unit}-{n}","unit":"{unit}","ts":"{ts}","lat":{lat},"lon":{lon}}}'

    return busy, camera, line


def _feed(wards, *, upload_after_hours: float = 20):
    """22 hours of two busy units, and a camera's shift (04:00-12:00) uploaded at 20:00."""
    busy, camera, line = _units(wards)
    on_time = [line(busy[0], i, m, 0) for i, m in enumerate(range(0, 22 * 60, 3))]
    on_time += [line(busy[1], i, m + 1, 3) for i, m in enumerate(range(0, 22 * 60, 3))]
    on_time.sort(key=lambda text: text.split('"ts":"')[1])
    shift = [line(camera, i, 4 * 60 + m, 1 if m < 4 * 60 else 2) for i, m in
             enumerate(range(0, 8 * 60, 2))]  # fmt: skip
    upload = (T0 + timedelta(hours=upload_after_hours)).isoformat()
    cut = next(i for i, text in enumerate(on_time) if text.split('"ts":"')[1] >= upload)
    return on_time[:cut], shift, on_time[cut:]


def _batch(geography, lines: list[str], hour_us: int) -> dict:
    """``beatlight report --as-of H`` on these events: every one counts."""
    document = batch_report(geography, [parse_lines(lines, max_event_bytes=8192)], DAY_LATENESS,
                            now_us=NOW_US, as_of_us=hour_us)  # fmt: skip
    for key in ("rejected", "duplicates", "after_as_of"):  # counts of the file, not figures
        document.pop(key)
    return document


def _figures(snapshot: Snapshot) -> dict:
    document = dict(snapshot.document)
    for key in ("rejected", "duplicates"):
        document.pop(key)
    return document


def _changed(before: dict, after: dict) -> set[str]:
    """Keys (``level|code``) of the areas whose figures differ between two documents."""
    old = dict(_keyed(before))
    return {key for key, windows in _keyed(after) if old[key] != windows}


def _ward(wards, i: int) -> str:
    return f"ward|{wards.codes[i]}"


def _keyed(document: dict):
    for key in ("wards", "neighbourhoods", "districts"):
        for area in document[key]:
            yield f"{key[:-1]}|{area['code']}", area["windows"]
    yield f"force|{document['force']['code']}", document["force"]["windows"]


def test_hours_are_first_published_an_hour_behind_the_feed_not_the_lateness(tmp_path):
    wards, geography = _geography(tmp_path)
    before, _, _ = _feed(wards)
    stream = Stream(geography)
    stream.send(before)
    hours = sorted(stream.newest())
    # The feed has nearly reached 20:00; the lanes settle nothing before 24 h later, yet
    # every hour up to 18:00 is out, each once, as revision 0.
    assert hours[-1] == T0_US + 18 * HOUR_US
    # None before the first pings (at 00:00): the lanes hold nothing for those hours.
    assert hours[0] == T0_US + HOUR_US
    assert all(snap.revision.number == 0 for snap in stream.published)
    assert len(stream.published) == len(hours)
    for hour in (T0_US + 5 * HOUR_US, T0_US + 18 * HOUR_US):
        assert_same(_figures(stream.newest()[hour]), _batch(geography, before, hour))


def test_a_shift_uploaded_eight_hours_late_revises_every_hour_it_touches(tmp_path):
    wards, geography = _geography(tmp_path)
    before, shift, after = _feed(wards)
    stream = Stream(geography)
    stream.send(before)
    first = stream.newest()
    revised_at = next(stream.clock) + 1_000_000  # the clock's next tick stamps the upload
    revisions = stream.send(shift, batch=len(shift))  # one upload, one batch
    # Every hour after the shift's first ping that was published is published again,
    # once, as revision 1; the hours before it are not.
    touched = list(range(T0_US + 5 * HOUR_US, T0_US + 19 * HOUR_US, HOUR_US))
    assert [snap.as_of_us for snap in revisions] == touched
    assert stream.aggregator.revisions == len(touched)
    everything = before + shift
    for snap in revisions:
        assert snap.revision.number == 1 and snap.revision.revised_at_us >= revised_at
        assert_same(_figures(snap), _batch(geography, everything, snap.as_of_us))
        # The areas it names are exactly those whose figures changed, with their revision.
        changed = _changed(first[snap.as_of_us].document, snap.document)
        assert changed and set(snap.revision.areas) == changed
        assert {n for n, _ in snap.revision.areas.values()} == {1}
    # The camera was in ward 1, then ward 2: before 08:00, ward 2's figures are unchanged.
    at_six = next(s for s in revisions if s.as_of_us == T0_US + 6 * HOUR_US)
    assert _ward(wards, 2) not in at_six.revision.areas
    assert _ward(wards, 1) in at_six.revision.areas

    # History goes on: later hours are published once, with the camera's pings in them.
    stream.send(after)
    later = [s for s in stream.published if s.as_of_us >= T0_US + 20 * HOUR_US]
    assert later and all(s.revision.number == 0 for s in later)
    final = stream.newest()
    for hour in (T0_US + 9 * HOUR_US, max(final)):
        assert_same(_figures(final[hour]), _batch(geography, everything + after, hour))


def test_revisions_are_numbered_and_figures_sent_again_unchanged_publish_nothing(tmp_path):
    wards, geography = _geography(tmp_path)
    before, shift, after = _feed(wards)
    stream = Stream(geography)
    stream.send(before)
    # The upload comes in two parts: the second half of the shift, then the first.
    half = len(shift) // 2
    second = stream.send(shift[half:], batch=len(shift))
    first_half = stream.send(shift[:half], batch=len(shift))
    assert {s.revision.number for s in second} == {1}
    assert min(s.as_of_us for s in second) == T0_US + 9 * HOUR_US
    # The first half touches the hours from 05:00: the earlier ones for the first time,
    # the later ones again.
    numbers = {s.as_of_us: s.revision.number for s in first_half}
    hours = range(T0_US + 5 * HOUR_US, T0_US + 19 * HOUR_US, HOUR_US)
    assert numbers == {h: 1 if h < T0_US + 9 * HOUR_US else 2 for h in hours}
    # At 13:00, ward 2 (the second half) changed in revision 1 and ward 1 in revision 2.
    at_one = next(s for s in first_half if s.as_of_us == T0_US + 13 * HOUR_US)
    ward_1, ward_2 = at_one.revision.areas[_ward(wards, 1)], at_one.revision.areas[_ward(wards, 2)]
    assert (ward_2[0], ward_1[0]) == (1, 2)
    assert ward_2[1] < ward_1[1]  # revised_at: each area's own last change

    # The same pings again (a feed re-sending its upload): duplicates, no figure changes.
    revisions = stream.aggregator.revisions
    assert stream.send(shift, batch=len(shift)) == []
    # A lane restored from a checkpoint sends every open hour again: nothing changed, and
    # the hours the feed goes on to complete come out as first publications.
    runner = stream.runners[0]
    runner.restore(runner.lane, runner.next_offset)
    later = stream.send(after[:200])
    assert later and all(s.revision.number == 0 for s in later)
    assert stream.aggregator.revisions == revisions


def test_revision_fields_travel_in_the_history_records(tmp_path):
    wards, geography = _geography(tmp_path)
    before, shift, _ = _feed(wards)
    stream = Stream(geography)
    stream.send(before)
    snap = stream.send(shift, batch=len(shift))[0]
    prefix = snap.document["as_of"]
    records = dict(snapshot_records(snap.document, prefix=prefix, revision=snap.revision))
    summary = records[f"{prefix}|summary"]
    assert summary["revision"] == 1 and summary["revised_at"].endswith("Z")
    assert records[f"{prefix}|{_ward(wards, 1)}"]["revision"] == 1
    assert "revision" not in records[f"{prefix}|{_ward(wards, 3)}"]  # unchanged since
    document = document_from_records(records.items(), prefix)
    assert document["revision"] == 1 and document["revised_at"] == summary["revised_at"]
    ward = next(w for w in document["wards"] if w["code"] == wards.codes[1])
    assert ward["revision"] == 1 and ward["revised_at"] == summary["revised_at"]
    # The first publication says so too, and no area is marked.
    first = dict(snapshot_records(stream.published[0].document, prefix="p",
                                  revision=stream.published[0].revision))  # fmt: skip
    assert first["p|summary"]["revision"] == 0
    assert not any("revision" in value for key, value in first.items() if key != "p|summary")


def test_hours_stay_revisable_for_the_lateness_and_a_day():

    assert Aggregator(None, lane_config(), 1).revisable_us == 48 * HOUR_US  # type: ignore[arg-type]
    day = Aggregator(None, DAY_LATENESS, 1)  # type: ignore[arg-type]
    assert day.revisable_us == 48 * HOUR_US
    forty = replace(lane_config(), lateness_us=40 * HOUR_US)
    assert Aggregator(None, forty, 1).revisable_us == 64 * HOUR_US  # type: ignore[arg-type]


def test_with_the_default_lateness_hours_are_published_once_settled(tmp_path):
    """An hour of lateness: nothing is published early, so nothing is revised."""
    wards, geography = _geography(tmp_path)
    before, shift, _ = _feed(wards)
    stream = Stream(geography, lane_config())
    stream.send(before)
    assert max(stream.newest()) == T0_US + 18 * HOUR_US
    assert stream.send(shift, batch=len(shift)) == []  # too late: rejected, not revised
    assert stream.runners[0].lane.rejected["too_late"] == len(shift)
