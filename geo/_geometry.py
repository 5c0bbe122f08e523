"""Checking and repairing ward polygons: nothing is dropped silently.

A ward with no polygon cannot hold pings (SPEC rule 1) nor cells (rule 7), so a
missing, empty or non-polygonal geometry is an error naming the ward; an
invalid polygon is repaired with ``make_valid``, keeping its polygonal parts,
and reported.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely

from beatlight.geo.exceptions import BoundaryError

log = logging.getLogger("beatlight.geo")

_POLYGONAL = ("Polygon", "MultiPolygon")
_ALLOWED = (*_POLYGONAL, "GeometryCollection")
_SHOWN = 5


def check_polygons(geometry: np.ndarray, codes: np.ndarray, source: str) -> None:
    """Refuse missing, empty and non-polygonal geometries, naming the wards that have them."""
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    if missing.all():
        raise BoundaryError(f"{source} has no ward polygons: every geometry is empty or missing")
    if missing.any():
        raise BoundaryError(
            f"{source}: no geometry for {_some(codes[missing])}; "
            "give every ward its polygon or remove those rows"
        )
    kinds = np.asarray([geometry_type(g) for g in geometry], dtype=object)
    wrong = ~np.isin(kinds, _ALLOWED)
    if wrong.any():
        found = ", ".join(sorted(set(kinds[wrong])))
        raise BoundaryError(
            f"{source}: ward boundaries must be polygons, found {found} for "
            f"{_some(codes[wrong])}; give a file of ward polygons"
        )


def repair_polygons(
    geometry: np.ndarray, codes: np.ndarray, source: str
) -> tuple[np.ndarray, dict[str, str]]:
    """Make every ward a valid (Multi)Polygon; returns the geometries and {code: what was wrong}."""
    needs = ~shapely.is_valid(geometry) | (shapely.get_type_id(geometry) == 7)
    if not needs.any():
        return geometry, {}
    repaired = geometry.copy()
    # Only the few broken wards pass through here: a loop over them is fine.
    for position in np.flatnonzero(needs):
        repaired[position] = _polygonal_part(shapely.make_valid(geometry[position]))
    lost = shapely.is_empty(repaired[needs])
    if lost.any():
        raise BoundaryError(
            f"{source}: no polygonal area is left once repaired for "
            f"{_some(codes[needs][lost])} (only lines or points); fix or remove them"
        )
    reasons = [
        "a geometry collection; kept its polygons" if reason == "Valid Geometry" else reason
        for reason in shapely.is_valid_reason(geometry[needs])
    ]
    return repaired, dict(zip(codes[needs].astype(str), reasons, strict=True))


def report_repairs(source: str, repairs: dict[str, str]) -> tuple[str, ...]:
    """Log one warning naming the repaired wards and why; returns their codes in order."""
    codes = tuple(sorted(repairs))
    if codes:
        log.warning(
            "repaired %d invalid ward geometr%s in %s: %s",
            len(codes),
            "y" if len(codes) == 1 else "ies",
            source,
            "; ".join(f"{code}: {repairs[code]}" for code in codes),
        )
    return codes


def geometry_type(geometry: shapely.Geometry) -> str:
    """The geometry's type name (``Polygon``, ``LineString``, …)."""
    return str(geometry.geom_type)


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """The union of the polygonal parts of a geometry (empty if it has none)."""
    if geometry_type(geometry) in _POLYGONAL:
        return geometry
    parts = shapely.get_parts(geometry)
    polygons = parts[np.isin([geometry_type(part) for part in parts], _POLYGONAL)]
    if polygons.size == 0:
        return shapely.Polygon()
    return shapely.union_all(polygons)


def _some(codes: np.ndarray) -> str:
    """Up to five ward codes and how many there are, for an error message."""
    shown = ", ".join(str(code) for code in codes[:_SHOWN])
    more = f" and {len(codes) - _SHOWN} more" if len(codes) > _SHOWN else ""
    noun = "ward" if len(codes) == 1 else "wards"
    return f"{len(codes)} {noun} ({shown}{more})"
