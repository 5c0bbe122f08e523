"""Area outlines as GeoJSON geometries, for the API's GeoJSON and the maps.

Wards are the boundary file's polygons; a neighbourhood, district or the force is
the union of its wards (SPEC rule 11). Outlines are simplified in the metric CRS
(``tolerance_m``, default 5 m: invisible on a ward map, a fraction of the bytes)
and given in WGS84 with 6 decimals (about 0.1 m), then cached per level.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from beatlight.geo.geography import Geography

__all__ = ["AreaShapes", "rounded"]


class AreaShapes:
    """GeoJSON geometry of every area of a geography, by level and code."""

    def __init__(self, geography: Geography, tolerance_m: float = 5.0) -> None:
        self.geography = geography
        self._tolerance_m = tolerance_m
        self._lock = threading.Lock()
        self._levels: dict[str, dict[str, dict[str, Any]]] = {}

    def level(self, level: str) -> dict[str, dict[str, Any]]:
        """``{code: geometry}`` of every area of ``level``."""
        shapes = self._levels.get(level)
        if shapes is None:
            with self._lock:
                shapes = self._levels.get(level)
                if shapes is None:
                    shapes = self._levels[level] = self._build(level)
        return shapes

    def codes(self, level: str) -> frozenset[str]:
        """The codes of every area of ``level`` (no geometry is built)."""
        areas = self.geography.areas
        return frozenset(str(areas.code[i]) for i in areas.of_level(level))

    def get(self, level: str, code: str) -> dict[str, Any] | None:
        """One area's geometry (``None`` if the geography has no such area)."""
        return self.level(level).get(code)

    def _build(self, level: str) -> dict[str, dict[str, Any]]:
        import geopandas as gpd

        areas = self.geography.areas
        metric = self.geography.wards.metric
        indices = areas.of_level(level)
        geometries = [shapely.union_all(metric.values[areas.wards[i]]) for i in indices]
        simplified = shapely.simplify(np.asarray(geometries, dtype=object), self._tolerance_m,
                                      preserve_topology=True)  # fmt: skip
        wgs84 = gpd.GeoSeries(simplified, crs=metric.crs).to_crs("EPSG:4326")
        exact = shapely.set_precision(wgs84.values, 1e-6)
        pairs = zip(indices, exact, strict=True)
        return {str(areas.code[i]): rounded(mapping(g)) for i, g in pairs}


def rounded(geometry: dict[str, Any]) -> dict[str, Any]:
    """Coordinates as plain lists of 6-decimal floats (set_precision leaves float noise)."""

    def walk(value: Any) -> Any:
        if isinstance(value, tuple | list):
            if value and isinstance(value[0], float):
                return [round(v, 6) for v in value]
            return [walk(v) for v in value]
        return value

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}
