"""The demo's zones, generated in code: a town centre and a few 150 m hot spots.

``beatlight demo`` runs on the Staffordshire wards (``../shared/data``) or on the
SYNTHETIC demo wards (:mod:`beatlight.geo.synthetic`); each has a set of made-up
zones here, drawn for the demo and not any force's real commitments. Both have a
town centre with Friday and Saturday night sessions (the only public zone), hot
spots with night sessions owed 12-16 minute visits at least every 2 hours (as in
the Sacramento trial), and one hot spot with a weekly target only.

:func:`demo_zones_for` picks the set that lies over the wards given, so a force's
own boundary file gets no made-up zones. The frames have the zones file's columns
(SPEC "Zones and scheduled commitments") and load with
:func:`beatlight.geo.zones.zones_from_frame`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

__all__ = [
    "demo_zones_for",
    "staffordshire_demo_zones",
    "synthetic_demo_zones",
    "write_demo_zones",
    "zone_points",
]

_BNG = "EPSG:27700"
_HALF = 75.0  # a 150 m hot spot
_NIGHTS = "Fri,Sat 20:00-02:00"
# code, name, kind, schedule, weekly target, session target, max gap, public
_ZONES = [
    ("TC01", "Town centre", "town_centre", _NIGHTS, None, 120.0, 60.0, True),
    ("HS01", "Bus station", "hotspot", "Fri,Sat 22:00-03:00", None, 15.0, 120.0, False),
    ("HS02", "Station approach", "hotspot", _NIGHTS, None, 15.0, 120.0, False),
    ("HS03", "High street", "hotspot", _NIGHTS, None, 12.0, 120.0, False),
    ("HS04", "Market square", "hotspot", _NIGHTS, None, 16.0, 120.0, False),
    ("HS05", "Retail park", "hotspot", None, 120.0, None, None, False),
]
# Staffordshire (lon, lat): Hanley's centre and its bus station, Stoke station,
# Newcastle-under-Lyme's high street, Stafford's market square, Longton.
_STAFFORDSHIRE = [
    (-2.1775, 53.0240),
    (-2.1747, 53.0246),
    (-2.1808, 53.0079),
    (-2.2270, 53.0110),
    (-2.1170, 52.8064),
    (-2.1361, 52.9886),
]
# The synthetic area (BNG metres): its middle, and points in its other districts.
_SYNTHETIC = [
    (388_000.0, 346_000.0),
    (388_060.0, 346_040.0),
    (385_200.0, 348_100.0),
    (391_500.0, 343_600.0),
    (384_100.0, 343_200.0),
    (392_400.0, 348_700.0),
]
# The town centre's outline around its point: an irregular polygon about 1 km across.
_CENTRE = [(-520, -80), (-330, 360), (40, 470), (430, 300), (520, -60), (280, -420), (-160, -470)]


def staffordshire_demo_zones() -> gpd.GeoDataFrame:
    """Made-up zones over the Staffordshire wards (EPSG:27700): Hanley town centre and
    hot spots in Hanley, Stoke, Newcastle-under-Lyme, Stafford and Longton."""
    to_bng = Transformer.from_crs("EPSG:4326", _BNG, always_xy=True)
    return _frame([to_bng.transform(lon, lat) for lon, lat in _STAFFORDSHIRE])


def synthetic_demo_zones() -> gpd.GeoDataFrame:
    """Made-up zones over the SYNTHETIC demo wards (EPSG:27700)."""
    return _frame(_SYNTHETIC)


def demo_zones_for(wards: Any) -> gpd.GeoDataFrame | None:
    """The demo's zones lying over these wards (``geo.boundaries.Wards``), or None.

    A set is chosen when every one of its zones lies within the wards, so the
    Staffordshire wards get the Staffordshire zones, the synthetic wards theirs,
    and any other boundary file none.
    """
    area = shapely.union_all(np.asarray(wards.metric.to_numpy(), dtype=object))
    for make in (staffordshire_demo_zones, synthetic_demo_zones):
        frame = make().to_crs(wards.metric_crs)
        if shapely.within(np.asarray(frame.geometry.values), area).all():
            return frame
    return None


def write_demo_zones(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write zones as GeoJSON in EPSG:4326 (as a force publishes them); returns the path."""
    path = Path(path)
    frame.to_crs("EPSG:4326").to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def zone_points(metric: gpd.GeoSeries) -> tuple[tuple[float, float], ...]:
    """One point inside each zone (its centroid when that is inside): where patrols visit."""
    geoms = np.asarray(metric.values, dtype=object)
    centroid = shapely.centroid(geoms)
    inside = shapely.covers(geoms, centroid)
    points = np.where(inside, centroid, shapely.point_on_surface(geoms))
    return tuple((float(x), float(y)) for x, y in shapely.get_coordinates(points))


def _frame(points: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    (cx, cy), spots = points[0], points[1:]
    shapes = [shapely.Polygon([(cx + dx, cy + dy) for dx, dy in _CENTRE])]
    for k, (x, y) in enumerate(spots):  # boxes and circles, as hot-spot funding draws them
        shapes.append(
            shapely.box(x - _HALF, y - _HALF, x + _HALF, y + _HALF)
            if k % 2
            else shapely.Point(x, y).buffer(_HALF, quad_segs=16)
        )
    columns = ("code", "name", "kind", "schedule", "target_minutes_per_week",
               "session_target_minutes", "max_gap_minutes", "public")  # fmt: skip
    rows = [dict(zip(columns, zone, strict=True)) for zone in _ZONES]
    return gpd.GeoDataFrame(rows, geometry=shapes, crs=_BNG)
