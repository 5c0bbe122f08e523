"""Zones (SPEC "Zones and scheduled commitments"): hot spots, town centres, parks, hubs.

A zones file is read like a boundary file (any format :mod:`geo._files` reads)
and checked row by row: every refusal is one :class:`BoundaryError` line naming
the zone and the fix. Zones are kept in code order; a zone's position is its
*zone index*. Pings are matched in the metric CRS (:meth:`Zones.match`): a ping
is in every zone whose polygon covers it, boundary included (Z1), and zones
overlap each other and wards freely.

Schedules are parsed by the caller's ``parse_schedule`` (in the app,
:func:`beatlight.streams.schedule.parse_schedule`): geo imports no other layer,
and a schedule is about time, not geography.

Shapefile field names hold at most 10 characters, so the first 10 characters of
a column name (``target_min``, ``session_ta``, ``max_gap_mi``) stand for it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer

from beatlight.geo._crs import WGS84, declare_crs, metric_crs_of, to_metric, to_wgs84
from beatlight.geo._files import read_boundary_file
from beatlight.geo._geometry import geometry_type, repair_polygons
from beatlight.geo.exceptions import BoundaryError

__all__ = ["ZONE_COLUMNS", "ZoneHits", "Zones", "load_zones", "zones_from_frame"]

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
_MINUTES = ("target_minutes_per_week", "session_target_minutes", "max_gap_minutes")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}
_POLYGONAL = ("Polygon", "MultiPolygon", "GeometryCollection")


@dataclass(frozen=True)
class ZoneHits:
    """Which zones cover each point, CSR-like: point i is in ``zones[offsets[i]:offsets[i+1]]``.

    Zone indices are ascending per point; ``offsets`` has one entry more than there are points.
    """

    offsets: np.ndarray  # int64
    zones: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, point: int) -> np.ndarray:
        """The zone indices covering one point."""
        return self.zones[self.offsets[point] : self.offsets[point + 1]]

    def points(self) -> np.ndarray:
        """The point index of each entry of ``zones`` (int64)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))


