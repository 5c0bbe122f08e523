"""Bad boundary files, end to end through ``beatlight report --boundaries FILE``.

What a user sees for each: a geometry that can be repaired is repaired and named on
stderr, one that cannot be used is refused in one line with what to do, and a ping is
never counted for a ward it is not in. ``tests/geo`` checks the loader's pieces (the
bow-tie repair, duplicate codes, metres declared as degrees); here the whole command
runs on a real file and the pings show where they were counted.

Every ping comes from a unit of its own, so a ward's ``distinct_units`` in the ``1h``
window is the number of pings counted for it.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import orjson
import pytest
import shapely
from pyproj import Transformer

from tests.conftest import run_cli
from tests.geo.fixtures import X0, Y0, square

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BNG, WGS84 = "EPSG:27700", "EPSG:4326"
AS_OF = "2026-11-20T11:00:00Z"
_TO_LONLAT = Transformer.from_crs(BNG, WGS84, always_xy=True)


def test_a_bow_tie_ward_is_repaired_named_and_holds_only_the_pings_inside_it(tmp_path):
    # Corners in the order of a figure eight: two triangles meeting at (200, 200), left and
    # right; above and below that point is not the ward.
    bow_tie = _polygon([(0, 0), (400, 400), (400, 0), (0, 400)])
    assert not bow_tie.is_valid
    boundaries = _wards(tmp_path, {"W1": bow_tie, "W2": square(2, 0)})
    result = _report(boundaries, _pings(tmp_path, [(60, 200), (340, 200), (200, 360), (600, 200)]))
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "repaired 1 invalid ward geometry" in said and "W1: Self-intersection" in said
    report = orjson.loads(result.stdout)
    assert _counted(report) == {"W1": 2, "W2": 1}
    assert report["outside"] == 1  # the notch above the crossing point is in no ward
    assert _ward(report, "W1")["area_km2"] == pytest.approx(0.08, rel=1e-3)


def test_overlapping_wards_count_a_ping_in_both_for_the_lowest_code(tmp_path):
    """SPEC rule 1: a ping in the ward polygon containing it; where more than one
    contains it (shared edges, or wards that overlap), the ward with the lowest code.
    Once, never twice: the overlap is not counted for both."""
    wide_east, wide_west = square(2, 0, width=3), square(0, 0, width=3)  # overlap: x 400..600
    # File order is not code order: the code decides, not the row.
    boundaries = _wards(tmp_path, {"E2": wide_west, "E1": wide_east})
    pings = _pings(tmp_path, [(100, 200), (500, 200), (900, 200)])
    result = _report(boundaries, pings)
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert _counted(report) == {"E1": 2, "E2": 1}
    assert report["outside"] == 0
    force = report["force"]["windows"]["1h"]
    assert force["distinct_units"] == 3  # each ping counted once, whichever ward it went to


def test_a_multi_part_ward_holds_the_pings_of_every_part(tmp_path):
    islands = shapely.MultiPolygon([square(0, 0), square(4, 0)])
    boundaries = _wards(tmp_path, {"M1": islands, "N1": square(2, 0)})
    result = _report(boundaries, _pings(tmp_path, [(200, 200), (1000, 200), (600, 200)]))
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert _counted(report) == {"M1": 2, "N1": 1}
    assert _ward(report, "M1")["area_km2"] == pytest.approx(0.32, rel=1e-3)


def test_the_parts_of_a_ward_as_rows_of_their_own_are_refused_with_what_to_do(tmp_path):
    frame = gpd.GeoDataFrame(
        {"code": ["M1", "N1", "M1"], "name": ["Isles", "Mid", "Isles"]},
        geometry=[square(0, 0), square(2, 0), square(4, 0)],
        crs=BNG,
    )
    path = tmp_path / "parts.gpkg"
    frame.to_crs(WGS84).to_file(path)
    result = _report(path, _pings(tmp_path, [(200, 200)]))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "ward codes appear more than once in column code (M1)" in said
    assert "join them into one multi-polygon per ward" in said
    assert result.stdout == ""  # no report rather than one with a ward counted twice


@pytest.mark.parametrize(
    ("real", "declared", "says"),
    [
        (WGS84, BNG, "these look like longitudes and latitudes"),
        (BNG, WGS84, "they look like metres"),
    ],
    ids=["lonlat-declared-as-metres", "metres-declared-as-lonlat"],
)
def test_a_wrong_crs_declaration_is_refused_and_the_crs_option_corrects_it(
    tmp_path, real, declared, says
):
    frame = gpd.GeoDataFrame({"code": ["A1", "B1"]}, geometry=[square(0, 0), square(2, 0)],
                             crs=BNG).to_crs(real)  # fmt: skip
    path = tmp_path / "wrong.gpkg"
    frame.set_crs(declared, allow_override=True).to_file(path)
    pings = _pings(tmp_path, [(200, 200), (600, 200), (700, 300)])

    refused = _report(path, pings)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    said = " ".join(refused.stderr.split())
    assert says in said and "the declared CRS looks wrong" in said, said
    assert refused.stdout == ""

    corrected = _report(path, pings, "--boundaries-crs", real)
    assert corrected.returncode == 0, corrected.stderr
    report = orjson.loads(corrected.stdout)
    assert _counted(report) == {"A1": 1, "B1": 2} and report["outside"] == 0


# -- helpers ------------------------------------------------------------------------------


def _polygon(corners: list[tuple[float, float]]) -> shapely.Polygon:
    """A polygon from corners in metres east and north of the test grid's origin."""
    return shapely.Polygon([(X0 + x, Y0 + y) for x, y in corners])


def _wards(folder: Path, wards: dict[str, shapely.Geometry]) -> Path:
    """A GeoJSON boundary file (WGS84, as published) of wards drawn in BNG metres."""
    frame = gpd.GeoDataFrame({"code": list(wards), "name": [f"Ward {c}" for c in wards]},
                             geometry=list(wards.values()), crs=BNG)  # fmt: skip
    path = folder / "wards.geojson"
    frame.to_crs(WGS84).to_file(path, driver="GeoJSON")
    return path


def _pings(folder: Path, places: list[tuple[float, float]]) -> Path:
    """One ping per place (metres east and north of the grid's origin), each by its own unit."""
    lines = []
    for number, (x, y) in enumerate(places):
        lon, lat = _TO_LONLAT.transform(X0 + x, Y0 + y)
        lines.append(orjson.dumps({"event_id": f"e{number}", "unit": f"u{number}",
                                   "ts": "2026-11-20T10:30:00Z", "lat": lat, "lon": lon,
                                   "mode": "foot"}))  # fmt: skip
    path = folder / "pings.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _report(boundaries: Path, events: Path, *options: str):  # noqa: ANN202
    return run_cli("report", "--boundaries", str(boundaries), "--events", str(events),
                   "--as-of", AS_OF, "--format", "json", *options, timeout=60)  # fmt: skip


def _counted(report: dict) -> dict[str, int]:
    """Pings counted per ward (one unit each), wards with none left out."""
    counts = {w["code"]: w["windows"]["1h"]["distinct_units"] for w in report["wards"]}
    return {code: n for code, n in counts.items() if n}


def _ward(report: dict, code: str) -> dict:
    return next(w for w in report["wards"] if w["code"] == code)
