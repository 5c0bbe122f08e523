"""Matching pings to wards in bulk (SPEC rule 1).

A ping belongs to the ward polygon containing it; a point on a boundary shared
by several wards goes to the ward with the lowest code, which is the lowest ward
index because :class:`~geo.boundaries.Wards` is in code order. Polygons are
closed: a point on a ward's outer boundary is in that ward.

Most pings are nowhere near a boundary. A lookup grid over the wards answers
those with arithmetic: in a cell that no boundary passes through, every point is
in the same wards, so one exact test per run of such cells answers for all of
their points (:class:`_Lookup`). Only pings in cells that a boundary passes
through go through the spatial index and the polygons. Same answers, 5x faster
for England's wards.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from geopandas import GeoSeries

OUTSIDE = -1
"""The ward index of a ping in no ward (SPEC rule 1: counted as ``outside``)."""

_UNKNOWN = -2  # a lookup cell that a boundary passes through: the exact test decides
# Lookup cells are 2**-k degrees square: ``lon * 2**k`` is exact, so a ping's cell is
# exactly the square that was classified.
_FINEST_K = 14  # 2**-14 degrees: 4-7 m in England
_MAX_LOOKUP_CELLS = 1 << 24  # 32 MB as int16 (England: 2**-9 degrees, 4,190 x 3,046 cells)
_MARGIN = 1e-6  # of a cell: a boundary this close to a cell's edge marks both cells


class WardIndex:
    """A spatial index of ward polygons (EPSG:4326) that finds the ward of each ping."""

    def __init__(self, geometry: GeoSeries | npt.ArrayLike) -> None:
        polygons = np.asarray(
            geometry.values if isinstance(geometry, GeoSeries) else geometry, dtype=object
        )
        if polygons.ndim != 1:
            raise ValueError("WardIndex needs a one-dimensional sequence of ward polygons")
        if shapely.is_missing(polygons).any():
            raise ValueError("WardIndex needs a polygon for every ward; found a missing one")
        self._polygons = polygons.copy()
        # Prepared polygons make each point-in-polygon test logarithmic in vertices.
        shapely.prepare(self._polygons)
        self._tree = shapely.STRtree(self._polygons)
        drawn = len(polygons) and not shapely.is_empty(self._polygons).all()
        self._lookup = _Lookup(self._polygons, self) if drawn else None

    def __len__(self) -> int:
        return len(self._polygons)

    def match(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
        """The ward index of each point (int32, ``OUTSIDE`` = -1), shaped like ``lon``.

        Points with a non-finite coordinate are outside every ward. Points are
        matched as given, in EPSG:4326 longitude/latitude.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if lon.shape != lat.shape:
            raise ValueError(f"lon and lat differ in shape: {lon.shape} and {lat.shape}")
        ward = np.full(lon.size, OUTSIDE, dtype=np.int32)
        finite = np.flatnonzero(np.isfinite(lon.ravel()) & np.isfinite(lat.ravel()))
        if finite.size == 0 or len(self) == 0:
            return ward.reshape(lon.shape)
        x, y = lon.ravel()[finite], lat.ravel()[finite]
        if self._lookup is None:
            known = np.full(x.size, _UNKNOWN, dtype=np.int32)
        else:
            known = self._lookup.ward(x, y)
        ward[finite] = known
        exact = np.flatnonzero(known == _UNKNOWN)
        ward[finite[exact]] = self._exact(x[exact], y[exact])
        return ward.reshape(lon.shape)

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The ward of each (finite) point by the polygons themselves."""
        ward = np.full(x.size, OUTSIDE, dtype=np.int32)
        if x.size == 0:
            return ward
        points = shapely.points(x, y)
        # Candidates by bounding box, then one vectorised test against the prepared
        # polygons: about 4x faster than tree.query(..., predicate="intersects"),
        # which prepares the points rather than the polygons.
        point, candidate = self._tree.query(points)
        inside = shapely.intersects(self._polygons[candidate], points[point])
        # SPEC rule 1: among the wards covering a point, the lowest index (lowest code).
        lowest = np.full(x.size, len(self), dtype=np.int64)
        np.minimum.at(lowest, point[inside], candidate[inside])
        found = lowest < len(self)
        ward[found] = lowest[found]
        return ward


class _Lookup:
    """A grid over the wards' bounds in lon/lat: per cell, the ward of every point in it.

    Cells that a ward boundary passes through (or near: the marking is generous)
    are ``_UNKNOWN``. In any other cell, membership of every ward is the same at
    every point (no boundary crosses it), and so along each run of such cells in a
    row of the grid: one exact test of a point per run settles all of its cells.
    """

    def __init__(self, polygons: np.ndarray, index: WardIndex) -> None:
        min_x, min_y, max_x, max_y = shapely.total_bounds(polygons).tolist()
        k = _FINEST_K
        while k > 0 and _count(min_x, max_x, k) * _count(min_y, max_y, k) > _MAX_LOOKUP_CELLS:
            k -= 1
        self.scale = 2.0**k  # cells per degree
        self.x0, self.y0 = math.floor(min_x * self.scale), math.floor(min_y * self.scale)
        shape = (_count(min_x, max_x, k), _count(min_y, max_y, k))
        near = self._near_boundaries(polygons, shape)
        # Runs of cells along x (the first axis) that no boundary comes near.
        clear = ~near
        first = clear.copy()
        first[1:] &= near[:-1]
        run = np.cumsum(first.ravel(order="F"), dtype=np.int32).reshape(shape, order="F") - 1
        iy, ix = np.nonzero(first.T)  # the runs' first cells, in the order of their numbers
        ward = index._exact((self.x0 + ix + 0.5) / self.scale, (self.y0 + iy + 0.5) / self.scale)
        dtype = np.int16 if len(polygons) < np.iinfo(np.int16).max else np.int32
        self.cells = np.full(shape, _UNKNOWN, dtype=dtype)
        self.cells[clear] = ward[run[clear]]

    def ward(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The ward (``OUTSIDE`` or ``_UNKNOWN``) of finite points, from their cells."""
        ix = np.floor(lon * self.scale).astype(np.int64) - self.x0
        iy = np.floor(lat * self.scale).astype(np.int64) - self.y0
        nx, ny = self.cells.shape
        on_grid = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        ward = np.full(lon.size, OUTSIDE, dtype=np.int32)  # beyond the wards' bounds
        ward[on_grid] = self.cells[ix[on_grid], iy[on_grid]]
        return ward

    def _near_boundaries(self, polygons: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Cells that a ward boundary passes through, or passes within a hair of."""
        near = np.zeros(shape, dtype=bool)
        rings = shapely.get_rings(shapely.get_parts(polygons))
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        u, v = xy[:, 0] * self.scale - self.x0, xy[:, 1] * self.scale - self.y0  # in cells
        segments = np.flatnonzero(ring[1:] == ring[:-1])
        for chunk in np.array_split(segments, max(1, segments.size // 100_000)):
            # Each segment in pieces of at most half a cell, which lie within 2 x 2 cells.
            du, dv = u[chunk + 1] - u[chunk], v[chunk + 1] - v[chunk]
            pieces = np.ceil(2 * np.maximum(np.abs(du), np.abs(dv))).astype(np.int64) + 1
            of = np.repeat(np.arange(chunk.size), pieces)
            step = np.arange(of.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
            t0, t1 = step / pieces[of], (step + 1) / pieces[of]
            u0, u1 = u[chunk][of] + du[of] * t0, u[chunk][of] + du[of] * t1
            v0, v1 = v[chunk][of] + dv[of] * t0, v[chunk][of] + dv[of] * t1
            # The margin (a millionth of a cell) covers the rounding of the pieces' ends.
            for cu in (np.minimum(u0, u1) - _MARGIN, np.maximum(u0, u1) + _MARGIN):
                for cv in (np.minimum(v0, v1) - _MARGIN, np.maximum(v0, v1) + _MARGIN):
                    near[_cell(cu, shape[0]), _cell(cv, shape[1])] = True
        return near


def _cell(position: np.ndarray, count: int) -> np.ndarray:
    """The cell holding each position (in cells from the grid's origin), kept on the grid."""
    return np.clip(np.floor(position), 0, count - 1).astype(np.int64)


def _count(low: float, high: float, k: int) -> int:
    """Lookup cells of 2**-k degrees from the one holding ``low`` to the one holding ``high``."""
    return math.floor(high * 2**k) - math.floor(low * 2**k) + 1


__all__ = ["OUTSIDE", "WardIndex"]
