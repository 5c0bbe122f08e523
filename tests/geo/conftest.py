"""Fixtures of tests/geo."""

from __future__ import annotations

import geopandas as gpd
import pytest

from beatlight.geo import Wards, wards_from_frame
from tests.geo.fixtures import two_ward_frame


@pytest.fixture
def two_wards() -> gpd.GeoDataFrame:
    """Two 400 m squares sharing an edge (BNG); the western one has the higher code."""
    return two_ward_frame()


@pytest.fixture
def loaded_two_wards() -> Wards:
    """The two squares loaded as Wards: index 0 is W1 (east), index 1 is W2 (west)."""
    return wards_from_frame(two_ward_frame())
