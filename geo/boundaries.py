"""Ward boundaries: loaded from any common file, checked, repaired and put in code order.

The position of a ward in :class:`Wards` is its *ward index*, used by every
other module. Wards are sorted by code, so that "the ward with the lowest code"
(SPEC rule 1) is simply the lowest index.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from beatlight.geo._columns import detect_columns
from beatlight.geo._crs import (
    WGS84,
    declare_crs,
    metric_crs_of,
    to_metric,
    to_wgs84,
    warn_outside_area_of_use,
)
from beatlight.geo._files import read_boundary_file
from beatlight.geo._geometry import check_polygons, repair_polygons, report_repairs
from beatlight.geo.exceptions import BoundaryError

log = logging.getLogger("beatlight.geo")

_SHOWN = 5


@dataclass(frozen=True, eq=False)
class Wards:
    """The wards of a force area in code order; a ward's position is its ward index.

    Arrays are read-only. ``geometry`` (EPSG:4326) is what pings are matched
    against; ``metric`` holds the same polygons in ``metric_crs`` for areas and
    grid cells (SPEC rule 7).
    """

    codes: np.ndarray
    names: np.ndarray
    district_codes: np.ndarray | None
    district_names: np.ndarray | None
    geometry: gpd.GeoSeries
    metric: gpd.GeoSeries
    area_km2: np.ndarray
    metric_crs: str
    source: str
    repaired: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.codes)


def load_wards(
    path: str | Path,
    *,
    code_column: str | None = None,
    name_column: str | None = None,
    district_column: str | None = None,
    district_name_column: str | None = None,
    crs: str | None = None,
    metric_crs: str = "EPSG:27700",
) -> Wards:
    """Load ward boundaries from GeoJSON, GeoPackage, Shapefile, zip or .geojson.gz.

    ``crs`` declares the file's CRS when it has none or a wrong one; the column
    options name columns that are not detected (SPEC rule 13). Raises
    :class:`~geo.exceptions.BoundaryError` with a message saying what to fix.
    """
    started = time.perf_counter()
    frame = read_boundary_file(path)
    wards = wards_from_frame(
        frame,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        district_name_column=district_name_column,
        crs=crs,
        metric_crs=metric_crs,
        source=str(path),
    )
    log.info(
        "loaded %d wards (%.1f km², %d repaired) from %s in %.2f s",
        len(wards),
        float(wards.area_km2.sum()),
        len(wards.repaired),
        path,
        time.perf_counter() - started,
    )
    return wards


def wards_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    code_column: str | None = None,
    name_column: str | None = None,
    district_column: str | None = None,
    district_name_column: str | None = None,
    crs: str | None = None,
    metric_crs: str = "EPSG:27700",
    source: str = "<frame>",
) -> Wards:
    """Build :class:`Wards` from a GeoDataFrame already in memory (same options as load_wards)."""
    if len(frame) == 0:
        raise BoundaryError(f"{source} has no features: give a file of ward polygons")
    metric = metric_crs_of(metric_crs)
    attributes = [column for column in frame.columns if column != frame.geometry.name]
    columns = detect_columns(
        attributes,
        source=source,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        district_name_column=district_name_column,
    )
    codes = _text(frame[columns.code])
    _check_codes(codes, columns.code, source)
    # SPEC rule 1: index order = code order, so the lowest code is the lowest index.
    order = np.argsort(codes, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    codes = codes[order]

    check_polygons(np.asarray(frame.geometry.values), codes, source)
    declared = declare_crs(frame, crs, source)
    # Matching happens in EPSG:4326 (rule 1), areas and cells in the metric CRS (rule 7):
    # each is converted from the declared CRS and repaired on its own.
    geometry, repairs = repair_polygons(
        shapely.force_2d(to_wgs84(declared, codes, source)), codes, source
    )
    projected, metric_repairs = repair_polygons(
        shapely.force_2d(to_metric(declared, metric, source)), codes, source
    )
    repaired = report_repairs(source, {**metric_repairs, **repairs})
    warn_outside_area_of_use(geometry, metric, source)

    names = _text(frame[columns.name]) if columns.name else codes.copy()
    names = np.where(names == "", codes, names).astype(object)
    district_codes, district_names = _districts(frame, columns.district, columns.district_name)
    if district_codes is not None:
        _warn_blank_districts(codes, district_codes, source)
    return Wards(
        codes=_frozen(codes),
        names=_frozen(names),
        district_codes=None if district_codes is None else _frozen(district_codes),
        district_names=None if district_names is None else _frozen(district_names),
        geometry=gpd.GeoSeries(geometry, crs=WGS84),
        metric=gpd.GeoSeries(projected, crs=metric),
        area_km2=_frozen(shapely.area(projected) / 1e6),
        metric_crs=metric.to_string(),
        source=source,
        repaired=repaired,
    )


def _text(values: pd.Series) -> np.ndarray:
    """A column as stripped strings ('' for missing; whole floats without '.0')."""
    return np.asarray([_cell_text(value) for value in values], dtype=object)


def _cell_text(value: object) -> str:
    """One attribute value as text, as a person would have typed it."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        # A numeric code column read as float because of a missing value: 123.0 means "123".
        return str(int(value))
    return str(value).strip()


def _check_codes(codes: np.ndarray, column: str, source: str) -> None:
    """Refuse blank and duplicate ward codes: a ward index must name exactly one ward."""
    blank = np.flatnonzero(codes == "")
    if blank.size:
        rows = ", ".join(str(row) for row in blank[:_SHOWN])
        more = f" and {blank.size - _SHOWN} more" if blank.size > _SHOWN else ""
        raise BoundaryError(
            f"{source}: {blank.size} wards have a blank code in column {column} "
            f"(rows {rows}{more}, counting from 0); every ward needs a code"
        )
    unique, counts = np.unique(codes.astype(str), return_counts=True)
    duplicated = unique[counts > 1]
    if duplicated.size:
        shown = ", ".join(duplicated[:_SHOWN].tolist())
        more = f" and {duplicated.size - _SHOWN} more" if duplicated.size > _SHOWN else ""
        raise BoundaryError(
            f"{source}: {duplicated.size} ward codes appear more than once in column "
            f"{column} ({shown}{more}); codes must be unique (is this the right code column? "
            "if those rows are parts of one ward, join them into one multi-polygon per ward)"
        )


def _districts(
    frame: gpd.GeoDataFrame, code_column: str | None, name_column: str | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """District codes and names per ward; names fall back to codes when the file has none."""
    if code_column is None:
        return None, None
    codes = _text(frame[code_column])
    names = _text(frame[name_column]) if name_column else codes.copy()
    return codes, np.where(names == "", codes, names).astype(object)


def _warn_blank_districts(codes: np.ndarray, districts: np.ndarray, source: str) -> None:
    """Warn about wards without a district: they roll up into a district with no code."""
    blank = codes[districts == ""]
    if blank.size:
        log.warning(
            "%d wards of %s have no district code (%s); give them one in the attributes CSV",
            blank.size,
            source,
            ", ".join(str(code) for code in blank[:_SHOWN]),
        )


def _frozen(values: np.ndarray) -> np.ndarray:
    """The array made read-only, so a shared Wards cannot be changed by accident."""
    values = np.asarray(values)
    values.flags.writeable = False
    return values
