"""The SYNTHETIC demo wards: deterministic, tiling, three districts, loadable."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from beatlight.geo import synthetic_wards, wards_from_frame

pytestmark = pytest.mark.unit


def test_same_seed_same_wards_other_seed_other_wards():
    first, again, other = synthetic_wards(), synthetic_wards(), synthetic_wards(seed=8)
    assert first.geometry.geom_equals_exact(again.geometry, tolerance=0).all()
    assert not first.geometry.geom_equals_exact(other.geometry, tolerance=1e-6).all()


def test_columns_codes_and_districts():
    wards = synthetic_wards()
    assert list(wards.columns) == ["code", "name", "district", "district_name", "geometry"]
    assert wards.crs.to_epsg() == 4326
    assert len(wards) == 24
    assert wards["code"].iloc[0] == "SYN00001" and wards["code"].iloc[-1] == "SYN00024"
    assert wards["name"].iloc[0] == "Synthetic ward 1"
    assert wards.groupby("district").size().to_dict() == {"SYND1": 8, "SYND2": 8, "SYND3": 8}
    assert set(wards["district_name"]) == {f"Synthetic district {x}" for x in "ABC"}


def test_wards_tile_the_rectangle_without_gaps_or_overlaps():
    metric = wards_from_frame(synthetic_wards()).metric.values
    assert shapely.is_valid(metric).all()
    assert shapely.area(metric).sum() / 1e6 == pytest.approx(120.0, rel=1e-4)
    assert shapely.area(shapely.union_all(metric)) / 1e6 == pytest.approx(120.0, rel=1e-4)
    # Irregular, but no slivers: every ward between a third and three times the mean.
    areas = shapely.area(metric) / 1e6
    assert 5 / 3 < areas.min() and areas.max() < 15 and np.ptp(areas) > 1


def test_districts_are_contiguous():
    wards = synthetic_wards().to_crs("EPSG:27700")
    for _, district in wards.groupby("district"):
        assert shapely.union_all(district.geometry.values).geom_type == "Polygon"
