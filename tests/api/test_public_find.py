"""Finding a ward: the published geography by name, and postcodes from a made-up
postcode file (no real postcode data is used or shipped), never logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from shapely.geometry import shape

from beatlight.api.shapes import AreaShapes
from beatlight.geo.postcodes import PostcodeFileError, load_postcodes, normalise_postcode
from tests.api.conftest import HOURS, fill
from tests.api.test_public import WEEK_END, public_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def made_up_postcodes(geography, tmp_path, *, by: str = "coordinates"):
    """A postcode file in the ONSPD's columns: one made-up postcode (area ZZ, which no
    real postcode uses) inside each ward, one without a grid reference, one outside."""
    shapes = AreaShapes(geography)
    codes = sorted(shapes.codes("ward"))
    rows, expected = [], {}
    for i, code in enumerate(codes):
        point = shape(shapes.get("ward", code)).representative_point()
        postcode = f"ZZ{i + 1} {i + 1}AB"
        expected[postcode] = code
        rows.append((postcode, f"{point.y:.6f}", f"{point.x:.6f}", code))
    rows.append(("ZZ99 9ZZ", "99.999999", "0.000000", ""))  # ONSPD: no grid reference
    rows.append(("ZZ98 9ZZ", "0.5", "100.0", "E99999999"))  # far outside every ward
    path = tmp_path / f"postcodes-{by}.csv"
    header = "pcds,lat,long,osward" if by == "coordinates" else "pcds,osward"
    lines = [header] + [",".join(r if by == "coordinates" else (r[0], r[3])) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path, expected


def test_wards_by_name_and_neighbourhood(api, documents):
    body = api.get("/api/v1/public/wards").json()
    assert body["postcodes"] is False
    wards = {w["code"]: w for w in documents[HOURS[4]]["wards"]}
    assert {w["code"] for w in body["wards"]} == set(wards)
    for place in body["wards"]:
        assert set(place) == {"code", "name", "neighbourhood", "neighbourhood_name"}
        assert place["name"] == wards[place["code"]]["name"]
        assert place["neighbourhood"] == wards[place["code"]]["neighbourhood"]
    assert api.post("/api/v1/public/postcode", json={"postcode": "ZZ1 1AB"}).status_code == 404


@pytest.mark.parametrize("by", ["coordinates", "ward"])
def test_a_postcode_finds_its_ward_and_is_never_logged(engine, documents, report_geography,
                                                       tmp_path, caplog, by):  # fmt: skip
    fill(engine, documents)
    path, expected = made_up_postcodes(report_geography, tmp_path, by=by)
    client = public_client(engine, report_geography, WEEK_END + timedelta(days=1),
                           postcode_file=path)  # fmt: skip
    assert client.get("/api/v1/public/wards").json()["postcodes"] is True
    caplog.set_level(logging.DEBUG)
    for postcode, code in expected.items():
        for asked in (postcode, postcode.lower().replace(" ", ""), f"  {postcode}  "):
            response = client.post("/api/v1/public/postcode", json={"postcode": asked})
            assert response.status_code == 200, response.text
            assert response.json()["ward"]["code"] == code
            assert response.headers["cache-control"] == "no-store"
    for unknown in ("ZZ99 9ZZ", "ZZ98 9ZZ", "ZZ1 1AA", "not a postcode"):
        response = client.post("/api/v1/public/postcode", json={"postcode": unknown})
        assert response.status_code == 404 and "no ward here" in response.json()["detail"]
    assert client.post("/api/v1/public/postcode", json={"postcode": "x" * 17}).status_code == 422
    logged = " ".join(r.getMessage() for r in caplog.records).upper()
    assert caplog.records  # httpx logs every request it makes, with its URL
    assert "ZZ" not in logged and "POSTCODE" not in logged.replace("/PUBLIC/POSTCODE", "")


def test_a_postcode_file_without_the_columns_is_refused(report_geography, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("code,easting\nZZ1 1AB,1\n")
    with pytest.raises(PostcodeFileError, match="needs a postcode column"):
        load_postcodes(path, report_geography)


def test_postcodes_are_normalised():
    assert normalise_postcode(" st4 2aa ") == "ST42AA"
    assert normalise_postcode("SW1A 1AA") == "SW1A1AA"
    assert normalise_postcode("ZZ1 1AB") == "ZZ11AB"
    assert [normalise_postcode(t) for t in ("", "12345", "ST4", "ST4 2AAA")] == [None] * 4
