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

The columns and cells are checked in :mod:`beatlight.geo._zone_rows`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import orjson
import shapely
from pyproj import Transformer

from beatlight.geo._crs import WGS84, declare_crs, metric_crs_of, to_metric, to_wgs84
from beatlight.geo._files import read_boundary_file
from beatlight.geo._zone_rows import (
    MINUTE_COLUMNS,
    cell_minutes,
    cell_public,
    cell_schedule,
    cell_text,
    check_codes,
    check_geometry,
    frozen,
    read_columns,
    repaired,
)
from beatlight.geo.exceptions import BoundaryError

__all__ = ["ZoneHits", "Zones", "load_zones", "zones_from_frame"]

log = logging.getLogger("beatlight.geo")


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

    @cached_property
    def digest(self) -> str:
        """What figures counted with these zones depend on: their codes, shapes and
        schedules (a lane's checkpoint and its messages name the zones they hold)."""
        digest = hashlib.sha256()
        digest.update(orjson.dumps([list(map(str, self.codes)),
                                    list(map(str, self.schedule_texts))]))  # fmt: skip
        for shape in self.metric.to_wkb():
            digest.update(shape)
        return digest.hexdigest()

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
    columns = read_columns([c for c in frame.columns if c != frame.geometry.name], source)
    codes = np.asarray([cell_text(v) for v in frame[columns["code"]]], dtype=object)
    check_codes(codes, source)
    order = np.argsort(codes.astype(str), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    codes = codes[order]

    def column(name: str) -> list[Any]:
        return list(frame[columns[name]]) if name in columns else [None] * len(frame)

    names = [cell_text(v) for v in column("name")]
    for code, name in zip(codes, names, strict=True):
        if not name:
            raise BoundaryError(f"{source}: zone {code} has no name: give it one in column name")
    check_geometry(np.asarray(frame.geometry.values), codes, source)
    declared = declare_crs(frame, crs, source)
    wgs84 = repaired(shapely.force_2d(to_wgs84(declared, codes, source)), codes, source)
    projected = repaired(shapely.force_2d(to_metric(declared, metric, source)), codes, source)

    minutes = {
        name: np.asarray(
            [
                cell_minutes(v, code, name, source)
                for v, code in zip(column(name), codes, strict=True)
            ]
        )
        for name in MINUTE_COLUMNS
    }
    texts = [cell_text(v) or None for v in column("schedule")]
    for name in ("session_target_minutes", "max_gap_minutes"):
        for code, text, value in zip(codes, texts, minutes[name], strict=True):
            if text is None and not math.isnan(value):
                raise BoundaryError(
                    f"{source}: zone {code} has {name} but no schedule: give it a schedule "
                    "(e.g. 'Fri,Sat 20:00-02:00') or leave that column blank"
                )
    zones = Zones(
        codes=frozen(codes),
        names=frozen(np.asarray(names, dtype=object)),
        kinds=frozen(np.asarray([cell_text(v) or None for v in column("kind")], dtype=object)),
        target_minutes_per_week=frozen(minutes["target_minutes_per_week"].astype(np.float64)),
        schedule_texts=frozen(np.asarray(texts, dtype=object)),
        schedules=tuple(
            cell_schedule(text, code, parse_schedule, source)
            for code, text in zip(codes, texts, strict=True)
        ),
        session_target_minutes=frozen(minutes["session_target_minutes"].astype(np.float64)),
        max_gap_minutes=frozen(minutes["max_gap_minutes"].astype(np.float64)),
        public=frozen(
            np.asarray(
                [cell_public(v, c, source) for v, c in zip(column("public"), codes, strict=True)],
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
