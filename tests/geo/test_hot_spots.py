"""N hot spots where the pings are: they load with the zones loader, sit on the points given,
overlap where they should, carry the mix of commitments, and come out the same for a seed."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from beatlight.geo.demo_zones import write_demo_zones
from beatlight.geo.hot_spots import COMMITMENTS, OVERLAP_EVERY, hot_spot_zones
from beatlight.geo.zones import load_zones
from beatlight.streams.schedule import parse_schedule

pytestmark = pytest.mark.unit


def pings(n: int = 2000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Points round Stoke-on-Trent, three of them without a place (as a feed's faults)."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-2.25, -2.10, n), rng.uniform(52.95, 53.05, n)
    lon[5], lat[7], lat[9] = np.nan, np.inf, 93.5  # no latitude is over 90
    return lon, lat


def test_the_hot_spots_load_and_carry_the_mix_of_commitments(tmp_path) -> None:
    lon, lat = pings()
    frame = hot_spot_zones(lon, lat, 40, seed=1)
    zones = load_zones(write_demo_zones(frame, tmp_path / "hot.geojson"),
                       parse_schedule=parse_schedule)  # fmt: skip
    assert list(zones.codes) == [f"HS{k:04d}" for k in range(1, 41)]
    expected = [COMMITMENTS[k % len(COMMITMENTS)][1] for k in range(40)]
    assert list(zones.schedule_texts) == expected
    assert sum(s is None for s in expected) == 12  # weekly targets only, and nothing at all
    assert (np.isnan(zones.max_gap_minutes) == [c[4] is None for c in COMMITMENTS] * 4).all()
    assert zones.public.sum() == 8
    # 150 m boxes and circles, both kinds drawn (a little area lost to the trip through WGS84).
    areas = zones.metric.area.to_numpy()
    assert np.allclose(np.sort(areas)[[0, -1]], [np.pi * 75**2, 150**2], rtol=0.02)


def test_each_hot_spot_sits_on_a_ping_and_every_tenth_overlaps_the_one_before() -> None:
    lon, lat = pings()
    frame = hot_spot_zones(lon, lat, 40, seed=1)
    shapes = frame.geometry.to_numpy()
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(lon, lat)
    on_pings = shapely.points(x, y)
    centres = shapely.centroid(shapes)
    moved = set(range(OVERLAP_EVERY - 1, 40, OVERLAP_EVERY))
    for k, centre in enumerate(centres):
        nearest = shapely.distance(on_pings, centre).min()
        if k in moved:
            assert shapely.intersects(shapes[k], shapes[k - 1])
            assert 60 - 1 <= shapely.distance(centre, centres[k - 1]) <= 110 + 1
        else:
            assert nearest < 1e-6  # centred on a ping (never on the ones without a place)
    apart = [k for k in range(1, 40) if k not in moved]
    assert sum(shapely.intersects(shapes[k], shapes[k - 1]) for k in apart) < len(apart) / 2


def test_same_points_and_seed_same_zones_and_too_few_points_refused() -> None:
    lon, lat = pings()
    one, two = hot_spot_zones(lon, lat, 25, seed=4), hot_spot_zones(lon, lat, 25, seed=4)
    assert one.equals(two)
    other = hot_spot_zones(lon, lat, 25, seed=5)
    assert not shapely.equals(one.geometry.to_numpy(), other.geometry.to_numpy()).all()
    with pytest.raises(ValueError, match="at least 2001 points with coordinates, not 1997"):
        hot_spot_zones(lon, lat, 2001)
