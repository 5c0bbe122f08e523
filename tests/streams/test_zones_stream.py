"""The stream's zones (SPEC Z4 in snapshots): lanes with zones, the wire and the aggregator
give every settled hour the zones of the batch report as of that hour.

Lanes run as workers run them (:class:`~beatlight.streams.runner.LaneRunner`, records in
offset order) and feed the aggregator through the wire, with no broker, over the messy
feed of tests/streams/test_zones_batch.py (jitter, re-sends, a clock five days fast) in
the synthetic city of tests/zones_city.py. A lane restored from its checkpoint mid-feed
changes no figure.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import orjson
import pytest

from beatlight.configs import lane_config, zone_config
from beatlight.streams.aggregate import (
    Aggregator,
    Snapshot,
    document_from_records,
    snapshot_records,
)
from beatlight.streams.batch import Zoning, batch_reports
from beatlight.streams.checkpoint import load_lane
from beatlight.streams.events import parse_lines
from beatlight.streams.partitioning import partition_of
from beatlight.streams.runner import LaneRunner, Record
from beatlight.streams.wire import decode
from beatlight.streams.zone_figures import interval_figures, returns_lag_us
from beatlight.streams.zone_lane import ZoneLane
from beatlight.times import parse_us
from tests.streams.test_zones_batch import _NOW_US, city, messy  # noqa: F401

pytestmark = pytest.mark.unit

PARTITIONS = 2
HOUR_US = 3_600_000_000


class Stream:
    def __init__(self, city, *, zones: bool = True) -> None:  # noqa: F811
        geography, self.zones, _ = city
        self.geography = geography
        self.config = lane_config()
        self.with_zones = zones
        self.runners = [LaneRunner(p, geography, self.config, max_event_bytes=8192,
                                   zones=self.zone_lane()) for p in range(PARTITIONS)]  # fmt: skip
        self.aggregator = Aggregator(geography.areas, self.config, PARTITIONS)
        if zones:
            self.aggregator.count_zones(self.zones, zone_config())
        self.hours: dict[int, Snapshot] = {}
        self.wire: list[bytes] = []

    def zone_lane(self) -> ZoneLane | None:
        return ZoneLane(self.zones, zone_config()) if self.with_zones else None

    def send(self, lines: list[bytes], batch: int = 250) -> None:
        for start in range(0, len(lines), batch):
            by_lane = defaultdict(list)
            for line in lines[start : start + batch]:
                try:
                    unit = orjson.loads(line)["unit"]
                except Exception:  # noqa: BLE001 - a broken line goes to lane 0
                    unit = ""
                by_lane[partition_of(str(unit), PARTITIONS)].append(line)
            for p, chunk in sorted(by_lane.items()):
                runner = self.runners[p]
                records = [Record(runner.next_offset + i, text) for i, text in enumerate(chunk)]
                for payload in runner.process(records, now_us=_NOW_US).partials:
                    self.wire.append(payload)
                    for snap in self.aggregator.receive(decode(payload)):
                        self.hours[snap.as_of_us] = snap

    def restart(self, p: int) -> None:
        runner = self.runners[p]
        for payload in runner.flush_final():
            self.aggregator.receive(decode(payload))
        restored = load_lane(runner.dump(), self.geography, self.config, self.zone_lane())
        assert restored is not None
        fresh = LaneRunner(p, self.geography, self.config, max_event_bytes=8192,
                           zones=self.zone_lane())  # fmt: skip
        fresh.restore(*restored)
        for payload in fresh.flush_final():
            self.aggregator.receive(decode(payload))
        self.runners[p] = fresh


def batch_zones(city, lines: list[bytes], as_of_us: int) -> list[dict]:  # noqa: F811
    return batch_found(city, lines, as_of_us).document["zones"]


def batch_found(city, lines: list[bytes], as_of_us: int):  # noqa: ANN201, F811
    """The batch report with zones over ``lines`` as of ``as_of_us`` (with its zone runs)."""
    geography, zones, _ = city
    batches = [parse_lines(lines[i : i + 250], max_event_bytes=8192, first_position=i,
                           keep_text=True) for i in range(0, len(lines), 250)]  # fmt: skip
    return batch_reports(geography, batches, lane_config(), now_us=_NOW_US, as_of_us=as_of_us,
                         partitions=PARTITIONS, zoning=Zoning(zones, zone_config()))  # fmt: skip


def _figures_only(zones: list[dict]) -> list[dict]:
    """A stream hour's zones without what only the stream has (``returns_hour``)."""
    return [{k: v for k, v in zone.items() if k != "returns_hour"} for zone in zones]


