"""The public figures as open data: CSV beside JSON and GeoJSON, every field described
(CSV on the Web metadata), a licence and an attribution on every answer; and the public
zones on the ward pages."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from beatlight.api.open_data import PERIOD_COLUMNS, WARD_COLUMNS, ZONE_COLUMNS
from beatlight.api.schemas import PublicWard
from beatlight.api.zone_schemas import PublicZone
from tests.api.conftest import fill
from tests.api.test_public import WEEK_END, public_client
from tests.api.test_zones import client as zone_client
from tests.api.test_zones import fill as fill_zones
from tests.api.test_zones import zoned  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OGL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _links(response) -> str:
    link = response.headers["link"]
    assert f'<{OGL}>; rel="license"' in link
    assert '</api/v1/public/fields>; rel="describedby"; type="application/csvm+json"' in link
    return link


@pytest.mark.parametrize("period,day", [("day", "2026-11-03"), ("week", "2026-11-02")])
def test_the_ward_figures_as_csv_equal_the_json(engine, documents, report_geography, period,
                                                day):  # fmt: skip
    fill(engine, documents)
    api = public_client(engine, report_geography, WEEK_END + timedelta(days=1), public_min_units=5)
    params = {"period": period, "date": day}
    body = api.get("/api/v1/public/visibility", params=params)
    _links(body)
    body = body.json()
    assert body["licence"] == OGL and "Open Government Licence" in body["attribution"]
    answer = api.get("/api/v1/public/visibility", params=params | {"format": "csv"})
    _links(answer)
    assert f'filename="visibility-{period}-{day}.csv"' in answer.headers["content-disposition"]
    assert answer.text.splitlines()[0].split(",") == [c[0] for c in PERIOD_COLUMNS + WARD_COLUMNS]
    rows = _csv(answer)
    assert len(rows) == len(body["wards"])
    for row, ward in zip(rows, body["wards"], strict=True):
        assert (row["period"], row["date"], row["start"], row["end"]) == (
            period, day, body["start"], body["end"])  # fmt: skip
        for name, *_ in WARD_COLUMNS:
            value = ward[name]
            want = "" if value is None else str(value).lower() if isinstance(value, bool) \
                else str(value)  # fmt: skip
            assert row[name] == want, (name, row, ward)
    suppressed = [r for r in rows if r["units_suppressed"] == "true"]
    assert all(r["distinct_units"] == "" for r in suppressed)
    assert suppressed or period == "week"  # the day of 3 November has counts of 4 (< 5)
    geojson = api.get("/api/v1/public/geojson", params=params)
    _links(geojson)
    assert geojson.json()["licence"] == OGL


def test_every_published_field_is_described(api):
    answer = api.get("/api/v1/public/fields")
    assert answer.headers["content-type"].startswith("application/csvm+json")
    meta = answer.json()
    assert meta["@context"] == "http://www.w3.org/ns/csvw"
    assert meta["dc:license"] == {"@id": OGL}
    assert "Open Government Licence" in meta["dc:rights"]
    wards, zones = meta["tables"]
    assert wards["url"] == "/api/v1/public/visibility?format=csv"
    assert zones["url"] == "/api/v1/public/zones?format=csv"
    for table, model in ((wards, PublicWard), (zones, PublicZone)):
        columns = table["tableSchema"]["columns"]
        names = [c["name"] for c in columns]
        # Every field the JSON publishes is a described column, and nothing else is.
        assert set(names) == set(model.model_fields) | {c[0] for c in PERIOD_COLUMNS}
        for column in columns:
            assert column["titles"] and len(column["dc:description"]) > 20
            assert column["datatype"] in ("string", "date", "datetime", "integer", "decimal",
                                          "boolean")  # fmt: skip


def test_the_public_zones_as_csv_and_on_their_wards_pages(engine, zoned):  # noqa: F811
    geography, zones, documents = zoned
    fill_zones(engine, documents, live=documents[max(documents)])
    end = datetime(2026, 10, 24, 23, tzinfo=UTC)  # Saturday 24 October ends (BST)
    with zone_client(engine, geography, zones, end + timedelta(hours=25)) as api:
        params = {"period": "day", "date": "2026-10-24"}
        body = api.get("/api/v1/public/zones", params=params).json()
        assert body["zones"] and body["licence"] == OGL
        rows = _csv(api.get("/api/v1/public/zones", params=params | {"format": "csv"}))
        assert [r["code"] for r in rows] == [z["code"] for z in body["zones"]]
        for row, zone in zip(rows, body["zones"], strict=True):
            assert row["patrol_hours"] == str(zone["patrol_hours"])
            assert row["target_hours"] == ("" if zone["target_hours"] is None
                                           else str(zone["target_hours"]))  # fmt: skip
        assert [c for c in rows[0]] == [c[0] for c in PERIOD_COLUMNS + ZONE_COLUMNS]
    # The ward pages list the public zones inside them, with their last published week.
    public = {str(c) for c, p in zip(zones.codes, zones.public, strict=True) if p}
    monday = datetime(2026, 10, 26, 0, tzinfo=UTC)  # the week of 19 October ends (GMT)
    with zone_client(engine, geography, zones, monday + timedelta(days=1)) as api:
        week = api.get("/api/v1/public/zones", params={"period": "week"}).json()
        assert {z["code"] for z in week["zones"]} == public
        pages = {code: api.get(f"/public/wards/{code}").text
                 for code in api.app.state.services.ward_codes}  # fmt: skip
        for zone in week["zones"]:
            holding = [c for c, html in pages.items() if f"<strong>{zone['name']}</strong>" in html]
            assert holding, zone["name"]  # on the page of every ward it overlaps
        hidden = {str(c): str(n) for c, n, p in zip(zones.codes, zones.names, zones.public,
                                                    strict=True) if not p}  # fmt: skip
        for name in hidden.values():
            assert not any(f"<strong>{name}</strong>" in html for html in pages.values())
