"""Grid cells (SPEC rule 7): squares of side C aligned to the metric CRS origin, positive area."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from beatlight.geo import (
    NO_CELL,
    Grid,
    decode_cells,
    encode_cells,
    synthetic_wards,
    ward_cells,
    wards_from_frame,
)
from beatlight.geo.cells import _floor_index, unique_cells
from tests.geo.fixtures import IX0, IY0, X0, Y0, C, square, two_ward_frame

pytestmark = pytest.mark.unit

TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def cells_of(*pairs: tuple[int, int]) -> list[int]:
    """Sorted ids of cells given relative to the fixtures' origin cell."""
    ix = np.array([IX0 + dx for dx, _ in pairs])
    iy = np.array([IY0 + dy for _, dy in pairs])
    return sorted(encode_cells(ix, iy).tolist())


def test_encoding_round_trips_negative_and_extreme_indices():
    ix = np.array([0, -1, 2**30 - 1, -(2**30), 1940, -7])
    iy = np.array([0, 5, -(2**30), 2**30 - 1, 1730, -7])
    ids = encode_cells(ix, iy)
    assert ids.dtype == np.int64 and (ids >= 0).all()
    back_x, back_y = decode_cells(ids)
    assert back_x.tolist() == ix.tolist() and back_y.tolist() == iy.tolist()


def test_encoding_is_the_documented_formula():
    assert encode_cells(np.array([3]), np.array([-2])).tolist() == [
        ((3 + 2**30) << 31) | (-2 + 2**30)
    ]


def test_ids_sort_by_column_then_row():
    ids = encode_cells(np.array([0, 0, 1, -1]), np.array([5, -5, -9, 9]))
    assert np.argsort(ids).tolist() == [3, 1, 0, 2]


def test_indices_out_of_range_are_refused():
    with pytest.raises(ValueError, match="cell indices"):
        encode_cells(np.array([2**30]), np.array([0]))


def test_a_square_ward_aligned_to_the_grid_has_exactly_its_inner_cells():
    (cells,) = ward_cells(np.array([square(0, 0)]), C)
    assert cells.dtype == np.int64
    assert cells.tolist() == cells_of((0, 0), (0, 1), (1, 0), (1, 1))


def test_cells_touching_a_ward_only_at_an_edge_or_corner_are_not_its_cells():
    # A triangle with its right angle at a cell corner: the diagonal cuts two cells,
    # and the cells beyond its legs only touch it.
    triangle = shapely.Polygon([(X0, Y0), (X0 + 2 * C, Y0), (X0, Y0 + 2 * C)])
    (cells,) = ward_cells([triangle], C)
    assert cells.tolist() == cells_of((0, 0), (0, 1), (1, 0))


def test_a_sliver_inside_one_cell_has_that_cell():
    sliver = shapely.box(X0 + 10, Y0 + 10, X0 + 10.001, Y0 + 190)
    assert ward_cells([sliver], C)[0].tolist() == cells_of((0, 0))


def test_a_ward_with_a_hole_of_whole_cells_does_not_have_them():
    ring = square(0, 0, 3, 3).difference(square(1, 1, 1, 1))
    cells = ward_cells([ring], C)[0].tolist()
    assert len(cells) == 8 and cells_of((1, 1))[0] not in cells


def test_offset_ward_covers_the_cells_it_overlaps():
    ward = shapely.box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 200)
    assert ward_cells([ward], C)[0].tolist() == cells_of((0, 0), (1, 0))


def test_ward_cells_takes_a_geoseries_and_any_cell_size():
    wards = wards_from_frame(two_ward_frame())
    per_ward = ward_cells(wards.metric, 400.0)
    assert [len(cells) for cells in per_ward] == [1, 1]
    with pytest.raises(ValueError, match="cell_m"):
        ward_cells(wards.metric, 0)


def test_empty_or_missing_ward_has_no_cells():
    assert [c.size for c in ward_cells([shapely.Polygon(), None], C)] == [0, 0]


def test_ward_cells_match_a_brute_force_area_test_on_synthetic_wards():
    wards = wards_from_frame(synthetic_wards())
    fast = ward_cells(wards.metric, C)
    for ward, cells in zip(wards.metric.values[:8], fast, strict=False):
        assert cells.tolist() == brute_force_cells(ward).tolist()


