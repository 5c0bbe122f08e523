"""The batch report, figure for figure, against the independent naive oracle (tests/oracle.py).

Feeds with every fault a real feed has (duplicates, late and out-of-order pings,
bad coordinates, missing fields, inaccurate fixes, identifying extras, pings on
shared edges and vertices) over small real geometries, through the whole
pipeline: file → validation → intake → geo → presence → report.

Long because its feeds and geometries (:func:`_feed`, :func:`_geography`, also used by
tests/reports/conftest.py) belong beside the comparison they were built for.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import orjson
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from beatlight.configs import lane_config
from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.streams.batch import batch_report
from beatlight.streams.events import parse_lines
from tests.oracle import reference_report

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, tzinfo=UTC)
NOW = T0 + timedelta(days=40)
X0, Y0 = 400_000, 300_000


def _frame() -> gpd.GeoDataFrame:
    """Five wards in British National Grid: grid-aligned squares, a wedge, a two-part ward."""
    shapes = {
        "E05000003": box(X0, Y0, X0 + 1000, Y0 + 1000),
        "E05000001": box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
        "E05000004": box(X0, Y0 + 1000, X0 + 1000, Y0 + 2000),
        "E05000002": Polygon(
            [
                (X0 + 1000, Y0 + 1000),
                (X0 + 2350, Y0 + 1130),
                (X0 + 1900, Y0 + 2100),
                (X0 + 1000, Y0 + 2000),
            ]
        ),
        "E05000005": MultiPolygon(
            [box(X0 + 2100, Y0, X0 + 2530, Y0 + 470), box(X0 + 2600, Y0 + 500, X0 + 3010, Y0 + 910)]
        ),
    }
    frame = gpd.GeoDataFrame(
        {
            "code": list(shapes),
            "name": [f"Ward {c[-1]}" for c in shapes],
            "district": ["D1", "D1", "D2", "D2", "D2"],
        },
        geometry=list(shapes.values()),
        crs="EPSG:27700",
    )
    return frame.to_crs("EPSG:4326")


ATTRIBUTES = (
    "code,neighbourhood,population,target_minutes_per_week\n"
    "E05000003,West,1200,300\n"
    "E05000004,West,800,\n"
    "E05000001,East,2500,900\n"
    "E05000002,East,,\n"
)


def _geography(tmp_path):
    csv = tmp_path / "attributes.csv"
    csv.write_text(ATTRIBUTES)
    wards = wards_from_frame(_frame())
    return wards, geography_from_wards(
        wards, attributes=load_attributes(csv, wards, 600.0), force_name="Force area"
    )


def _oracle_wards(wards, geography) -> list[dict]:
    attrs = geography.attributes
    out = []
    for i, code in enumerate(wards.codes):
        pop = attrs.population[i]
        out.append(
            {
                "code": code,
                "name": wards.names[i],
                "geometry": wards.geometry.iloc[i],
                "neighbourhood": attrs.neighbourhood[i],
                "district": None if attrs.district is None else attrs.district[i],
                "district_name": None if attrs.district_name is None else attrs.district_name[i],
                "population": None if math.isnan(pop) else float(pop),
                "target_minutes_per_week": float(attrs.target_minutes_per_week[i]),
            }
        )
    return out


def _special_points(frame: gpd.GeoDataFrame) -> list[tuple[float, float]]:
    """Vertices (shared corners and edges included) as the file has them in WGS84."""
    points = []
    for geom in frame.geometry:
        polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
        for poly in polys:
            points += [(float(x), float(y)) for x, y in poly.exterior.coords]
    return points


def _feed(
    seed: int, frame: gpd.GeoDataFrame, *, days: int, units: int, late: bool = True
) -> list[str]:
    """A faulty feed in arrival order."""
    rnd = random.Random(seed)
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    specials = _special_points(frame)
    events: list[tuple[float, dict]] = []
    counter = 0
    breaks = [1800, 3600] + ([6 * 3600, 3 * 86_400] if days > 2 else [])
    for u in range(units):
        unit = f"u{u}"
        t = rnd.uniform(0, 3600)
        end = days * 86_400
        x, y = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        while t < end:
            if rnd.random() < 0.02:  # off duty for a while
                t += rnd.choice(breaks)
            step = rnd.choice([10, 30, 45, 60, 120, 290, 300, 301, 420])
            t += step + rnd.choice([0, 0, 0, 0.5, 0.000001])
            x = min(max(x + rnd.gauss(0, (maxx - minx) / 40), minx - 0.001), maxx + 0.001)
            y = min(max(y + rnd.gauss(0, (maxy - miny) / 40), miny - 0.001), maxy + 0.001)
            lon, lat = rnd.choice(specials) if rnd.random() < 0.05 else (x, y)
            counter += 1
            moment = T0 + timedelta(seconds=t)
            ts = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if rnd.random() < 0.1:
                ts = moment.astimezone(
                    __import__("datetime").timezone(timedelta(hours=1))
                ).isoformat()
            event = {
                "event_id": f"{unit}-{counter}",
                "unit": unit,
                "ts": ts,
                "lat": lat,
                "lon": lon,
            }
            if rnd.random() < 0.8:
                event["mode"] = rnd.choice(["foot", "foot", "vehicle", "cycle", "unknown"])
            if rnd.random() < 0.7:
                event["accuracy_m"] = rnd.choice(
                    [5, 12.5, 30, 60, 100, 100, 100.01, 400][: 6 + (rnd.random() < 0.1) * 2]
                )
            if rnd.random() < 0.05:
                event["officer_name"] = "PC Example"  # identifying extra: dropped on arrival
            events.append((t, event))
            if rnd.random() < 0.01:  # an equal-time ping with another id
                twin = dict(event, event_id=f"{unit}-{counter}-b", mode="foot")
                events.append((t, twin))
    lines: list[tuple[float, str]] = []
    for t, event in events:
        delay = 0.0
        roll = rnd.random()
        if roll < 0.03:
            delay = rnd.uniform(1, 600)  # out of order
        elif roll < 0.05 and late:
            delay = rnd.uniform(3000, 4300)  # late: some within the allowed hour, some beyond
        line = orjson.dumps(event).decode()
        fault = rnd.random()
        if fault < 0.01:
            line = line[: len(line) // 2]  # malformed
        elif fault < 0.02:
            line = orjson.dumps({k: v for k, v in event.items() if k != "ts"}).decode()
        elif fault < 0.03:
            line = orjson.dumps(
                dict(
                    event,
                    lat=rnd.choice([0, 91, "52.1", True]),
                    lon=0 if rnd.random() < 0.5 else event["lon"],
                )
            ).decode()
        elif fault < 0.035:
            line = orjson.dumps(dict(event, ts=(NOW + timedelta(hours=1)).isoformat())).decode()
        elif fault < 0.04:
            line = orjson.dumps(dict(event, note="x" * 9000)).decode()  # too_large
        elif fault < 0.045:
            line = orjson.dumps(dict(event, mode="horse")).decode()
        lines.append((t + delay, line))
        if rnd.random() < 0.03:  # duplicate delivery
            lines.append((t + delay + rnd.uniform(0, 900), line))
    lines.sort(key=lambda pair: pair[0])
    return [line for _, line in lines]


def _ours(geography, lines: list[str], as_of: str | None) -> dict:
    as_of_us = None
    if as_of:
        as_of_us = (datetime.fromisoformat(as_of) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
            microseconds=1
        )
    now_us = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    # Several batches, so finalisation and expiry are exercised as in a long file.
    batches = [
        parse_lines(lines[i : i + 700], max_event_bytes=8192, first_position=i)
        for i in range(0, len(lines), 700)
    ]
    return batch_report(geography, batches, lane_config(), now_us=now_us, as_of_us=as_of_us)


def assert_same(ours, theirs, path="report"):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert set(ours) >= set(theirs), f"{path}: missing {set(theirs) - set(ours)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(theirs, float) and not isinstance(theirs, bool):
        assert ours is not None and math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9), (
            f"{path}: ours {ours} != oracle {theirs}"
        )
    else:
        assert ours == theirs, f"{path}: ours {ours!r} != oracle {theirs!r}"


@pytest.mark.parametrize("seed", range(6))
def test_dense_day_matches_the_oracle(tmp_path, seed):
    wards, geography = _geography(tmp_path)
    lines = _feed(seed, wards.geometry.to_frame(), days=1, units=6)
    oracle = reference_report(lines, _oracle_wards(wards, geography), now=NOW)
    assert_same(_ours(geography, lines, None), oracle)


@pytest.mark.parametrize("seed", range(3))
def test_sparse_month_matches_the_oracle_at_an_hour_boundary(tmp_path, seed):
    wards, geography = _geography(tmp_path)
    lines = _feed(100 + seed, wards.geometry.to_frame(), days=35, units=2)
    as_of = (T0 + timedelta(days=30, hours=5)).isoformat()
    oracle = reference_report(lines, _oracle_wards(wards, geography), as_of=as_of, now=NOW)
    assert_same(_ours(geography, lines, as_of), oracle)


def test_lanes_per_partition_merge_to_the_single_lane_report(tmp_path):
    """Without late events, splitting by partition (one watermark each) changes no figure."""
    wards, geography = _geography(tmp_path)
    lines = _feed(7, wards.geometry.to_frame(), days=2, units=8, late=False)
    now_us = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    def report(partitions):
        batches = [
            parse_lines(lines[i : i + 500], max_event_bytes=8192) for i in range(0, len(lines), 500)
        ]
        return batch_report(geography, batches, lane_config(), now_us=now_us, partitions=partitions)

    single, split = report(1), report(4)
    assert single["accepted"] > 1000 and "too_late" not in single["rejected"]
    assert_same(split, single)


def test_a_partitions_own_watermark_decides_lateness(tmp_path):
    """Unit a's ping is 2 h behind units b's and c's but not behind its own partition's
    watermark (two units ahead: the watermark's rule lets one run ahead unnoticed)."""
    from beatlight.streams.partitioning import partition_of

    wards, geography = _geography(tmp_path)
    units = [f"u{i}" for i in range(40)]
    a = units[0]
    b, c = [u for u in units if partition_of(u, 4) != partition_of(a, 4)][:2]
    lon, lat = wards.geometry.iloc[0].representative_point().coords[0]

    def event(eid, unit, hour):
        return orjson.dumps(
            {
                "event_id": eid,
                "unit": unit,
                "lat": lat,
                "lon": lon,
                "ts": (T0 + timedelta(hours=hour)).isoformat(),
            }
        ).decode()

    lines = [event("1", a, 0), event("2", b, 3), event("4", c, 3), event("3", a, 1)]
    now_us = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    one = batch_report(
        geography,
        [parse_lines(lines, max_event_bytes=8192)],
        lane_config(),
        now_us=now_us,
        partitions=1,
    )
    four = batch_report(
        geography,
        [parse_lines(lines, max_event_bytes=8192)],
        lane_config(),
        now_us=now_us,
        partitions=4,
    )
    assert one["rejected"] == {"too_late": 1} and one["accepted"] == 3
    assert four["rejected"] == {} and four["accepted"] == 4
