"""The ward of a ping (SPEC rule 1): the polygon containing it; on a boundary, the lowest code."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from beatlight.geo import OUTSIDE, WardIndex, synthetic_wards, wards_from_frame
from tests.geo.fixtures import frame

pytestmark = pytest.mark.unit

# Four 1° squares in lon/lat meeting at (1, 1): index 0 south-west, 1 south-east,
# 2 north-west, 3 north-east.
QUADRANTS = [
    shapely.box(0, 0, 1, 1),
    shapely.box(1, 0, 2, 1),
    shapely.box(0, 1, 1, 2),
    shapely.box(1, 1, 2, 2),
]


@pytest.fixture
def index() -> WardIndex:
    return WardIndex(np.array(QUADRANTS, dtype=object))


def test_point_inside_a_ward_gets_that_ward(index):
    lon = np.array([0.5, 1.5, 0.5, 1.5])
    lat = np.array([0.5, 0.5, 1.5, 1.5])
    result = index.match(lon, lat)
    assert result.dtype == np.int32
    assert result.tolist() == [0, 1, 2, 3]


def test_point_on_a_shared_edge_goes_to_the_lowest_index(index):
    # (1, 0.5) is on the edge of wards 0 and 1; (1.5, 1) on the edge of 1 and 3.
    assert index.match(np.array([1.0, 1.5]), np.array([0.5, 1.0])).tolist() == [0, 1]


def test_point_on_a_vertex_shared_by_four_wards_goes_to_the_lowest_index(index):
    assert index.match(np.array([1.0]), np.array([1.0])).tolist() == [0]


def test_point_on_a_ward_outer_boundary_is_in_that_ward(index):
    lon = np.array([2.0, 0.0, 1.5, 2.0])
    lat = np.array([1.5, 0.3, 2.0, 2.0])
    assert index.match(lon, lat).tolist() == [3, 0, 3, 3]


def test_point_in_no_ward_is_outside(index):
    lon = np.array([2.0001, -5.0, 1.0])
    lat = np.array([1.0, 0.5, 2.5])
    assert index.match(lon, lat).tolist() == [OUTSIDE] * 3


def test_non_finite_coordinates_are_outside(index):
    lon = np.array([np.nan, 0.5, np.inf, 0.5])
    lat = np.array([0.5, np.nan, 0.5, 0.5])
    assert index.match(lon, lat).tolist() == [OUTSIDE, OUTSIDE, OUTSIDE, 0]


def test_empty_input_gives_empty_output(index):
    result = index.match(np.array([]), np.array([]))
    assert result.shape == (0,) and result.dtype == np.int32


def test_output_has_the_shape_of_the_input(index):
    lon = np.array([[0.5, 1.5], [0.5, 9.0]])
    lat = np.array([[0.5, 0.5], [1.5, 9.0]])
    assert index.match(lon, lat).tolist() == [[0, 1], [2, OUTSIDE]]


def test_mismatched_shapes_are_a_programming_error(index):
    with pytest.raises(ValueError, match="differ in shape"):
        index.match(np.array([1.0, 2.0]), np.array([1.0]))


def test_point_in_a_hole_is_outside_and_in_the_ward_filling_it():
    ring = shapely.box(0, 0, 3, 3).difference(shapely.box(1, 1, 2, 2))
    index = WardIndex([ring, shapely.box(1, 1, 2, 2)])
    assert index.match(np.array([1.5, 0.5]), np.array([1.5, 0.5])).tolist() == [1, 0]
    assert WardIndex([ring]).match(np.array([1.5]), np.array([1.5])).tolist() == [OUTSIDE]


def test_multipolygon_ward_matches_in_each_part():
    index = WardIndex([shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)])])
    assert index.match(np.array([0.5, 5.5, 3.0]), np.array([0.5, 5.5, 3.0])).tolist() == [
        0,
        0,
        OUTSIDE,
    ]


def test_index_accepts_a_geoseries_and_an_empty_ward_list():
    wards = wards_from_frame(frame({"code": ["a"]}, [shapely.box(0, 0, 1, 1)], crs="EPSG:4326"))
    assert WardIndex(wards.geometry).match(np.array([0.5]), np.array([0.5])).tolist() == [0]
    assert WardIndex([]).match(np.array([0.5]), np.array([0.5])).tolist() == [OUTSIDE]


def test_shared_edge_goes_to_the_lowest_code_through_wards():
    # The western square has the higher code: after loading it is index 1.
    wards = wards_from_frame(
        frame(
            {"code": ["E05000002", "E05000001"]},
            [shapely.box(-2.0, 52.0, -1.9, 52.1), shapely.box(-1.9, 52.0, -1.8, 52.1)],
            crs="EPSG:4326",
        )
    )
    index = WardIndex(wards.geometry)
    result = index.match(np.array([-1.9, -1.95, -1.85]), np.array([52.05, 52.05, 52.05]))
    assert result.tolist() == [0, 1, 0]
    assert wards.codes[result[0]] == "E05000001"


def test_many_points_match_like_one_at_a_time(index):
    rng = np.random.default_rng(3)
    # Coordinates on a 0.25° lattice land on edges and vertices often.
    lon = rng.integers(-2, 11, 2_000) * 0.25
    lat = rng.integers(-2, 11, 2_000) * 0.25
    bulk = index.match(lon, lat)
    for i in range(0, 2_000, 97):
        covering = [
            w
            for w, polygon in enumerate(QUADRANTS)
            if polygon.intersects(shapely.Point(lon[i], lat[i]))
        ]
        assert bulk[i] == (min(covering) if covering else OUTSIDE)


def test_the_lookup_grid_agrees_with_the_polygons_everywhere():
    # Synthetic wards (EPSG:4326) and one ward overlapping three of them (rule 1: the
    # lowest index wins inside the overlap too). Points: anywhere, on boundaries (vertices
    # and along edges) and on the lookup grid's own cell edges and corners.
    wards = list(wards_from_frame(synthetic_wards()).geometry.values)
    lon0, lat0, lon1, lat1 = shapely.total_bounds(wards).tolist()
    wards.append(shapely.Point((lon0 + lon1) / 2, (lat0 + lat1) / 2).buffer(0.01))
    index = WardIndex(wards)
    rng = np.random.default_rng(5)
    anywhere = rng.uniform([lon0 - 0.01, lat0 - 0.01], [lon1 + 0.01, lat1 + 0.01], (6_000, 2))
    vertices = shapely.get_coordinates(shapely.boundary(wards))
    a, b = vertices[rng.integers(0, len(vertices), (2, 3_000))]
    along = a + (b - a) * rng.random((3_000, 1)) ** 8  # mostly near a vertex, on no edge
    scale = index._lookup.scale
    corners = np.floor(anywhere[:2_000] * scale) / scale
    edges = np.column_stack([corners[:, 0], anywhere[:2_000, 1]])
    points = np.concatenate([anywhere, vertices[:3_000], along, corners, edges])
    found = index.match(points[:, 0], points[:, 1])
    covering = shapely.intersects(
        np.array(wards)[:, None], shapely.points(points)[None, :]
    )  # (ward, point)
    expected = np.where(covering.any(axis=0), covering.argmax(axis=0), OUTSIDE)
    assert found.tolist() == expected.tolist()
    # And the grid answers most of the points away from boundaries by itself.
    assert (index._lookup.ward(anywhere[:, 0], anywhere[:, 1]) >= OUTSIDE).mean() > 0.8