def test_ward_cells_of_a_large_ward_with_a_hole_and_an_island_match_the_brute_force_test():
    # 48 cells across: blocks of 16 and 4 cells inside the ward (all their cells), inside
    # the hole or beyond the disc (none), and cut by an edge (split down to exact tests);
    # the hole and the island have edges on grid lines, where squares only touch.
    disc = shapely.Point(X0 + 4_800, Y0 + 4_800).buffer(4_790, quad_segs=24)
    hole = square(8, 8, 24, 20)
    island = shapely.box(X0 + 12 * C, Y0 + 12 * C, X0 + 15.5 * C, Y0 + 13 * C)
    ward = shapely.MultiPolygon([disc.difference(hole), island])
    (cells,) = ward_cells([ward], C)
    assert cells.tolist() == brute_force_cells(ward).tolist()
    assert encode_cells([IX0 + 14], [IY0 + 12]).tolist()[0] in cells  # the island's
    assert encode_cells([IX0 + 20], [IY0 + 20]).tolist()[0] not in cells  # the hole's


def test_unique_cells_sorts_and_drops_repeats():
    assert unique_cells(np.array([5, 3, 5, -1, 3, 2**40])).tolist() == [-1, 3, 5, 2**40]
    assert unique_cells(np.empty(0, dtype=np.int64)).tolist() == []


def brute_force_cells(ward: shapely.Geometry) -> np.ndarray:
    """Every square around the ward's bounds, kept when its intersection has positive area."""
    min_x, min_y, max_x, max_y = ward.bounds
    ix, iy = np.meshgrid(
        np.arange(np.floor(min_x / C) - 1, np.floor(max_x / C) + 2),
        np.arange(np.floor(min_y / C) - 1, np.floor(max_y / C) + 2),
    )
    squares = shapely.box(ix * C, iy * C, (ix + 1) * C, (iy + 1) * C).ravel()
    positive = shapely.area(shapely.intersection(ward, squares)) > 0
    return np.sort(encode_cells(ix.ravel()[positive], iy.ravel()[positive]))


def test_cells_tile_the_synthetic_area_with_shared_boundary_cells():
    wards = wards_from_frame(synthetic_wards())
    per_ward = ward_cells(wards.metric, C)
    every = np.unique(np.concatenate(per_ward))
    # The 12 km x 10 km rectangle is grid-aligned up to the 4326 round trip.
    assert 60 * 50 <= every.size <= 62 * 52
    assert sum(len(c) for c in per_ward) > every.size


def test_grid_cells_of_pings_follow_floor_of_metric_coordinates():
    grid = Grid("EPSG:27700", C)
    x = np.array([X0 + 1.0, X0 + 199.0, X0 + 201.0, X0 - 1.0])
    y = np.array([Y0 + 1.0, Y0 + 399.0, Y0 + 1.0, Y0 + 1.0])
    lon, lat = TO_LONLAT.transform(x, y)
    mx, my = grid.xy(lon, lat)
    np.testing.assert_allclose(mx, x, atol=0.01)
    np.testing.assert_allclose(my, y, atol=0.01)
    ids = grid.cells(lon, lat)
    assert ids.dtype == np.int64
    assert (
        ids.tolist()
        == encode_cells(
            np.array([IX0, IX0, IX0 + 1, IX0 - 1]), np.array([IY0, IY0 + 1, IY0, IY0])
        ).tolist()
    )


def test_grid_cells_of_non_finite_coordinates_are_no_cell():
    grid = Grid()
    assert grid.cells(np.array([np.nan, -2.0]), np.array([53.0, np.inf])).tolist() == [
        NO_CELL,
        NO_CELL,
    ]
    assert grid.cells(np.array([]), np.array([])).shape == (0,)


def test_grid_square_is_the_cell_square():
    grid = Grid(cell_m=C)
    (polygon,) = grid.square(encode_cells(np.array([IX0]), np.array([IY0 - 3])))
    assert polygon.equals(shapely.box(X0, Y0 - 3 * C, X0 + C, Y0 - 2 * C))


@pytest.mark.parametrize(
    ("value", "cell_m", "expected"),
    [
        (400.0, C, 2),
        (399.99999999999994, C, 1),
        (-0.0, C, 0),
        (-1e-300, C, -1),
        (-200.0, C, -1),
        (-200.00000000000003, C, -2),
        # 31 * 0.3 / 0.3 rounds to 30.999999999999996: plain floor would say 30.
        (31 * 0.3, 0.3, 31),
    ],
)
def test_cell_index_puts_each_value_in_its_half_open_square(value, cell_m, expected):
    index = int(_floor_index(np.array([value]), cell_m)[0])
    assert index == expected
    assert index * cell_m <= value < (index + 1) * cell_m
