"""A SYNTHETIC demo geography, generated in code: made-up wards, not real boundaries.

Demos and tests must run on a fresh clone without the reference data, so this
module draws 24 irregular wards (Voronoi cells of jittered seed points, clipped
to a 12 km x 10 km rectangle near Stoke-on-Trent in British National Grid),
grouped into three districts. Codes start with ``SYN`` so they can never be
mistaken for ONS codes.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

_METRIC_CRS = "EPSG:27700"
# South-west corner, size and seed layout of the synthetic area (metres, BNG).
_ORIGIN_X, _ORIGIN_Y = 382_000.0, 341_000.0
_WIDTH, _HEIGHT = 12_000.0, 10_000.0
_COLUMNS, _ROWS = 6, 4
_COLUMNS_PER_DISTRICT = 2
_JITTER = 0.35  # of a seed cell: irregular wards, but no slivers


def synthetic_wards(seed: int = 7) -> gpd.GeoDataFrame:
    """Generate the SYNTHETIC demo wards (not real boundaries) in EPSG:4326; same seed, same wards.

    Columns: ``code`` (``SYN00001``…), ``name`` (``Synthetic ward 1``…),
    ``district`` (``SYND1``…), ``district_name`` (``Synthetic district A``…),
    ``geometry``. Wards tile the rectangle without gaps or overlaps.
    """
    rng = np.random.default_rng(seed)
    column_grid, row_grid = np.meshgrid(np.arange(_COLUMNS), np.arange(_ROWS), indexing="ij")
    column, row = column_grid.ravel(), row_grid.ravel()
    cell_w, cell_h = _WIDTH / _COLUMNS, _HEIGHT / _ROWS
    x = _ORIGIN_X + (column + 0.5 + rng.uniform(-_JITTER, _JITTER, column.size)) * cell_w
    y = _ORIGIN_Y + (row + 0.5 + rng.uniform(-_JITTER, _JITTER, row.size)) * cell_h
    area = shapely.box(_ORIGIN_X, _ORIGIN_Y, _ORIGIN_X + _WIDTH, _ORIGIN_Y + _HEIGHT)
    seeds = shapely.points(x, y)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area))
    # Voronoi output order is GEOS's; give each seed the cell that contains it.
    tree = shapely.STRtree(cells)
    seed_index, cell_index = tree.query(seeds, predicate="within")
    wards = shapely.intersection(cells[cell_index[np.argsort(seed_index)]], area)

    number = np.arange(1, column.size + 1)
    district = column // _COLUMNS_PER_DISTRICT
    frame = gpd.GeoDataFrame(
        {
            "code": [f"SYN{n:05d}" for n in number],
            "name": [f"Synthetic ward {n}" for n in number],
            "district": [f"SYND{d + 1}" for d in district],
            "district_name": [f"Synthetic district {chr(ord('A') + d)}" for d in district],
        },
        geometry=wards,
        crs=_METRIC_CRS,
    )
    return frame.to_crs("EPSG:4326")


def write_synthetic(path: str | Path, seed: int = 7) -> Path:
    """Write the SYNTHETIC demo wards (not real boundaries) to a GeoJSON file; returns its path."""
    path = Path(path)
    synthetic_wards(seed).to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


__all__ = ["synthetic_wards", "write_synthetic"]
