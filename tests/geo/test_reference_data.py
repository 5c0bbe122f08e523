"""The real reference boundaries (../shared/data): Staffordshire and England, skipped if absent."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from beatlight.geo import Grid, WardIndex, load_wards, ward_cells
from tests.geo.fixtures import reference_file

pytestmark = pytest.mark.integration

STAFFORDSHIRE_KM2 = 2_717.0


@pytest.fixture(scope="module")
def staffordshire_wards():
    return load_wards(reference_file("staffordshire-wards.geojson"))


def test_staffordshire_loads_every_ward_in_code_order(staffordshire_wards):
    assert len(staffordshire_wards) == 211
    codes = list(staffordshire_wards.codes)
    assert codes == sorted(codes) and len(set(codes)) == 211
    assert all(code.startswith("E05") for code in codes)
    assert staffordshire_wards.repaired == ()
    assert staffordshire_wards.geometry.is_valid.all()


def test_staffordshire_area_matches_the_reference(staffordshire_wards):
    assert staffordshire_wards.area_km2.sum() == pytest.approx(STAFFORDSHIRE_KM2, rel=0.01)


def test_staffordshire_names_and_districts_are_detected(staffordshire_wards):
    assert "Abbey Hulton and Townsend" in set(staffordshire_wards.names)
    assert len(set(staffordshire_wards.district_codes)) == 9
    assert "Stoke-on-Trent" in set(staffordshire_wards.district_names)


def test_staffordshire_ward_cells_are_plausible(staffordshire_wards):
    per_ward = ward_cells(staffordshire_wards.metric, 200.0)
    total = sum(len(cells) for cells in per_ward)
    # Interior cells ≈ area / 0.04 km²; boundary cells add some, shared ones count twice.
    inner = staffordshire_wards.area_km2.sum() / 0.04
    assert inner < total < 1.3 * inner
    assert all(len(cells) > 0 and (np.diff(cells) > 0).all() for cells in per_ward)


def test_every_staffordshire_ward_contains_its_own_representative_point(staffordshire_wards):
    points = shapely.point_on_surface(staffordshire_wards.geometry.values)
    index = WardIndex(staffordshire_wards.geometry)
    ward = index.match(shapely.get_x(points), shapely.get_y(points))
    assert ward.tolist() == list(range(211))


def test_pings_fall_in_cells_of_their_ward(staffordshire_wards):
    rng = np.random.default_rng(11)
    west, south, east, north = staffordshire_wards.geometry.total_bounds
    lon, lat = rng.uniform(west, east, 20_000), rng.uniform(south, north, 20_000)
    ward = WardIndex(staffordshire_wards.geometry).match(lon, lat)
    cells = Grid(staffordshire_wards.metric_crs, 200.0).cells(lon, lat)
    per_ward = ward_cells(staffordshire_wards.metric, 200.0)
    inside = np.flatnonzero(ward >= 0)
    assert inside.size > 5_000
    found = [np.isin(cells[i], per_ward[ward[i]]) for i in inside]
    assert all(found)


def test_england_loads_with_its_invalid_ward_repaired():
    wards = load_wards(reference_file("england-wards.geojson.gz"))
    assert len(wards) == 7_681
    assert "E05004205" in wards.repaired
    assert wards.geometry.is_valid.all() and wards.metric.is_valid.all()
    assert set(wards.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert wards.district_codes is not None and wards.district_names is not None
    assert 125_000 < wards.area_km2.sum() < 135_000
