"""Zones files (SPEC "Zones and scheduled commitments"): columns, refusals, matching (Z1)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from beatlight.geo import BoundaryError
from beatlight.geo.zones import load_zones, zones_from_frame
from beatlight.streams.schedule import parse_schedule
from tests.geo.fixtures import X0, Y0, C, frame, square

pytestmark = pytest.mark.unit


def zone_frame(**overrides) -> gpd.GeoDataFrame:
    """Two overlapping zones in BNG: Z2 (listed first) a 400 m square, Z1 a 150 m box in it."""
    columns = {
        "code": ["Z2", "Z1"],
        "name": ["Town centre", "Bus station"],
        "kind": ["town_centre", None],
        "target_minutes_per_week": [600, None],
        "schedule": ["Fri,Sat 20:00-02:00", None],
        "session_target_minutes": [120, None],
        "max_gap_minutes": [60.0, None],
        "public": ["true", None],
    }
    geometry = [square(0, 0), shapely.box(X0 + C, Y0 + C, X0 + C + 150, Y0 + C + 150)]
    for key, value in overrides.items():
        if key == "geometry":
            geometry = value
        elif value is None:
            columns.pop(key)
        else:
            columns[key] = value
    return frame(columns, geometry)


def build(table=None, **kw):
    return zones_from_frame(
        zone_frame() if table is None else table, parse_schedule=parse_schedule, **kw
    )


def refusal(**overrides) -> str:
    with pytest.raises(BoundaryError) as error:
        build(zone_frame(**overrides))
    message = str(error.value)
    assert "\n" not in message
    return message


def test_zones_are_in_code_order_with_their_commitments():
    zones = build()
    assert zones.codes.tolist() == ["Z1", "Z2"]
    assert zones.names.tolist() == ["Bus station", "Town centre"]
    assert zones.kinds.tolist() == [None, "town_centre"]
    assert math.isnan(zones.target_minutes_per_week[0]) and zones.target_minutes_per_week[1] == 600
    assert zones.schedules[0] is None and zones.schedules[1].text == "Fri,Sat 20:00-02:00"
    assert zones.schedule_texts.tolist() == [None, "Fri,Sat 20:00-02:00"]
    assert zones.session_target_minutes[1] == 120 and zones.max_gap_minutes[1] == 60
    assert zones.public.tolist() == [False, True]
    assert zones.metric_crs == "EPSG:27700"
    assert zones.metric.iloc[0].area == pytest.approx(150 * 150)
    assert zones.geometry.crs.to_string() == "EPSG:4326"
    assert not zones.codes.flags.writeable


def test_only_code_and_name_are_required():
    zones = build(frame({"code": ["A"], "name": ["Park"]}, [square(0, 0)]))
    assert len(zones) == 1 and zones.schedules == (None,) and not zones.public[0]


def test_a_point_is_in_every_zone_covering_it_boundary_included():
    zones = build()
    x = np.array([X0 + C + 75, X0 + C, X0 + 10, X0 + 2 * C, X0 + 5 * C, np.nan])
    y = np.array([Y0 + C + 75, Y0 + C + 150, Y0 + 10, Y0 + 2 * C, Y0 + 5 * C, Y0])
    hits = zones.match(x, y)
    # inside both; on Z1's corner (and inside Z2); Z2 only; on Z2's edge... and nowhere
    assert [hits.of(i).tolist() for i in range(len(x))] == [[0, 1], [0, 1], [1], [1], [], []]
    assert hits.offsets.tolist() == [0, 2, 4, 5, 6, 6, 6]
    assert hits.points().tolist() == [0, 0, 1, 1, 2, 3]


def test_match_lonlat_converts_to_the_metric_crs():
    zones = build()
    lon, lat = (
        gpd.GeoSeries(shapely.points([X0 + C + 75], [Y0 + C + 75]), crs=27700)
        .to_crs(4326)
        .iloc[0]
        .xy
    )
    assert zones.match_lonlat(np.array(lon), np.array(lat)).of(0).tolist() == [0, 1]


@pytest.mark.filterwarnings("ignore:Column names longer:UserWarning")
@pytest.mark.filterwarnings("ignore:Normalized/laundered field name:RuntimeWarning")
def test_shapefile_truncated_column_names_are_accepted(tmp_path):
    path = tmp_path / "zones.shp"
    zone_frame().to_file(path, engine="pyogrio")
    zones = load_zones(path, parse_schedule=parse_schedule)
    assert zones.target_minutes_per_week[1] == 600 and zones.max_gap_minutes[1] == 60
    assert zones.schedules[1].text == "Fri,Sat 20:00-02:00" and zones.public.tolist() == [
        False,
        True,
    ]


def test_a_geojson_file_in_wgs84_loads(tmp_path):
    path = tmp_path / "zones.geojson"
    zone_frame().to_crs(4326).to_file(path, engine="pyogrio")
    zones = load_zones(path, parse_schedule=parse_schedule)
    assert zones.metric.iloc[0].area == pytest.approx(150 * 150, rel=1e-6)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"schedule": ["Fri 20:00", None]}, "zone Z2 has a bad schedule: cannot read 'Fri 20:00'"),
        ({"code": ["Z1", "Z1"]}, "zone code Z1 appears 2 times: codes must be unique"),
        ({"code": ["Z1", " "]}, "has no code"),
        ({"colour": ["red", "blue"]}, "unknown column 'colour'"),
        ({"name": None}, "has no name column"),
        ({"name": ["Town", ""]}, "zone Z1 has no name"),
        ({"geometry": [square(0, 0), shapely.Polygon()]}, "zone Z1 has no geometry"),
        ({"geometry": [square(0, 0), None]}, "zone Z1 has no geometry"),
        (
            {"geometry": [square(0, 0), shapely.Point(X0, Y0)]},
            "zone Z1 is a Point: zones must be polygons (buffer",
        ),
        (
            {"target_minutes_per_week": [0, None]},
            "zone Z2 has target_minutes_per_week '0': give a number",
        ),
        ({"session_target_minutes": [-5, None]}, "zone Z2 has session_target_minutes '-5'"),
        ({"max_gap_minutes": ["soon", None]}, "zone Z2 has max_gap_minutes 'soon'"),
        ({"public": ["true", "maybe"]}, "zone Z1 has public 'maybe': write true or false"),
        ({"max_gap_minutes": [None, 30]}, "zone Z1 has max_gap_minutes but no schedule"),
        (
            {"geometry": [square(0, 0), shapely.LineString([(X0, Y0), (X0, Y0)]).buffer(0)]},
            "zone Z1 has no geometry",
        ),
    ],
)
def test_bad_zones_are_refused_in_one_line_naming_the_zone_and_the_fix(overrides, says):
    assert says in refusal(**overrides)


def test_a_bow_tie_is_repaired_and_one_that_has_no_area_is_refused():
    bow_tie = shapely.Polygon([(X0, Y0), (X0 + C, Y0 + C), (X0 + C, Y0), (X0, Y0 + C)])
    zones = build(zone_frame(geometry=[square(0, 0), bow_tie]))
    assert zones.metric.iloc[0].is_valid and zones.metric.iloc[0].area > 0
    flat = shapely.Polygon([(X0, Y0), (X0 + C, Y0), (X0 + 2 * C, Y0)])
    assert "zone Z1 has no polygonal area once repaired" in refusal(geometry=[square(0, 0), flat])


def test_public_accepts_booleans_and_common_words():
    zones = build(zone_frame(public=[True, "No"]))
    assert zones.public.tolist() == [False, True]
    zones = build(zone_frame(public=["YES", 0]))
    assert zones.public.tolist() == [False, True]


def test_an_empty_file_is_refused():
    with pytest.raises(BoundaryError, match="has no zones"):
        build(zone_frame().iloc[:0])


def test_matching_many_points_agrees_with_covers():
    zones = build()
    rng = np.random.default_rng(1)
    x = X0 - 100 + rng.uniform(0, 700, 5000)
    y = Y0 - 100 + rng.uniform(0, 700, 5000)
    x[:100] = X0 + C  # on Z1's western edge and Z2's interior
    hits = zones.match(x, y)
    for i in range(0, 5000, 7):
        point = shapely.Point(x[i], y[i])
        expected = [z for z in range(len(zones)) if zones.metric.iloc[z].covers(point)]
        assert hits.of(i).tolist() == expected
