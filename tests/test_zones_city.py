"""The zones test cities (tests/zones_city.py) load, overlap and lie over their wards."""

from __future__ import annotations

import pytest
import shapely

from beatlight.geo import load_wards, write_synthetic
from beatlight.geo.zones import load_zones
from beatlight.streams.schedule import parse_schedule
from tests.zones_city import oracle_zones, staffordshire_zones, synthetic_zones, write_zones

pytestmark = pytest.mark.integration


def _check(zones_frame, wards_path, tmp_path):
    zones = load_zones(write_zones(zones_frame, tmp_path / "zones.geojson"),
                       parse_schedule=parse_schedule)  # fmt: skip
    wards = load_wards(wards_path)
    assert len(zones) == 11 and zones.public.sum() >= 1
    assert any(s is None for s in zones.schedules) and any(s is not None for s in zones.schedules)
    assert shapely.union_all(wards.metric.values).contains(shapely.union_all(zones.metric.values))
    metric = zones.metric.values
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    overlapping = {(zones.codes[i], zones.codes[j]) for i, j in zip(left, right, strict=True)}
    assert ("HS01", "HS02") in overlapping and ("HS01", "TC") in overlapping
    assert {z["code"] for z in oracle_zones(zones_frame)} == set(zones.codes)


def test_the_synthetic_city(tmp_path):
    assert synthetic_zones().equals(synthetic_zones())
    _check(synthetic_zones(), write_synthetic(tmp_path / "wards.geojson"), tmp_path)


def test_the_staffordshire_city(tmp_path, staffordshire):
    _check(staffordshire_zones(), staffordshire, tmp_path)
