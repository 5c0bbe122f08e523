"""A force area's geography, ready for matching: wards, their roll-ups, index and grid.

:class:`Geography` is what the stream processors and the batch report hold:
it answers "which ward and which cell?" for arrays of pings
(:meth:`Geography.locate`) and carries the :class:`~geo.areas.Areas` table the
presence model aggregates over.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beatlight.geo.areas import Areas, build_areas
from beatlight.geo.attributes import WardAttributes, load_attributes
from beatlight.geo.boundaries import Wards, load_wards
from beatlight.geo.cache import cached_ward_cells
from beatlight.geo.cells import Grid, unique_cells, ward_cells
from beatlight.geo.index import WardIndex

__all__ = ["Geography", "load_geography"]

log = logging.getLogger("beatlight.geo")


@dataclass(frozen=True)
class Geography:
    """Wards with attributes, spatial index, grid and the area table."""

    wards: Wards
    attributes: WardAttributes
    index: WardIndex
    grid: Grid
    cells: np.ndarray  # int64 sorted ids of every cell of every ward (compact index = position)
    areas: Areas

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ward index (-1 = outside, rule 1) and compact cell index (-1 = no ward's cell)."""
        ward = self.index.match(lon, lat)
        cell = np.full(len(ward), -1, dtype=np.int64)
        inside = ward >= 0
        if inside.any() and len(self.cells):
            ids = self.grid.cells(lon[inside], lat[inside])
            pos = np.minimum(_search(self.cells, ids), len(self.cells) - 1)
            cell[inside] = np.where(self.cells[pos] == ids, pos, -1)
        return ward, cell


def _search(keys: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``np.searchsorted(keys, needles)``, the needles taken in order: numpy then starts
    each search from the last, which is 5x faster into England's 3.3 million cells."""
    order = np.argsort(needles)
    found = np.empty(len(needles), dtype=np.int64)
    found[order] = np.searchsorted(keys, needles[order])
    return found


def load_geography(
    boundaries: str | Path,
    *,
    attributes: str | Path | None = None,
    code_column: str | None = None,
    name_column: str | None = None,
    district_column: str | None = None,
    crs: str | None = None,
    metric_crs: str = "EPSG:27700",
    cell_m: float = 200.0,
    default_target: float = 600.0,
    force_name: str = "Force area",
    cache_dir: Path | None = None,
) -> Geography:
    """Load boundaries (and attributes) and build everything matching needs.

    ``cache_dir``: keep the wards' grid cells there, and read them back when these
    same wards come again (see :mod:`geo.cache`).
    """
    started = time.perf_counter()
    wards = load_wards(
        boundaries,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        crs=crs,
        metric_crs=metric_crs,
    )
    return geography_from_wards(
        wards,
        attributes=load_attributes(attributes, wards, default_target),
        cell_m=cell_m,
        force_name=force_name,
        started=started,
        cache_dir=cache_dir,
    )


def geography_from_wards(
    wards: Wards,
    *,
    attributes: WardAttributes,
    cell_m: float = 200.0,
    force_name: str = "Force area",
    started: float | None = None,
    cache_dir: Path | None = None,
) -> Geography:
    """Build the index, the grid cells and the area table for loaded wards."""
    started = time.perf_counter() if started is None else started
    per_ward = cached_ward_cells(wards.metric, cell_m, cache_dir, ward_cells)
    cells = unique_cells(np.concatenate(per_ward)) if per_ward else np.empty(0, dtype=np.int64)
    compact = [np.searchsorted(cells, c) for c in per_ward]
    areas = build_areas(
        codes=list(wards.codes),
        names=list(wards.names),
        area_km2=wards.area_km2,
        neighbourhood=list(attributes.neighbourhood),
        district=None if attributes.district is None else list(attributes.district),
        district_name=None if attributes.district_name is None else list(attributes.district_name),
        population=attributes.population,
        target_minutes_per_week=attributes.target_minutes_per_week,
        ward_cells=compact,
        n_cells=len(cells),
        force_name=force_name,
    )
    geography = Geography(
        wards=wards,
        attributes=attributes,
        index=WardIndex(wards.geometry),
        grid=Grid(wards.metric_crs, cell_m),
        cells=cells,
        areas=areas,
    )
    log.info(
        "geography ready: %d wards, %d neighbourhoods, %d districts, %d cells in %.1f s",
        len(wards),
        len(areas.of_level("neighbourhood")),
        len(areas.of_level("district")),
        len(cells),
        time.perf_counter() - started,
    )
    return geography
