"""The batch report's zones (SPEC Z1-Z4) against the naive oracle (tests/zone_oracle.py).

Feeds as messy as real ones (tests/feeds.py: jitter, re-sends, a unit whose clock ran
five days fast) over the synthetic city of tests/zones_city.py: a town centre and
overlapping 150 m hot spots with schedules crossing midnight and the October clock
change. Every order of the lines gives the oracle's figures and the same document.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from beatlight.configs import lane_config, zone_config
from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.geo.synthetic import synthetic_wards
from beatlight.geo.zones import zones_from_frame
from beatlight.streams.batch import Zoning, batch_reports
from beatlight.streams.events import parse_lines
from beatlight.streams.schedule import parse_schedule
from tests.feeds import FastClock, by_time, by_unit, real_feed, shuffled
from tests.zone_oracle import reference_zones
from tests.zones_city import oracle_zones, synthetic_zones

pytestmark = pytest.mark.unit

#: Friday 23 October 2026, 16:00 UTC: two Friday/Saturday nights, the clocks go back
#: at 02:00 BST on Sunday 25th.
T0 = datetime(2026, 10, 23, 16, tzinfo=UTC)
NOW = T0 + timedelta(days=40)
_NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def city_events(frame, *, seed: int, units: int = 7, hours: float = 62) -> list[dict]:  # noqa: ANN001
    """Units walking between the zones of ``frame`` (EPSG:27700) and around them, dwelling
    in some, pinging at uneven steps around G (290, 300, 301 s), in the order made."""
    rng = random.Random(seed)
    to_lonlat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    centres = [(g.centroid.x, g.centroid.y) for g in frame.geometry]
    events: list[dict] = []
    for u in range(units):
        t = rng.uniform(0, 1800)
        x, y = rng.choice(centres)
        while t < hours * 3600:
            if rng.random() < 0.01:
                t += rng.choice([1800, 3 * 3600])  # off duty
            if rng.random() < 0.08:  # a new destination: a zone, or somewhere around
                x, y = rng.choice(centres)
                x, y = x + rng.gauss(0, 120), y + rng.gauss(0, 120)
            step = rng.choice([15, 30, 60, 60, 90, 120, 290, 300, 301, 420])
            t += step + rng.choice([0, 0, 0.5])
            x, y = x + rng.gauss(0, 25), y + rng.gauss(0, 25)
            lon, lat = to_lonlat.transform(x, y)
            moment = T0 + timedelta(seconds=t)
            event = {
                "event_id": f"u{u}-{len(events)}",
                "unit": f"u{u}",
                "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "lat": lat,
                "lon": lon,
                "mode": rng.choice(["foot", "foot", "vehicle", "cycle"]),
            }
            events.append(event)
            if rng.random() < 0.01:  # an equal-time ping with another id, elsewhere
                twin = dict(event, event_id=f"u{u}-{len(events)}-b", lon=lon + 0.003)
                events.append(twin)
    return events


def messy(frame, seed: int) -> list[bytes]:  # noqa: ANN001
    fast = FastClock("u1", timedelta(days=5), T0 + timedelta(hours=6), T0 + timedelta(hours=14))
    return real_feed(city_events(frame, seed=seed), seed=seed, fast=[fast])


@pytest.fixture(scope="module")
def city():
    wards = wards_from_frame(synthetic_wards(), source="synthetic")
    geography = geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0))
    frame = synthetic_zones()
    zones = zones_from_frame(frame, parse_schedule=parse_schedule, source="city")
    return geography, zones, frame


def report(city, lines: list[bytes], *, chunk: int = 997, **options) -> dict:  # noqa: ANN001
    geography, zones, _ = city
    batches = [
        parse_lines(lines[i : i + chunk], max_event_bytes=8192, first_position=i, keep_text=True)
        for i in range(0, len(lines), chunk)
    ]
    zoning = Zoning(zones, zone_config())
    return batch_reports(
        geography, batches, lane_config(), now_us=_NOW_US, zoning=zoning, **options
    ).document


def assert_zones_equal(ours: list[dict], oracle: list[dict]) -> None:
    assert [z["code"] for z in ours] == [z["code"] for z in oracle]
    for mine, theirs in zip(ours, oracle, strict=True):
        assert list(mine) == ["code", "name", "kind", "windows", "sessions"]
        for window in theirs["windows"]:
            assert mine["windows"][window] == theirs["windows"][window], (mine["code"], window)
        assert mine["sessions"] == theirs["sessions"], mine["code"]
        assert mine == theirs


@pytest.mark.parametrize("seed", range(3))
def test_every_order_of_a_messy_feed_gives_the_oracles_zone_figures(city, seed):
    lines = messy(city[2], seed)
    documents = {
        "as delivered": report(city, lines),
        "by time": report(city, by_time(lines)),
        "by unit": report(city, by_unit(lines)),
        "shuffled": report(city, shuffled(lines, seed), spill_rows=500),
    }
    first = documents["as delivered"]
    assert first["duplicates"] > 0 and first["after_as_of"] > 0  # re-sends, the fast clock
    oracle = reference_zones([x.decode() for x in lines], oracle_zones(city[2]),
                             as_of=first["as_of"], now=NOW)  # fmt: skip
    busy = [z for z in oracle if z["windows"]["28d"]["patrol_minutes"] > 0]
    assert len(busy) >= 8 and any(s["met"] for z in oracle for s in z["sessions"])
    for order, document in documents.items():
        assert_zones_equal(document["zones"], oracle)
        assert orjson.dumps(document) == orjson.dumps(first), order


def test_an_explicit_as_of_inside_a_session_leaves_it_open(city):
    lines = messy(city[2], 7)
    as_of = "2026-10-24T23:30:00Z"  # Saturday night, 00:30 BST: the town centre's session is on
    as_of_us = (datetime.fromisoformat(as_of) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    ours = report(city, list(reversed(lines)), as_of_us=as_of_us)
    oracle = reference_zones([x.decode() for x in lines], oracle_zones(city[2]), as_of=as_of,
                             now=NOW)  # fmt: skip
    assert_zones_equal(ours["zones"], oracle)
    (centre,) = [z for z in ours["zones"] if z["code"] == "TC"]
    assert centre["sessions"][-1]["open"] is True and centre["sessions"][-1]["met"] is None


def test_partitions_mode_counts_the_zones_of_the_pings_its_lanes_accept(city):
    lines = by_time(messy(city[2], 3))
    document = report(city, lines, partitions=2)
    oracle = reference_zones([x.decode() for x in lines], oracle_zones(city[2]),
                             as_of=document["as_of"], now=NOW)  # fmt: skip
    assert "too_late" not in document["rejected"]
    assert_zones_equal(document["zones"], oracle)


@pytest.fixture(scope="module")
def feed(city):
    lines = messy(city[2], 11)[:2500]
    return lines, orjson.dumps(report(city, lines))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), chunk=st.integers(1, 900), spill_rows=st.integers(50, 5000))
def test_any_permutation_of_the_lines_gives_the_identical_zones(city, feed, data, chunk,
                                                               spill_rows):  # fmt: skip
    lines, expected = feed
    order = data.draw(st.permutations(range(len(lines))), label="order")
    document = report(city, [lines[i] for i in order], chunk=chunk, spill_rows=spill_rows)
    assert orjson.dumps(document) == expected


def test_staffordshire_zones_give_the_oracles_figures(staffordshire):
    from beatlight.geo.geography import load_geography
    from tests.zones_city import staffordshire_zones

    frame = staffordshire_zones()
    zones = zones_from_frame(frame, parse_schedule=parse_schedule, source="staffordshire")
    city = (load_geography(staffordshire), zones, frame)
    lines = messy(frame, 2)
    document = report(city, shuffled(lines, 2))
    oracle = reference_zones([x.decode() for x in lines], oracle_zones(frame),
                             as_of=document["as_of"], now=NOW)  # fmt: skip
    assert_zones_equal(document["zones"], oracle)