@dataclass(frozen=True, eq=False)
class Zones:
    """The zones of a force in code order; a zone's position is its zone index.

    Numbers are NaN where the file leaves them blank (no commitment);
    ``schedules`` holds what ``parse_schedule`` returned, or None.
    """

    codes: np.ndarray
    names: np.ndarray
    kinds: np.ndarray  # str or None
    target_minutes_per_week: np.ndarray  # float64, NaN = none
    schedule_texts: np.ndarray  # str or None
    schedules: tuple[Any, ...]
    session_target_minutes: np.ndarray  # float64, NaN = none
    max_gap_minutes: np.ndarray  # float64, NaN = none
    public: np.ndarray  # bool
    geometry: gpd.GeoSeries  # EPSG:4326, for maps
    metric: gpd.GeoSeries  # metric_crs, for matching
    metric_crs: str
    source: str
    _tree: shapely.STRtree = field(init=False, repr=False)
    _prepared: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        prepared = np.asarray(self.metric.values, dtype=object).copy()
        shapely.prepare(prepared)
        object.__setattr__(self, "_prepared", prepared)
        object.__setattr__(self, "_tree", shapely.STRtree(prepared))

    def __len__(self) -> int:
        return len(self.codes)

    def match(self, x: npt.ArrayLike, y: npt.ArrayLike) -> ZoneHits:
        """The zones covering each point given in the metric CRS (Z1: interior or boundary).

        Points with a non-finite coordinate are in no zone.
        """
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"x and y differ in shape: {x.shape} and {y.shape}")
        finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        points = shapely.points(x[finite], y[finite])
        # Candidates by bounding box, then one vectorised test against the prepared
        # polygons (faster than predicate="intersects", which prepares the points).
        point, zone = self._tree.query(points)
        covered = shapely.intersects(self._prepared[zone], points[point])
        point, zone = finite[point[covered]], zone[covered]
        order = np.lexsort((zone, point))
        counts = np.bincount(point, minlength=x.size)
        offsets = np.zeros(x.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return ZoneHits(offsets=offsets, zones=zone[order].astype(np.int32))

    def match_lonlat(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> ZoneHits:
        """:meth:`match` for points in EPSG:4326, converted to the metric CRS first."""
        to_metric = Transformer.from_crs(WGS84, self.metric_crs, always_xy=True)
        x, y = to_metric.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return self.match(x, y)


def load_zones(
    path: str | Path,
    *,
    parse_schedule: Callable[[str], Any],
    crs: str | None = None,
    metric_crs: str = "EPSG:27700",
) -> Zones:
    """Load and check a zones file (GeoJSON, GeoPackage, Shapefile, zip, .geojson.gz).

    ``parse_schedule`` turns a schedule string into a schedule or raises
    ``ValueError`` with the fix; ``crs`` declares the file's CRS when it has none
    or a wrong one. Raises :class:`BoundaryError` in one line naming the zone.
    """
    return zones_from_frame(
        read_boundary_file(path),
        parse_schedule=parse_schedule,
        crs=crs,
        metric_crs=metric_crs,
        source=str(path),
    )


def zones_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    parse_schedule: Callable[[str], Any],
    crs: str | None = None,
    metric_crs: str = "EPSG:27700",
    source: str = "<frame>",
) -> Zones:
    """Build :class:`Zones` from a GeoDataFrame already in memory (same options as load_zones)."""
    if len(frame) == 0:
        raise BoundaryError(f"{source} has no zones: give at least one zone, or no zones file")
    metric = metric_crs_of(metric_crs)
    columns = _columns([c for c in frame.columns if c != frame.geometry.name], source)
    codes = np.asarray([_text(v) for v in frame[columns["code"]]], dtype=object)
    _check_codes(codes, source)
    order = np.argsort(codes.astype(str), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    codes = codes[order]

    def column(name: str) -> list[Any]:
        return list(frame[columns[name]]) if name in columns else [None] * len(frame)

    names = [_text(v) for v in column("name")]
    for code, name in zip(codes, names, strict=True):
        if not name:
            raise BoundaryError(f"{source}: zone {code} has no name: give it one in column name")
    _check_geometry(np.asarray(frame.geometry.values), codes, source)
    declared = declare_crs(frame, crs, source)
    wgs84 = _repaired(shapely.force_2d(to_wgs84(declared, codes, source)), codes, source)
    projected = _repaired(shapely.force_2d(to_metric(declared, metric, source)), codes, source)

    minutes = {
        name: np.asarray(
            [_minutes(v, code, name, source) for v, code in zip(column(name), codes, strict=True)]
        )
        for name in _MINUTES
    }
    texts = [_text(v) or None for v in column("schedule")]
    for name in ("session_target_minutes", "max_gap_minutes"):
        for code, text, value in zip(codes, texts, minutes[name], strict=True):
            if text is None and not math.isnan(value):
                raise BoundaryError(
                    f"{source}: zone {code} has {name} but no schedule: give it a schedule "
                    "(e.g. 'Fri,Sat 20:00-02:00') or leave that column blank"
                )
    zones = Zones(
        codes=_frozen(codes),
        names=_frozen(np.asarray(names, dtype=object)),
        kinds=_frozen(np.asarray([_text(v) or None for v in column("kind")], dtype=object)),
        target_minutes_per_week=_frozen(minutes["target_minutes_per_week"].astype(np.float64)),
        schedule_texts=_frozen(np.asarray(texts, dtype=object)),
        schedules=tuple(
            _schedule(text, code, parse_schedule, source)
            for code, text in zip(codes, texts, strict=True)
        ),
        session_target_minutes=_frozen(minutes["session_target_minutes"].astype(np.float64)),
        max_gap_minutes=_frozen(minutes["max_gap_minutes"].astype(np.float64)),
        public=_frozen(
            np.asarray(
                [_public(v, c, source) for v, c in zip(column("public"), codes, strict=True)],
                dtype=bool,
            )
        ),  # fmt: skip
        geometry=gpd.GeoSeries(wgs84, crs=WGS84),
        metric=gpd.GeoSeries(projected, crs=metric),
        metric_crs=metric.to_string(),
        source=source,
    )
    log.info(
        "loaded %d zones (%d with a schedule) from %s",
        len(zones),
        sum(t is not None for t in texts),
        source,
    )
    return zones


def _columns(found: list[str], source: str) -> dict[str, str]:
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


def _check_codes(codes: np.ndarray, source: str) -> None:
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


def _check_geometry(geometry: np.ndarray, codes: np.ndarray, source: str) -> None:
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


def _repaired(geometry: np.ndarray, codes: np.ndarray, source: str) -> np.ndarray:
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


def _minutes(value: Any, code: str, column: str, source: str) -> float:
    """A positive number of minutes, or NaN for a blank cell."""
    text = _text(value)
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


def _public(value: Any, code: str, source: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = _text(value).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise BoundaryError(
        f"{source}: zone {code} has public {_text(value)!r}: write true or false "
        "(blank is false: hot-spot locations are not published by default)"
    )


def _schedule(text: str | None, code: str, parse: Callable[[str], Any], source: str) -> Any:
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise BoundaryError(f"{source}: zone {code} has a bad schedule: {exc}") from exc


def _text(value: Any) -> str:
    """A cell as stripped text ('' for missing); whole floats without '.0'."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    values.flags.writeable = False
    return values
