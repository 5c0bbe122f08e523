"""Ward attributes from the optional CSV and their defaults (SPEC rule 13)."""

from __future__ import annotations

import numpy as np
import pytest

from beatlight.geo import BoundaryError, Wards, load_attributes, wards_from_frame
from tests.geo.fixtures import frame, square

pytestmark = pytest.mark.integration


@pytest.fixture
def wards() -> Wards:
    """Three wards a, b, c in district D1 (named District One); the file has districts."""
    return wards_from_frame(
        frame(
            {
                "code": ["c", "a", "b"],
                "LAD13CD": ["D1"] * 3,
                "LAD13NM": ["District One"] * 3,
            },
            [square(0, 0), square(2, 0), square(4, 0)],
        )
    )


@pytest.fixture
def plain_wards() -> Wards:
    """Two wards x, y from a file without districts."""
    return wards_from_frame(frame({"code": ["x", "y"]}, [square(0, 0), square(2, 0)]))


def write(tmp_path, text: str, name: str = "attributes.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_without_csv_each_ward_is_its_own_neighbourhood_with_file_districts(wards):
    attributes = load_attributes(None, wards)
    assert list(attributes.neighbourhood) == ["a", "b", "c"]
    assert list(attributes.district) == ["D1"] * 3
    assert list(attributes.district_name) == ["District One"] * 3
    assert np.isnan(attributes.population).all()
    assert attributes.target_minutes_per_week.tolist() == [600.0] * 3


def test_without_csv_or_district_column_there_are_no_districts(plain_wards):
    attributes = load_attributes(None, plain_wards, default_target=420.0)
    assert attributes.district is None and attributes.district_name is None
    assert attributes.target_minutes_per_week.tolist() == [420.0, 420.0]


def test_csv_values_apply_in_ward_order(tmp_path, wards):
    path = write(
        tmp_path,
        "code,neighbourhood,population,target_minutes_per_week\n"
        "c,North,1200,900\n"
        "a,South,800.5,300\n",
    )
    attributes = load_attributes(path, wards)
    assert list(attributes.neighbourhood) == ["South", "b", "North"]
    np.testing.assert_array_equal(attributes.population, [800.5, np.nan, 1200.0])
    assert attributes.target_minutes_per_week.tolist() == [300.0, 600.0, 900.0]


def test_blank_cells_keep_the_default(tmp_path, wards):
    path = write(tmp_path, "code,neighbourhood,population,target_minutes_per_week\na,, ,\nb,N,5,\n")
    attributes = load_attributes(path, wards, default_target=500.0)
    assert list(attributes.neighbourhood) == ["a", "N", "c"]
    np.testing.assert_array_equal(attributes.population, [np.nan, 5.0, np.nan])
    assert attributes.target_minutes_per_week.tolist() == [500.0] * 3


def test_csv_district_overrides_the_file_and_becomes_the_name(tmp_path, wards):
    path = write(tmp_path, "code,district\nb,D2\nc,\n")
    attributes = load_attributes(path, wards)
    assert list(attributes.district) == ["D1", "D2", "D1"]
    assert list(attributes.district_name) == ["District One", "D2", "District One"]


def test_csv_districts_without_file_districts_must_cover_every_ward(tmp_path, plain_wards):
    full = write(tmp_path, "code,district\nx,D1\ny,D2\n", "full.csv")
    attributes = load_attributes(full, plain_wards)
    assert list(attributes.district) == ["D1", "D2"]
    assert list(attributes.district_name) == ["D1", "D2"]
    partial = write(tmp_path, "code,district\nx,D1\n", "partial.csv")
    with pytest.raises(BoundaryError, match=r"district for 1 wards but not for 1 \(y\)"):
        load_attributes(partial, plain_wards)


def test_header_is_case_and_space_insensitive_and_may_have_a_bom(tmp_path, wards):
    path = tmp_path / "excel.csv"
    path.write_text(" Code , Population \na,10\n", encoding="utf-8-sig")
    assert load_attributes(path, wards).population[0] == 10.0


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path, wards):
    path = write(tmp_path, "code,population\na,1\n\nb,lots\n")
    with pytest.raises(BoundaryError, match=r"line 4: population .* not 'lots'"):
        load_attributes(path, wards)


