"""Ward boundaries from real files of every supported format, and files that cannot be used."""

from __future__ import annotations

import gzip
import logging
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from beatlight.geo import BoundaryError, load_wards, synthetic_wards, write_synthetic
from tests.geo.fixtures import frame, square, two_ward_frame

pytestmark = pytest.mark.integration


def write_shapefile(folder: Path, data: gpd.GeoDataFrame, stem: str = "wards") -> Path:
    """Write a Shapefile (with its .prj when the frame has a CRS) and return the .shp path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.shp"
    data.to_file(path, engine="pyogrio")
    return path


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    """Zip every file of a folder, under ``prefix`` inside the archive."""
    with zipfile.ZipFile(archive, "w") as handle:
        for file in sorted(folder.iterdir()):
            handle.write(file, prefix + file.name)
    return archive


def assert_two_wards(path: Path, **options: str) -> None:
    """The two hand-made squares came through: codes in order, names, districts, areas."""
    wards = load_wards(path, **options)
    assert list(wards.codes) == ["W1", "W2"]
    assert list(wards.names) == ["East", "West"]
    assert wards.district_codes is not None and list(wards.district_codes) == ["D1", "D1"]
    np.testing.assert_allclose(wards.area_km2, [0.16, 0.16], rtol=1e-6)
    assert wards.source == str(path)


def test_geojson(tmp_path):
    path = tmp_path / "wards.geojson"
    two_ward_frame().to_crs("EPSG:4326").to_file(path, engine="pyogrio")
    assert_two_wards(path)


def test_geopackage_in_british_national_grid(tmp_path):
    path = tmp_path / "wards.gpkg"
    two_ward_frame().to_file(path, engine="pyogrio")
    assert_two_wards(path)


def test_shapefile(tmp_path):
    assert_two_wards(write_shapefile(tmp_path / "shp", two_ward_frame()))


def test_zipped_shapefile(tmp_path):
    write_shapefile(tmp_path / "shp", two_ward_frame())
    assert_two_wards(zip_folder(tmp_path / "shp", tmp_path / "wards.zip"))


def test_zipped_shapefile_inside_a_folder_of_the_archive(tmp_path):
    write_shapefile(tmp_path / "shp", two_ward_frame())
    assert_two_wards(zip_folder(tmp_path / "shp", tmp_path / "wards.zip", prefix="export/"))


def test_gzipped_geojson(tmp_path):
    plain = tmp_path / "wards.geojson"
    two_ward_frame().to_crs("EPSG:4326").to_file(plain, engine="pyogrio")
    packed = tmp_path / "wards.geojson.gz"
    with plain.open("rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    assert_two_wards(packed)


@pytest.mark.parametrize("prefix", ["WD13", "WD24"])
def test_ons_columns_in_a_file(tmp_path, prefix):
    data = two_ward_frame().rename(columns={"code": f"{prefix}CD", "name": f"{prefix}NM"})
    data = data.rename(columns={"district": "LAD13CD"})
    path = tmp_path / "ons.geojson"
    data.to_crs("EPSG:4326").to_file(path, engine="pyogrio")
    assert_two_wards(path)


def test_shapefile_without_prj_needs_the_crs_option(tmp_path):
    path = write_shapefile(tmp_path / "shp", two_ward_frame())
    path.with_suffix(".prj").unlink()
    with pytest.raises(BoundaryError, match=r"does not say which CRS.*crs='EPSG:27700'"):
        load_wards(path)
    assert_two_wards(path, crs="EPSG:27700")


def test_metres_in_a_file_declared_as_wgs84_say_the_crs_looks_wrong(tmp_path):
    path = tmp_path / "bng-as-4326.geojson"
    two_ward_frame().set_crs("EPSG:4326", allow_override=True).to_file(path, engine="pyogrio")
    with pytest.raises(BoundaryError, match="declared CRS looks wrong"):
        load_wards(path)
    assert_two_wards(path, crs="EPSG:27700")


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.geojson"
    with pytest.raises(BoundaryError, match=f"not found: {path}"):
        load_wards(path)


def test_unreadable_file_gives_the_path_and_reason(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(BoundaryError, match=f"cannot read boundary file {path}: .*not recognized"):
        load_wards(path)


def test_file_without_geometry_is_refused(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code,name\nA,Alpha\n")
    with pytest.raises(BoundaryError, match="no geometry"):
        load_wards(path)


def test_bad_zip_is_refused(tmp_path):
    path = tmp_path / "wards.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(BoundaryError, match="not a valid zip"):
        load_wards(path)


def test_zip_with_two_shapefiles_asks_which(tmp_path):
    write_shapefile(tmp_path / "shp", two_ward_frame(), stem="a")
    write_shapefile(tmp_path / "shp", two_ward_frame(), stem="b")
    with pytest.raises(BoundaryError, match=r"2 boundary files \(a.shp, b.shp\)"):
        load_wards(zip_folder(tmp_path / "shp", tmp_path / "wards.zip"))


def test_file_with_no_features_is_refused(tmp_path):
    path = tmp_path / "empty.gpkg"
    frame({"code": ["a"]}, [square(0, 0)]).iloc[:0].to_file(path, engine="pyogrio")
    with pytest.raises(BoundaryError, match="no features"):
        load_wards(path)


def test_file_of_lines_is_refused(tmp_path):
    path = tmp_path / "lines.geojson"
    lines = frame({"code": ["a"]}, [square(0, 0).boundary]).to_crs("EPSG:4326")
    lines.to_file(path, engine="pyogrio")
    with pytest.raises(BoundaryError, match="must be polygons, found LineString"):
        load_wards(path)


def test_geopackage_picks_its_only_spatial_layer(tmp_path):
    path = tmp_path / "project.gpkg"
    # A non-spatial table first, as QGIS's layer_styles can be.
    pyogrio.write_dataframe(pd.DataFrame({"style": ["x"]}), path, layer="layer_styles")
    two_ward_frame().to_file(path, layer="wards", engine="pyogrio")
    assert_two_wards(path)


def test_geopackage_with_two_spatial_layers_reads_the_first_with_a_warning(tmp_path, caplog):
    path = tmp_path / "project.gpkg"
    two_ward_frame().to_file(path, layer="wards", engine="pyogrio")
    frame({"code": ["x"]}, [square(9, 9)]).to_file(path, layer="other", engine="pyogrio")
    with caplog.at_level(logging.WARNING, logger="beatlight.geo"):
        assert_two_wards(path)
    assert "2 spatial layers (wards, other)" in caplog.text


def test_synthetic_wards_round_trip_through_geojson(tmp_path):
    path = write_synthetic(tmp_path / "synthetic.geojson")
    wards = load_wards(path)
    expected = synthetic_wards()
    assert list(wards.codes) == list(expected["code"])
    assert list(wards.district_names) == list(expected["district_name"])
    assert wards.area_km2.sum() == pytest.approx(120.0, rel=1e-3)