def test_every_settled_hour_has_the_batch_reports_zones(city):  # noqa: F811
    lines = messy(city[2], 2)
    stream = Stream(city)
    half = len(lines) // 2
    stream.send(lines[:half])
    stream.restart(0)  # from its checkpoint: changes no figure
    stream.send(lines[half:])
    hours = sorted(stream.hours)
    assert len(hours) > 40
    sessions = 0
    for hour in hours[::7] + hours[-1:]:
        ours = _figures_only(stream.hours[hour].document["zones"])
        assert ours == batch_zones(city, lines, hour), hour
        document = stream.hours[hour].document
        records = snapshot_records(document, prefix="h")
        assert document_from_records(records, "h")["zones"] == document["zones"]  # as carried
        sessions += sum(len(z["sessions"]) for z in ours)
    assert sessions > 0
    busy = [z for z in stream.hours[hours[-1]].document["zones"]
            if z["windows"]["28d"]["patrol_minutes"] > 0]  # fmt: skip
    assert len(busy) >= 8


def test_each_hours_returns_figures_are_final_ones(city):  # noqa: F811
    # The figures an hour snapshot gives an earlier hour for the funders' returns (Z6)
    # equal those of the batch over all the feed: pings after the hour's end fill its
    # last slots, and visits starting in it turn Koper after it, and both are in. The
    # hour's own 1h window, as of its end, lacks them.
    lines = messy(city[2], 3)
    stream = Stream(city)
    stream.send(lines)
    found = batch_found(city, lines, max(stream.hours) + 10 * HOUR_US)
    zones, config = stream.zones, zone_config()
    later_than_the_1h_window = 0
    for as_of, snap in sorted(stream.hours.items()):
        entries = snap.document["zones"]
        start = parse_us(entries[0]["returns_hour"]["start"])
        assert start == as_of - returns_lag_us(config.model) - HOUR_US
        slot = config.model.slot_us
        lo, hi = np.full(len(zones), start // slot), np.full(len(zones), (start + HOUR_US) // slot)
        full = interval_figures(found.zone_runs, np.arange(len(zones)), lo, hi,
                                config.model.koper_slots)  # fmt: skip
        for z, entry in enumerate(entries):
            got = entry["returns_hour"]
            assert got["patrol_minutes"] == full["patrol"][z], (as_of, entry["code"])
            assert got["unit_minutes"] == full["unit"][z]
            assert (got["visits"], got["koper_visits"]) == (full["visits"][z],
                                                            full["koper_visits"][z])  # fmt: skip
            then = stream.hours.get(start + HOUR_US)
            if then is not None:
                own = then.document["zones"][z]["windows"]["1h"]
                seen = (own["patrol_minutes"], own["koper_visits"])
                later_than_the_1h_window += seen != (got["patrol_minutes"], got["koper_visits"])
    assert later_than_the_1h_window > 0  # the feed crosses hour ends: the test can fail


def test_without_zones_the_wire_and_documents_have_none(city):  # noqa: F811
    lines = messy(city[2], 2)[:3000]
    plain, zoned = Stream(city, zones=False), Stream(city)
    plain.send(lines)
    zoned.send(lines)
    assert plain.hours and all("zones" not in s.document for s in plain.hours.values())
    assert all(b'"zones"' not in payload[:2000] for payload in plain.wire)
    for hour, snap in plain.hours.items():
        with_zones = zoned.hours[hour].document
        assert {k: v for k, v in with_zones.items() if k != "zones"} == snap.document


def test_a_checkpoint_holds_the_zone_state_and_names_its_zones(city):  # noqa: F811
    lines = messy(city[2], 2)[:3000]
    stream = Stream(city)
    stream.send(lines)
    runner = stream.runners[1]
    runner.flush_final()
    blob = runner.dump()
    geography, config = stream.geography, stream.config
    lane, _ = load_lane(blob, geography, config, stream.zone_lane())
    hour = (lane.zones.fed_until_us // HOUR_US + 1) * HOUR_US
    before = runner.lane.partial(hour, complete=False).zones
    after = lane.partial(hour, complete=False).zones
    for name in before.__dataclass_fields__:
        assert (getattr(before, name) == getattr(after, name)).all(), name
    assert load_lane(blob, geography, config, None) is None  # a worker without zones
    plain = Stream(city, zones=False)
    plain.send(lines)
    plain.runners[1].flush_final()
    assert load_lane(plain.runners[1].dump(), geography, config, stream.zone_lane()) is None


def test_partials_of_lanes_without_these_zones_are_not_taken(city):  # noqa: F811
    # beatlight.partials may hold figures of lanes without the aggregator's zones: written
    # before the zones were set, or by a ward-only worker of another app id on the same
    # broker. Taken, they publish hours whose zones have no runs, and each hour is then
    # published again as each lane with zones sends it.
    lines = messy(city[2], 2)[:4000]
    plain, zoned = Stream(city, zones=False), Stream(city)
    plain.send(lines)
    assert len(plain.hours) > 5
    found = [snap for payload in plain.wire for snap in zoned.aggregator.receive(decode(payload))]
    assert found == []
    assert zoned.aggregator.other_zones == len(plain.wire)
    zoned.send(lines)
    assert zoned.aggregator.revisions == 0
    assert sorted(zoned.hours) == sorted(plain.hours)
    hour = sorted(zoned.hours)[len(zoned.hours) // 2]
    assert zoned.hours[hour].revision.number == 0
    assert _figures_only(zoned.hours[hour].document["zones"]) == batch_zones(city, lines, hour)
