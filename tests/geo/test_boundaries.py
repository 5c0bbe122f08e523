"""Ward boundaries from frames in memory: columns, order, CRS, repair and refusals (SPEC 1, 13)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import shapely

from beatlight.geo import BoundaryError, wards_from_frame
from tests.geo.fixtures import frame, square

pytestmark = pytest.mark.unit


def test_wards_are_in_code_order_so_index_is_code_rank(two_wards):
    wards = wards_from_frame(two_wards)
    assert list(wards.codes) == ["W1", "W2"]
    assert list(wards.names) == ["East", "West"]
    assert wards.metric.iloc[0].equals(square(2, 0))
    assert list(wards.geometry.index) == [0, 1]
    assert wards.geometry.crs.to_epsg() == 4326
    assert len(wards) == 2


def test_area_is_measured_in_the_metric_crs(two_wards):
    wards = wards_from_frame(two_wards)
    assert wards.area_km2.dtype == np.float64
    np.testing.assert_allclose(wards.area_km2, [0.16, 0.16])
    assert wards.metric_crs == "EPSG:27700"


def test_arrays_are_read_only(two_wards):
    wards = wards_from_frame(two_wards)
    with pytest.raises(ValueError):
        wards.codes[0] = "X"


def test_codes_are_stripped_strings_sorted_by_python_order():
    geometry = [square(0, 0), square(2, 0), square(4, 0)]
    wards = wards_from_frame(frame({"code": [" b ", "B", "a10"]}, geometry))
    assert list(wards.codes) == sorted(["b", "B", "a10"])


def test_numeric_codes_become_text_without_decimal_point():
    geometry = [square(0, 0), square(2, 0)]
    wards = wards_from_frame(frame({"code": [12.0, 3.0]}, geometry))
    assert list(wards.codes) == ["12", "3"]


@pytest.mark.parametrize(
    ("columns", "code", "name", "district", "district_name"),
    [
        (["WD13CD", "WD13NM", "LAD13CD", "LAD13NM"], "WD13CD", "WD13NM", "LAD13CD", "LAD13NM"),
        (["wd24cd", "wd24nm"], "wd24cd", "wd24nm", None, None),
        (
            ["Code", "NAME", "District", "district_name"],
            "Code",
            "NAME",
            "District",
            "district_name",
        ),
        (["WD24CD", "WD13CD", "WD24NM", "WD13NM"], None, None, None, None),
    ],
)
def test_code_name_and_district_columns_are_detected(columns, code, name, district, district_name):
    geometry = [square(0, 0), square(2, 0)]
    data = {column: [f"{column}-1", f"{column}-2"] for column in columns}
    if code is None:
        with pytest.raises(BoundaryError, match="code_column"):
            wards_from_frame(frame(data, geometry))
        return
    wards = wards_from_frame(frame(data, geometry))
    assert list(wards.codes) == [f"{code}-1", f"{code}-2"]
    assert list(wards.names) == [f"{name}-1", f"{name}-2"]
    if district is None:
        assert wards.district_codes is None and wards.district_names is None
    else:
        assert list(wards.district_codes) == [f"{district}-1", f"{district}-2"]
        assert list(wards.district_names) == [f"{district_name}-1", f"{district_name}-2"]


def test_name_column_of_the_code_year_is_preferred():
    geometry = [square(0, 0)]
    data = {"WD24CD": ["E1"], "WD13NM": ["old"], "WD24NM": ["new"]}
    assert list(wards_from_frame(frame(data, geometry)).names) == ["new"]


def test_explicit_columns_override_detection():
    geometry = [square(0, 0), square(2, 0)]
    data = {
        "code": ["c1", "c2"],
        "ward_id": ["id2", "id1"],
        "label": ["L2", "L1"],
        "lad": ["D", "D"],
    }
    wards = wards_from_frame(
        frame(data, geometry), code_column="ward_id", name_column="label", district_column="lad"
    )
    assert list(wards.codes) == ["id1", "id2"]
    assert list(wards.names) == ["L1", "L2"]
    assert list(wards.district_names) == ["D", "D"]


def test_missing_code_column_lists_columns_and_names_the_option():
    data = {"ward_id": ["a"], "label": ["A"]}
    with pytest.raises(BoundaryError, match=r"ward_id, label.*code_column"):
        wards_from_frame(frame(data, [square(0, 0)]))


def test_explicit_column_that_does_not_exist_is_refused():
    with pytest.raises(BoundaryError, match="name_column='nom' is not a column"):
        wards_from_frame(frame({"code": ["a"]}, [square(0, 0)]), name_column="nom")


def test_without_name_column_the_code_is_the_name():
    wards = wards_from_frame(frame({"code": ["a", "b"]}, [square(0, 0), square(2, 0)]))
    assert list(wards.names) == ["a", "b"]


def test_blank_codes_are_refused():
    with pytest.raises(BoundaryError, match="blank code"):
        wards_from_frame(frame({"code": ["a", "  "]}, [square(0, 0), square(2, 0)]))


def test_duplicate_codes_are_listed_up_to_five_with_a_count():
    codes = [f"c{i}" for i in range(7)] * 2
    geometry = [square(2 * i, 0) for i in range(14)]
    with pytest.raises(BoundaryError, match=r"7 ward codes .*c0, c1, c2, c3, c4 and 2 more"):
        wards_from_frame(frame({"code": codes}, geometry))


def test_no_rows_is_refused():
    with pytest.raises(BoundaryError, match="no features"):
        wards_from_frame(frame({"code": []}, []))


def test_points_are_not_ward_boundaries():
    geometry = [shapely.Point(388_000, 346_000), shapely.Point(388_500, 346_000)]
    with pytest.raises(BoundaryError, match=r"must be polygons, found Point for 2 wards"):
        wards_from_frame(frame({"code": ["a", "b"]}, geometry))


def test_missing_or_empty_geometry_names_the_ward():
    geometry = [square(0, 0), None, shapely.Polygon()]
    with pytest.raises(BoundaryError, match=r"no geometry for 2 wards \(b, c\)"):
        wards_from_frame(frame({"code": ["a", "b", "c"]}, geometry))


def test_no_polygons_at_all_is_refused():
    with pytest.raises(BoundaryError, match="no ward polygons"):
        wards_from_frame(frame({"code": ["a"]}, [None]))


def test_bow_tie_is_repaired_into_its_two_triangles_and_reported(caplog):
    bow_tie = shapely.Polygon(
        [(388_000, 346_000), (388_400, 346_400), (388_400, 346_000), (388_000, 346_400)]
    )
    assert not bow_tie.is_valid
    with caplog.at_level(logging.WARNING, logger="beatlight.geo"):
        wards = wards_from_frame(frame({"code": ["bow", "ok"]}, [bow_tie, square(4, 0)]))
    assert wards.repaired == ("bow",)
    assert wards.geometry.is_valid.all() and wards.metric.is_valid.all()
    assert wards.metric.iloc[0].geom_type == "MultiPolygon"
    assert wards.area_km2[0] == pytest.approx(0.08)
    assert "bow" in caplog.text and "Self-intersection" in caplog.text


def test_geometry_collection_keeps_its_polygonal_parts():
    collection = shapely.GeometryCollection(
        [square(0, 0), shapely.LineString([(388_000, 346_000), (389_000, 347_000)])]
    )
    wards = wards_from_frame(frame({"code": ["gc"]}, [collection]))
    assert wards.repaired == ("gc",)
    assert wards.metric.iloc[0].equals(square(0, 0))


def test_geometry_with_no_polygonal_part_after_repair_names_the_ward():
    flat = shapely.Polygon([(388_000, 346_000), (388_400, 346_000), (388_200, 346_000)])
    with pytest.raises(BoundaryError, match=r"no polygonal area .* \(flat\)"):
        wards_from_frame(frame({"code": ["ok", "flat"]}, [square(0, 0), flat]))


def test_metres_declared_as_lonlat_say_the_crs_looks_wrong():
    wrong = frame({"code": ["a"]}, [square(0, 0)], crs="EPSG:4326")
    with pytest.raises(BoundaryError, match=r"CRS looks wrong.*metres.*British National Grid"):
        wards_from_frame(wrong)


def test_the_crs_option_corrects_a_wrong_declaration():
    wrong = frame({"code": ["a"]}, [square(0, 0)], crs="EPSG:4326")
    wards = wards_from_frame(wrong, crs="EPSG:27700")
    assert wards.area_km2[0] == pytest.approx(0.16)


def test_a_frame_without_crs_needs_the_crs_option():
    unknown = frame({"code": ["a"]}, [square(0, 0)], crs=None)
    with pytest.raises(BoundaryError, match="pass the crs option"):
        wards_from_frame(unknown)
    assert wards_from_frame(unknown, crs="EPSG:27700").area_km2[0] == pytest.approx(0.16)


def test_an_unknown_crs_is_refused():
    with pytest.raises(BoundaryError, match="not a known CRS"):
        wards_from_frame(frame({"code": ["a"]}, [square(0, 0)]), crs="EPSG:999999")


def test_a_metric_crs_in_degrees_is_refused(two_wards):
    with pytest.raises(BoundaryError, match="projected CRS in metres"):
        wards_from_frame(two_wards, metric_crs="EPSG:4326")


def test_wards_outside_the_metric_crs_area_of_use_are_a_warning(caplog):
    paris = frame({"code": ["p"]}, [shapely.box(2.30, 48.85, 2.31, 48.86)], crs="EPSG:4326")
    with caplog.at_level(logging.WARNING, logger="beatlight.geo"):
        wards = wards_from_frame(paris)
    assert len(wards) == 1
    assert "area of use" in caplog.text


def test_another_metric_crs_is_used_for_areas():
    paris = frame({"code": ["p"]}, [shapely.box(2.30, 48.85, 2.31, 48.86)], crs="EPSG:4326")
    wards = wards_from_frame(paris, metric_crs="EPSG:2154")
    assert wards.metric_crs == "EPSG:2154"
    assert wards.area_km2[0] == pytest.approx(0.73 * 1.11, rel=0.02)


def test_z_coordinates_are_dropped():
    cube = shapely.force_3d(square(0, 0), 50.0)
    wards = wards_from_frame(frame({"code": ["z"]}, [cube]))
    assert not shapely.has_z(wards.geometry.iloc[0])
