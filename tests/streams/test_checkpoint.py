"""Lane checkpoints: a lane restored mid-stream continues exactly as the one that kept going."""

from __future__ import annotations

import numpy as np
import pytest

from beatlight.configs import lane_config
from beatlight.streams.checkpoint import FORMAT, dump_lane, load_lane
from beatlight.streams.events import parse_lines
from beatlight.streams.lane import Lane
from tests.streams.test_aggregate import NOW_US
from tests.streams.test_report_vs_oracle import _feed, _geography

pytestmark = pytest.mark.unit


def _ingest(lane, lines):
    outcomes = []
    for i in range(0, len(lines), 250):
        outcomes.append(
            lane.ingest(parse_lines(lines[i : i + 250], max_event_bytes=8192), now_us=NOW_US)
        )
    return outcomes


def test_a_restored_lane_continues_exactly(tmp_path):
    wards, geography = _geography(tmp_path)
    lines = _feed(9, wards.geometry.to_frame(), days=3, units=5)
    half = len(lines) // 2
    kept = Lane(geography, lane_config(), hourly=True)
    _ingest(kept, lines[:half])
    kept.take_final()
    blob = dump_lane(kept, next_offset=half)
    restored, offset = load_lane(blob, geography, lane_config())
    assert offset == half
    assert len(blob) < 2_000_000
    assert restored.data_hours == kept.data_hours
    assert restored.reported_until_us == kept.reported_until_us

    later_kept = _ingest(kept, lines[half:])
    later_restored = _ingest(restored, lines[half:])
    hours = [h.as_of_us for o in later_kept for h in o.hours]
    assert hours and hours == [h.as_of_us for o in later_restored for h in o.hours]
    as_of = kept.default_as_of_us()
    a, b = kept.partial(as_of), restored.partial(as_of)
    for name in (
        "unit_slots",
        "distinct_units",
        "visits",
        "koper_visits",
        "covered",
        "ward_last_seen",
    ):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for x, y in zip((*a.present, *a.foot), (*b.present, *b.foot), strict=True):
        assert np.array_equal(x, y)
    assert (a.outside, a.accepted) == (b.outside, b.accepted)
    assert kept.rejected == restored.rejected and kept.duplicates == restored.duplicates


def test_a_checkpoint_of_other_boundaries_or_garbage_is_ignored(tmp_path):
    wards, geography = _geography(tmp_path)
    lane = Lane(geography, lane_config(), hourly=True)
    _ingest(lane, _feed(2, wards.geometry.to_frame(), days=1, units=2))
    lane.take_final()
    blob = dump_lane(lane, next_offset=10)
    from beatlight.geo.attributes import load_attributes
    from beatlight.geo.boundaries import wards_from_frame
    from beatlight.geo.geography import geography_from_wards
    from beatlight.geo.synthetic import synthetic_wards

    other_wards = wards_from_frame(synthetic_wards())
    other = geography_from_wards(other_wards, attributes=load_attributes(None, other_wards))
    assert load_lane(blob, other, lane_config()) is None
    assert load_lane(b"not a checkpoint", geography, lane_config()) is None


def test_a_checkpoint_from_before_lanes_skipped_empty_hours_owes_every_hour(tmp_path):
    """Such a checkpoint has no data hours: the restored lane owes every hour its pings may
    reach, as the worker that wrote it did, and goes on as a lane that kept going."""
    import zlib

    import orjson

    wards, geography = _geography(tmp_path)
    lines = _feed(9, wards.geometry.to_frame(), days=3, units=5)
    half = len(lines) // 2
    kept = Lane(geography, lane_config(), hourly=True)
    _ingest(kept, lines[:half])
    data = zlib.decompress(dump_lane(kept, next_offset=half))
    size = int.from_bytes(data[:4], "big")
    header = orjson.loads(data[4 : 4 + size])
    del header["lane"]["data_hours"], header["lane"]["reported_until_us"]
    head = orjson.dumps(header)
    old = zlib.compress(len(head).to_bytes(4, "big") + head + data[4 + size :])
    restored, _ = load_lane(old, geography, lane_config())
    assert restored.data_hours[0] <= kept.data_hours[0]
    assert restored.data_hours[-1] == kept.data_hours[-1]
    later_kept = _ingest(kept, lines[half:])
    later_restored = _ingest(restored, lines[half:])
    hours = [h.as_of_us for o in later_kept for h in o.hours]
    assert hours and hours == [h.as_of_us for o in later_restored for h in o.hours]


def _header_and_arrays(blob):
    import io
    import zlib

    import orjson

    data = zlib.decompress(blob)
    size = int.from_bytes(data[:4], "big")
    with np.load(io.BytesIO(data[4 + size :]), allow_pickle=False) as archive:
        names = list(archive.files)
    return orjson.loads(data[4 : 4 + size]), names, data, size


def test_a_format_2_checkpoint_keeps_its_layout(tmp_path):
    """Checkpoints outlive the worker that wrote them: what the lane's state() writes is
    FORMAT 2's layout; a change to it must come with a new FORMAT."""
    wards, geography = _geography(tmp_path)
    lane = Lane(geography, lane_config(), hourly=True)
    _ingest(lane, _feed(2, wards.geometry.to_frame(), days=1, units=2))
    lane.take_final()
    header, names, _, _ = _header_and_arrays(dump_lane(lane, next_offset=10))
    assert header["format"] == FORMAT == 2
    assert list(header) == ["format", "geography", "next_offset", "intake", "lane", "presence"]
    assert list(header["intake"]) == [
        "watermark_us", "ahead", "seen", "forget_before_us", "latest", "recent", "stalled",
        "pending", "ahead_units",
    ]  # fmt: skip
    assert list(header["lane"]) == [
        "rejected", "duplicates", "max_accepted_us", "first_hour_us", "next_hour_us",
        "version", "provisional_until", "provisional_version", "sent_slot", "data_hours",
        "reported_until_us",
    ]  # fmt: skip
    assert list(header["presence"]) == ["units", "final_slot", "expired_slot", "outside",
                                        "accepted", "stray", "buffer_eid"]  # fmt: skip
    assert names == [
        *(f"buffer_{k}" for k in ("unit", "ts", "ward", "mode", "cell", "final")),
        *(f"present_{i}" for i in range(4)), *(f"foot_{i}" for i in range(3)),
        "cell_latest", "ward_last",
    ]  # fmt: skip


def test_a_checkpoint_of_another_format_is_ignored(tmp_path):
    import zlib

    import orjson

    wards, geography = _geography(tmp_path)
    lane = Lane(geography, lane_config(), hourly=True)
    _ingest(lane, _feed(2, wards.geometry.to_frame(), days=1, units=2))
    lane.take_final()
    header, _, data, size = _header_and_arrays(dump_lane(lane, next_offset=10))
    head = orjson.dumps(header | {"format": FORMAT + 1})
    other = zlib.compress(len(head).to_bytes(4, "big") + head + data[4 + size :])
    assert load_lane(other, geography, lane_config()) is None


def test_a_lane_with_unsent_final_runs_has_no_state_to_take(tmp_path):
    wards, geography = _geography(tmp_path)
    lane = Lane(geography, lane_config(), hourly=True)
    _ingest(lane, _feed(9, wards.geometry.to_frame(), days=3, units=5))
    lane.resend_final()
    with pytest.raises(ValueError, match="take_final"):
        lane.state()
