"""Many 150 m hot spots, generated where patrols go: zones for benchmarks and trials at scale.

:func:`hot_spot_zones` draws N hot spots (150 m boxes and circles, as hot-spot
funding draws them) centred on points picked at random, with a seed, from the
points given: the pings of a feed, so that a real share of them falls inside
zones. One hot spot in ten is moved next to the one before it, so that the two
overlap. The commitments are a fixed mix of what forces promise (SPEC "Zones and
scheduled commitments"): Friday and Saturday nights crossing midnight, weekday
school-run afternoons, weekly targets only, late-night sessions several nights a
week, and a few zones with nothing to meet. The frame has the zones file's
columns and loads with :func:`beatlight.geo.zones.zones_from_frame`; write it
with :func:`beatlight.geo.demo_zones.write_demo_zones`. Made-up zones, not any
force's real commitments.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

__all__ = ["COMMITMENTS", "hot_spot_zones"]

SIDE_M = 150.0
OVERLAP_EVERY = 10  # every tenth hot spot overlaps the one before it
# (kind of commitment, schedule, weekly target, session target, max gap, public), in turn
COMMITMENTS = [
    ("nights", "Fri,Sat 20:00-02:00", None, 15.0, 120.0, False),
    ("school run", "Mon-Fri 15:00-18:00", 300.0, 15.0, None, False),
    ("nights", "Fri,Sat 20:00-02:00", 240.0, 12.0, 120.0, False),
    ("weekly", None, 120.0, None, None, False),
    ("late nights", "Thu-Sat 22:00-03:00", None, 16.0, 90.0, False),
    ("nights", "Fri,Sat 20:00-02:00", None, 15.0, 120.0, False),
    ("school run", "Mon-Fri 15:00-18:00", None, 20.0, None, False),
    ("weekly", None, 180.0, None, None, False),
    ("weekend days", "Sat,Sun 10:00-16:00; Fri 20:00-02:00", 300.0, 30.0, None, True),
    ("none", None, None, None, None, True),
]


def hot_spot_zones(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    n: int,
    *,
    seed: int = 1,
    metric_crs: str = "EPSG:27700",
) -> gpd.GeoDataFrame:
    """N hot spots centred on points picked from ``lon``/``lat`` (EPSG:4326), in ``metric_crs``.

    Same points and seed, same zones. Points with a non-finite coordinate, or outside
    what ``metric_crs`` can project, are never picked; there must be at least ``n``
    others. Codes are ``HS0001``... in order.
    """
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    x, y = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True).transform(lon, lat)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # and inside the metric CRS
    if n < 1 or finite.size < n:
        raise ValueError(f"{n} hot spots need at least {n} points with coordinates, "
                         f"not {finite.size}")  # fmt: skip
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(finite, size=n, replace=False))
    x, y = np.array(x[picked]), np.array(y[picked])
    # Every tenth one beside the one before, 60-110 m off: the two overlap.
    moved = np.arange(OVERLAP_EVERY - 1, n, OVERLAP_EVERY)
    angle = rng.uniform(0, 2 * np.pi, moved.size)
    offset = rng.uniform(60.0, 110.0, moved.size)
    x[moved] = x[moved - 1] + offset * np.cos(angle)
    y[moved] = y[moved - 1] + offset * np.sin(angle)
    half = SIDE_M / 2
    boxes = shapely.box(x - half, y - half, x + half, y + half)
    circles = shapely.buffer(shapely.points(x, y), half, quad_segs=16)
    shapes = np.where(rng.random(n) < 0.5, boxes, circles)
    rows = []
    for k in range(n):
        kind, schedule, weekly, session, gap, public = COMMITMENTS[k % len(COMMITMENTS)]
        rows.append({
            "code": f"HS{k + 1:04d}",
            "name": f"Hot spot {k + 1} ({kind})",
            "kind": "hotspot",
            "schedule": schedule,
            "target_minutes_per_week": weekly,
            "session_target_minutes": session,
            "max_gap_minutes": gap,
            "public": public,
        })  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry=list(shapes), crs=metric_crs)
