"""The demo's zones: they load with the zones loader and lie over the wards they are for."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from beatlight.geo.boundaries import load_wards, wards_from_frame
from beatlight.geo.demo_zones import (
    demo_zones_for,
    staffordshire_demo_zones,
    synthetic_demo_zones,
    write_demo_zones,
    zone_points,
)
from beatlight.geo.synthetic import synthetic_wards
from beatlight.geo.zones import load_zones
from beatlight.streams.schedule import parse_schedule
from tests.geo.fixtures import reference_file

pytestmark = pytest.mark.unit


def wards_under(wards, zones) -> dict[str, set[str]]:  # noqa: ANN001
    """The wards each zone overlaps, by zone code."""
    found = {}
    for code, shape in zip(zones.codes, zones.metric, strict=True):
        hit = shapely.intersects(np.asarray(wards.metric.to_numpy(), dtype=object), shape)
        found[str(code)] = {str(c) for c in wards.codes[hit]}
    return found


def loaded(frame, tmp_path):  # noqa: ANN001, ANN201
    return load_zones(write_demo_zones(frame, tmp_path / "zones.geojson"),
                      parse_schedule=parse_schedule)  # fmt: skip


@pytest.mark.parametrize("make", [synthetic_demo_zones, staffordshire_demo_zones])
def test_the_demo_zones_load_with_the_zones_loader(make, tmp_path) -> None:
    zones = loaded(make(), tmp_path)
    assert list(zones.codes) == ["HS01", "HS02", "HS03", "HS04", "HS05", "TC01"]
    assert list(zones.public) == [False] * 5 + [True]  # the town centre only
    centre = list(zones.codes).index("TC01")
    assert zones.schedule_texts[centre] == "Fri,Sat 20:00-02:00"
    assert zones.session_target_minutes[centre] == 120
    assert sum(t is None for t in zones.schedule_texts) == 1  # a weekly target only
    assert np.nanmax(zones.target_minutes_per_week) == 120
    hot_spots = zones.metric[np.asarray(zones.kinds) == "hotspot"]
    # 150 m boxes and circles (a few square metres lost to the round trip through WGS84).
    assert np.allclose(hot_spots.area, [np.pi * 75**2, 150**2] * 2 + [np.pi * 75**2], rtol=0.02)
    points = zone_points(zones.metric)
    assert shapely.covers(zones.metric.to_numpy(), shapely.points(points)).all()


def test_the_synthetic_zones_lie_over_the_synthetic_wards(tmp_path) -> None:
    wards = wards_from_frame(synthetic_wards(), source="synthetic")
    zones = loaded(demo_zones_for(wards), tmp_path)
    under = wards_under(wards, zones)
    assert len(under["TC01"]) >= 3  # a town centre across ward boundaries
    assert all(under.values())
    # Hot spots in each of the three synthetic districts.
    districts = {str(d) for d, c in zip(synthetic_wards()["district"], wards.codes, strict=True)
                 if any(str(c) in v for k, v in under.items() if k != "HS05")}  # fmt: skip
    assert districts == {"SYND1", "SYND2", "SYND3"}


def test_the_staffordshire_zones_lie_over_hanley_stoke_newcastle_and_stafford(tmp_path) -> None:
    wards = load_wards(reference_file("staffordshire-wards.geojson"))
    zones = loaded(demo_zones_for(wards), tmp_path)
    names = dict(zip(map(str, wards.codes), map(str, wards.names), strict=True))
    under = {code: {names[c] for c in found} for code, found in wards_under(wards, zones).items()}
    assert "Etruria and Hanley" in under["TC01"] and len(under["TC01"]) >= 2
    assert "Etruria and Hanley" in under["HS01"]  # the bus station, inside the town centre
    assert "Hanley Park and Shelton" in under["HS02"]  # Stoke station
    assert under["HS03"] == {"Town"}  # Newcastle-under-Lyme
    assert under["HS04"] == {"Forebridge"}  # Stafford
    assert shapely.covers(zones.metric[list(zones.codes).index("TC01")],
                          zones.metric[list(zones.codes).index("HS01")])  # fmt: skip


def test_other_wards_get_no_made_up_zones() -> None:
    frame = synthetic_wards().to_crs("EPSG:27700")
    frame["geometry"] = frame.geometry.translate(100_000, 0)  # the same wards, 100 km east
    assert demo_zones_for(wards_from_frame(frame, source="elsewhere")) is None
