"""Coordinate reference systems of ward boundaries: declared, checked, converted.

Pings arrive in WGS84 (EPSG:4326), so wards are matched in EPSG:4326; areas and
grid cells are measured in the metric CRS (SPEC settings, rule 7).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from beatlight.geo.exceptions import BoundaryError

log = logging.getLogger("beatlight.geo")

WGS84 = "EPSG:4326"
_SHOWN = 5


def metric_crs_of(metric_crs: str) -> CRS:
    """The metric CRS as a pyproj CRS, refused unless it is projected in metres."""
    try:
        crs = CRS.from_user_input(metric_crs)
    except CRSError as exc:
        raise BoundaryError(f"metric CRS {metric_crs!r} is not a known CRS: {exc}") from exc
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise BoundaryError(
            f"metric CRS {metric_crs!r} must be a projected CRS in metres "
            "(e.g. EPSG:27700, British National Grid) to measure areas and grid cells"
        )
    return crs


def declare_crs(frame: gpd.GeoDataFrame, crs: str | None, source: str) -> gpd.GeoSeries:
    """The ward geometries with their CRS: the one the user declared, else the file's own."""
    geometry = frame.geometry
    if crs is not None:
        try:
            geometry = geometry.set_crs(crs, allow_override=True)
        except (CRSError, ValueError, TypeError) as exc:
            raise BoundaryError(f"crs {crs!r} is not a known CRS: {exc}") from exc
    if geometry.crs is None:
        raise BoundaryError(
            f"{source} does not say which CRS its coordinates are in: pass the crs option, "
            "e.g. crs='EPSG:27700' for British National Grid metres or 'EPSG:4326' for "
            "longitude/latitude"
        )
    _check_not_lonlat(geometry, source)
    return geometry


def to_wgs84(geometry: gpd.GeoSeries, codes: np.ndarray, source: str) -> np.ndarray:
    """The ward geometries in EPSG:4326, refused if they cannot be longitudes and latitudes."""
    wgs84 = np.asarray(_convert(geometry, WGS84, source).values)
    _check_lonlat(wgs84, codes, geometry.crs.to_string(), source)
    return wgs84


def to_metric(geometry: gpd.GeoSeries, metric: CRS, source: str) -> np.ndarray:
    """The ward geometries in the metric CRS, converted straight from the declared CRS.

    Not via EPSG:4326: a round trip moves vertices by millimetres, enough to give
    a grid-aligned ward slivers of its neighbours' cells (SPEC rule 7).
    """
    return np.asarray(_convert(geometry, metric, source).values)


def _convert(geometry: gpd.GeoSeries, target: str | CRS, source: str) -> gpd.GeoSeries:
    """Reproject, turning pyproj's failures into a BoundaryError."""
    try:
        return geometry.to_crs(target)
    except (CRSError, ValueError) as exc:
        raise BoundaryError(
            f"cannot convert {source} from {geometry.crs.to_string()} to {target}: {exc}"
        ) from exc


def warn_outside_area_of_use(wgs84: np.ndarray, metric: CRS, source: str) -> None:
    """Warn when wards reach outside the region the metric CRS is made for (areas distort)."""
    area = metric.area_of_use
    if area is None or area.west > area.east:
        return
    west, south, east, north = shapely.total_bounds(wgs84)
    if west < area.west or east > area.east or south < area.south or north > area.north:
        log.warning(
            "wards of %s (lon %.3f..%.3f, lat %.3f..%.3f) reach outside the area of use of "
            "the metric CRS %s (%s); areas and grid cells may be distorted: choose a metric "
            "CRS made for this region",
            source,
            west,
            east,
            south,
            north,
            metric.to_string(),
            area.name,
        )


def _check_not_lonlat(geometry: gpd.GeoSeries, source: str) -> None:
    """Refuse longitudes and latitudes declared as a projected CRS (metres, feet, ...).

    Read as metres they would make every ward a few square metres near the CRS's
    origin, and every ping would silently count as ``outside``. No force area fits
    in 360 by 180 metres, so a whole file within those bounds is in degrees.
    """
    if not geometry.crs.is_projected:
        return
    x_min, y_min, x_max, y_max = geometry.total_bounds
    if not (np.isfinite([x_min, y_min, x_max, y_max]).all() and -180 <= x_min
            and x_max <= 180 and -90 <= y_min and y_max <= 90):  # fmt: skip
        return
    declared = geometry.crs.to_string()
    unit = geometry.crs.axis_info[0].unit_name if geometry.crs.axis_info else "metre"
    raise BoundaryError(
        f"{source}: read as {declared} (projected, unit: {unit}), every ward lies "
        f"within x {x_min:.6g}..{x_max:.6g}, y {y_min:.6g}..{y_max:.6g}: these look like "
        "longitudes and latitudes, so the declared CRS looks wrong; pass the file's real "
        "CRS with the crs option, e.g. crs='EPSG:4326'"
    )


def _check_lonlat(geometry: np.ndarray, codes: np.ndarray, declared: str, source: str) -> None:
    """Refuse coordinates that cannot be longitudes and latitudes: the declared CRS is wrong."""
    bounds = shapely.bounds(geometry)
    outside = ~np.isfinite(bounds).all(axis=1)
    outside |= (bounds[:, 0] < -180) | (bounds[:, 2] > 180)
    outside |= (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
    if not outside.any():
        return
    shown = ", ".join(str(code) for code in codes[outside][:_SHOWN])
    finite = bounds[np.isfinite(bounds).all(axis=1)]
    extent = ""
    if finite.size:
        x_min, y_min = finite[:, :2].min(axis=0)
        x_max, y_max = finite[:, 2:].max(axis=0)
        extent = f" (x {x_min:.6g}..{x_max:.6g}, y {y_min:.6g}..{y_max:.6g})"
    metres = finite.size > 0 and np.abs(finite).max() > 1000
    hint = "they look like metres (e.g. British National Grid); " if metres else ""
    raise BoundaryError(
        f"{source}: read as {declared}, {int(outside.sum())} wards ({shown}) fall outside "
        f"longitude -180..180 / latitude -90..90{extent}, so the declared CRS looks wrong; "
        f"{hint}pass the file's real CRS with the crs option, e.g. crs='EPSG:27700'"
    )