def test_unknown_column_lists_allowed_ones_and_suggests_a_spelling(tmp_path, wards):
    path = write(tmp_path, "code,neighborhood\na,N\n")
    with pytest.raises(
        BoundaryError, match=r"'neighborhood' \(did you mean 'neighbourhood'\?\).*allowed columns"
    ):
        load_attributes(path, wards)


def test_code_column_is_required(tmp_path, wards):
    with pytest.raises(BoundaryError, match="no code column"):
        load_attributes(write(tmp_path, "population\n5\n"), wards)


def test_repeated_column_is_refused(tmp_path, wards):
    with pytest.raises(BoundaryError, match="repeats columns population"):
        load_attributes(write(tmp_path, "code,population,population\na,1,2\n"), wards)


def test_codes_not_in_the_boundaries_are_listed_with_a_count(tmp_path, wards):
    rows = "".join(f"z{i},1\n" for i in range(7))
    path = write(tmp_path, "code,population\na,1\n" + rows)
    expected = r"7 codes are not wards .*z0, z1, z2, z3, z4 and 2 more"
    with pytest.raises(BoundaryError, match=expected):
        load_attributes(path, wards)


def test_duplicate_codes_are_refused_with_their_lines(tmp_path, wards):
    path = write(tmp_path, "code,population\na,1\nb,2\na,3\n")
    with pytest.raises(BoundaryError, match=r"more than once \(a; lines 2, 4\)"):
        load_attributes(path, wards)


def test_blank_code_is_refused_with_its_line(tmp_path, wards):
    with pytest.raises(BoundaryError, match=r"blank code on line\(s\) 3"):
        load_attributes(write(tmp_path, "code,population\na,1\n ,2\n"), wards)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("population", "-1"),
        ("population", "many"),
        ("population", "nan"),
        ("target_minutes_per_week", "-30"),
        ("target_minutes_per_week", "inf"),
        ("target_minutes_per_week", "1,000"),
    ],
)
def test_bad_numbers_name_the_line_and_column(tmp_path, wards, column, value):
    path = write(tmp_path, f'code,{column}\na,1\nb,"{value}"\n')
    with pytest.raises(BoundaryError, match=f"line 3: {column} must be a non-negative number"):
        load_attributes(path, wards)


def test_zero_target_and_population_are_allowed(tmp_path, wards):
    path = write(tmp_path, "code,population,target_minutes_per_week\na,0,0\n")
    attributes = load_attributes(path, wards)
    assert attributes.population[0] == 0.0 and attributes.target_minutes_per_week[0] == 0.0


def test_missing_file_names_the_path(tmp_path, wards):
    path = tmp_path / "absent.csv"
    with pytest.raises(BoundaryError, match=f"attributes file not found: {path}"):
        load_attributes(path, wards)


def test_empty_file_is_refused(tmp_path, wards):
    with pytest.raises(BoundaryError, match="empty"):
        load_attributes(write(tmp_path, ""), wards)


def test_header_only_keeps_every_default(tmp_path, wards):
    attributes = load_attributes(write(tmp_path, "code,population\n"), wards)
    assert list(attributes.neighbourhood) == ["a", "b", "c"]


def test_rows_with_too_many_fields_are_refused(tmp_path, wards):
    with pytest.raises(BoundaryError, match="cannot read attributes file"):
        load_attributes(write(tmp_path, "code,population\na,1,2,3\nb,2\n"), wards)


def test_attribute_arrays_are_read_only(wards):
    attributes = load_attributes(None, wards)
    with pytest.raises(ValueError):
        attributes.target_minutes_per_week[0] = 1.0
