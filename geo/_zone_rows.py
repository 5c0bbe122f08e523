"""A zones file checked row by row (SPEC "Zones and scheduled commitments").

Every refusal is one :class:`BoundaryError` line naming the zone and the fix;
:func:`beatlight.geo.zones.zones_from_frame` calls these on each column and cell.
Shapefile field names hold at most 10 characters, so the first 10 characters of
a column name (``target_min``, ``session_ta``, ``max_gap_mi``) stand for it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import shapely

from beatlight.geo._geometry import geometry_type, repair_polygons
from beatlight.geo.exceptions import BoundaryError

__all__ = [
    "MINUTE_COLUMNS",
    "ZONE_COLUMNS",
    "cell_minutes",
    "cell_public",
    "cell_schedule",
    "cell_text",
    "check_codes",
    "check_geometry",
    "frozen",
    "read_columns",
    "repaired",
]

log = logging.getLogger("beatlight.geo")

#: The columns of a zones file (SPEC); ``code`` and ``name`` are required.
ZONE_COLUMNS = (
    "code",
    "name",
    "kind",
    "target_minutes_per_week",
    "schedule",
    "session_target_minutes",
    "max_gap_minutes",
    "public",
)
_REQUIRED = ("code", "name")
#: The columns that hold minutes.
MINUTE_COLUMNS = ("target_minutes_per_week", "session_target_minutes", "max_gap_minutes")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}
_POLYGONAL = ("Polygon", "MultiPolygon", "GeometryCollection")


def read_columns(found: list[str], source: str) -> dict[str, str]:
    """{SPEC column: the file's column}, refusing unknown and missing columns."""
    aliases = {name: name for name in ZONE_COLUMNS} | {name[:10]: name for name in ZONE_COLUMNS}
    columns: dict[str, str] = {}
    for column in found:
        name = aliases.get(str(column).strip().lower())
        if name is None:
            raise BoundaryError(
                f"{source} has an unknown column {column!r}: zones files have the columns "
                f"{', '.join(ZONE_COLUMNS)}; rename or remove it"
            )
        if name in columns:
            raise BoundaryError(
                f"{source} has two columns for {name} ({columns[name]!r} and {column!r}): keep one"
            )
        columns[name] = str(column)
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise BoundaryError(
            f"{source} has no {' and no '.join(missing)} column: every zone needs a code and a "
            f"name (its columns are {', '.join(map(str, found)) or 'none besides the geometry'})"
        )
    return columns


def check_codes(codes: np.ndarray, source: str) -> None:
    """Refuse a blank or repeated zone code, naming it."""
    blank = np.flatnonzero(codes == "")
    if blank.size:
        raise BoundaryError(
            f"{source}: the zone in row {blank[0]} (counting from 0) has no code: "
            "give every zone a unique code"
        )
    unique, counts = np.unique(codes.astype(str), return_counts=True)
    if (counts > 1).any():
        code = unique[counts > 1][0]
        raise BoundaryError(
            f"{source}: zone code {code} appears {counts[counts > 1][0]} times: codes must be "
            "unique (join the parts of one zone into one multi-polygon, or give each its own code)"
        )


def check_geometry(geometry: np.ndarray, codes: np.ndarray, source: str) -> None:
    """Refuse missing, empty and non-polygonal geometries, naming the first such zone."""
    for code, shape in zip(codes, geometry, strict=True):
        if shape is None or shapely.is_missing(shape) or shapely.is_empty(shape):
            raise BoundaryError(
                f"{source}: zone {code} has no geometry (empty or missing): "
                "give it a polygon or remove the row"
            )
        kind = geometry_type(shape)
        if kind not in _POLYGONAL:
            hint = (
                " (buffer a point into a circle, e.g. 75 m for a 150 m hot spot)"
                if "Point" in kind
                else ""
            )
            raise BoundaryError(f"{source}: zone {code} is a {kind}: zones must be polygons{hint}")


def repaired(geometry: np.ndarray, codes: np.ndarray, source: str) -> np.ndarray:
    """Invalid zones made valid one by one, so that a refusal names its zone."""
    geometry = geometry.copy()
    broken = ~shapely.is_valid(geometry) | (shapely.get_type_id(geometry) == 7)
    for i in np.flatnonzero(broken):
        try:
            fixed, reasons = repair_polygons(geometry[i : i + 1], codes[i : i + 1], source)
        except BoundaryError as exc:
            raise BoundaryError(
                f"{source}: zone {codes[i]} has no polygonal area once repaired "
                "(only lines or points): fix its polygon or remove the row"
            ) from exc
        geometry[i] = fixed[0]
        log.warning("repaired the invalid geometry of zone %s in %s: %s", codes[i], source,
                    "; ".join(reasons.values()))  # fmt: skip
    if shapely.is_empty(geometry).any():
        code = codes[shapely.is_empty(geometry)][0]
        raise BoundaryError(f"{source}: zone {code} has no area: fix its polygon or remove the row")
    return geometry


def cell_minutes(value: Any, code: str, column: str, source: str) -> float:
    """A positive number of minutes, or NaN for a blank cell."""
    text = cell_text(value)
    if text == "":
        return math.nan
    try:
        number = math.nan if isinstance(value, bool | np.bool_) else float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise BoundaryError(
            f"{source}: zone {code} has {column} {text!r}: give a number of minutes "
            "greater than 0, or leave it blank for none"
        )
    return number


def cell_public(value: Any, code: str, source: str) -> bool:
    """The ``public`` cell: true or false (blank is false)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = cell_text(value).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise BoundaryError(
        f"{source}: zone {code} has public {cell_text(value)!r}: write true or false "
        "(blank is false: hot-spot locations are not published by default)"
    )


def cell_schedule(text: str | None, code: str, parse: Callable[[str], Any], source: str) -> Any:
    """The ``schedule`` cell as ``parse`` reads it; None for none."""
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise BoundaryError(f"{source}: zone {code} has a bad schedule: {exc}") from exc


def cell_text(value: Any) -> str:
    """A cell as stripped text ('' for missing); whole floats without '.0'."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def frozen(values: np.ndarray) -> np.ndarray:
    """The array, read-only."""
    values = np.asarray(values)
    values.flags.writeable = False
    return values
