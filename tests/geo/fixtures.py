"""Helpers of tests/geo: tiny hand-made wards on the 200 m grid and the reference data folder."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

# <repo>/../shared/data: present in the workspace, absent on a fresh clone.
REFERENCE_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

# A 200 m grid-aligned origin in British National Grid (near Stoke-on-Trent).
X0, Y0 = 388_000.0, 346_000.0
C = 200.0
IX0, IY0 = int(X0 // C), int(Y0 // C)


def reference_file(name: str) -> Path:
    """A reference data file, or skip the test when the folder is not beside the checkout."""
    path = REFERENCE_DATA / name
    if not path.is_file():
        pytest.skip(f"reference data {name} not found in {REFERENCE_DATA.resolve()}")
    return path


def square(ix: float, iy: float, width: float = 2, height: float = 2) -> shapely.Polygon:
    """A rectangle of whole grid cells whose south-west cell is (IX0 + ix, IY0 + iy)."""
    return shapely.box(X0 + ix * C, Y0 + iy * C, X0 + (ix + width) * C, Y0 + (iy + height) * C)


def frame(
    columns: dict[str, list], geometry: list, crs: str | None = "EPSG:27700"
) -> gpd.GeoDataFrame:
    """A GeoDataFrame of hand-made wards."""
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=crs)


def two_ward_frame() -> gpd.GeoDataFrame:
    """Two 400 m squares sharing an edge, in BNG; the western one has the higher code."""
    return frame(
        {"code": ["W2", "W1"], "name": ["West", "East"], "district": ["D1", "D1"]},
        [square(0, 0), square(2, 0)],
    )
