"""Test cities for zones: a town centre and overlapping 150 m hot spots, generated (deterministic).

:func:`synthetic_zones` lies over the SYNTHETIC wards (``geo/synthetic.py``);
:func:`staffordshire_zones` over the real Staffordshire wards (Hanley, the
centre of Stoke-on-Trent, and hot spots in the county's towns). Both have a
town centre with Friday and Saturday night sessions crossing midnight, hot
spots overlapping each other and the centre, a Saturday-night schedule that
meets the clock changes, zones without any target and a public one. Made for
stream-versus-batch tests that nobody tuned the code to.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

__all__ = ["oracle_zones", "staffordshire_zones", "synthetic_zones", "write_zones"]

_BNG = "EPSG:27700"
_HOT_SPOT_M = 150.0
# (code, kind, schedule, weekly target, session target, max gap, public): one row per shape
_COMMITMENTS = [
    ("TC", "town_centre", "Fri,Sat 20:00-02:00", 1200.0, 120.0, 60.0, True),
    ("HS01", "hotspot", "Fri,Sat 22:00-03:00", 240.0, 15.0, 120.0, False),
    ("HS02", "hotspot", "Sat 20:00-02:00", 180.0, 12.0, 120.0, False),  # meets the clock changes
    ("HS03", "hotspot", "Mon-Fri 15:00-18:00", 300.0, 15.0, None, False),
    ("HS04", "hotspot", "Sat-Mon 23:00-01:00", None, None, 90.0, False),  # a wrapping range
    ("HS05", "hotspot", None, 120.0, None, None, False),  # a weekly target only
    ("HS06", "hotspot", None, None, None, None, True),  # nothing to meet
    ("HS07", "hotspot", "Sun 00:30-02:30", 60.0, 10.0, None, False),  # in both changed hours
    ("HS08", "hotspot", "Thu 18:00-24:00; Fri 08:00-10:00", 200.0, 20.0, 120.0, False),
    ("HS09", "hotspot", "Fri,Sat 20:00-02:00", 240.0, 16.0, 120.0, False),
    ("PK01", "park", "Sat,Sun 10:00-16:00", 300.0, 30.0, None, True),
]


def synthetic_zones(seed: int = 11) -> gpd.GeoDataFrame:
    """Zones over the SYNTHETIC wards (EPSG:27700): same seed, same zones.

    The town centre is an irregular 1 km polygon across ward boundaries near the
    middle of the synthetic area; hot spots cluster in and around it (some
    overlapping each other), the park lies apart.
    """
    rng = np.random.default_rng(seed)
    cx, cy = 388_000.0, 346_000.0  # the middle of the synthetic area
    return _city(rng, cx, cy, spread=700.0, far=(cx + 3_500.0, cy - 2_500.0))


def staffordshire_zones(seed: int = 11) -> gpd.GeoDataFrame:
    """Zones over Staffordshire (EPSG:27700): Hanley town centre, hot spots around it and in
    Stoke, Newcastle-under-Lyme, Longton and Stafford; Hanley Park as the park."""
    rng = np.random.default_rng(seed)
    to_bng = Transformer.from_crs("EPSG:4326", _BNG, always_xy=True)
    cx, cy = to_bng.transform(-2.1747, 53.0246)  # Hanley bus station
    frame = _city(rng, cx, cy, spread=500.0, far=to_bng.transform(-2.1838, 53.0155))
    towns = {  # hot spots outside the centre: Stoke, Newcastle-under-Lyme, Longton, Stafford
        "HS06": (-2.1850, 53.0040),
        "HS07": (-2.2270, 53.0110),
        "HS08": (-2.1361, 52.9886),
        "HS09": (-2.1170, 52.8064),
    }
    for code, (lon, lat) in towns.items():
        x, y = to_bng.transform(lon, lat)
        frame.loc[frame["code"] == code, "geometry"] = _hot_spot(rng, x, y)
    return frame


def write_zones(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write zones to a GeoJSON file (EPSG:4326, as a force would publish it); returns the path."""
    path = Path(path)
    frame.to_crs("EPSG:4326").to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def oracle_zones(frame: gpd.GeoDataFrame) -> list[dict]:
    """The zones as ``tests/zone_oracle.py`` takes them (blank values dropped)."""
    zones = []
    for row in frame.to_dict("records"):
        zone = {k: v for k, v in row.items() if v is not None and v == v}  # NaN != NaN
        zone["crs"] = frame.crs.to_string()
        zones.append(zone)
    return zones


def _city(rng: np.random.Generator, cx: float, cy: float, spread: float, far) -> gpd.GeoDataFrame:
    """The town centre at (cx, cy), hot spots around it, the park at ``far`` (BNG metres)."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = rng.uniform(0.35, 0.55, 9) * 2 * spread / 1.4
    centre = shapely.Polygon(
        np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    )
    shapes = [centre.convex_hull if not centre.is_valid else centre]
    # HS01 and HS02 overlap each other inside the centre; HS03 straddles its edge.
    spots = [(cx - 60, cy + 40), (cx + 40, cy - 20), (cx + spread * 0.55, cy)]
    spots += [tuple(p) for p in rng.uniform(-spread, spread, (6, 2)) + (cx, cy)]
    shapes += [_hot_spot(rng, x, y) for x, y in spots]
    shapes.append(shapely.Point(*far).buffer(250.0, quad_segs=16))
    rows = []
    for (code, kind, schedule, weekly, session, gap, public), shape in zip(
        _COMMITMENTS, shapes, strict=True
    ):
        name = {"TC": "Town centre", "PK01": "Park"}.get(code, f"Hot spot {code[2:]}")
        rows.append(
            {
                "code": code,
                "name": name,
                "kind": kind,
                "target_minutes_per_week": weekly,
                "schedule": schedule,
                "session_target_minutes": session,
                "max_gap_minutes": gap,
                "public": public,
                "geometry": shape,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=_BNG)


def _hot_spot(rng: np.random.Generator, x: float, y: float) -> shapely.Geometry:
    """A 150 m box or a circle of 150 m diameter (as hot-spot funding draws them)."""
    half = _HOT_SPOT_M / 2
    if rng.random() < 0.5:
        return shapely.box(x - half, y - half, x + half, y + half)
    return shapely.Point(x, y).buffer(half, quad_segs=16)
