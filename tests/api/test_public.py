"""The public view follows the publication rules exactly (SPEC "Privacy and publication
rules"), and no response anywhere carries a unit pseudonym or a feed's own fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from beatlight.api.app import create_app
from beatlight.api.publication import whole_hours
from beatlight.settings import Settings
from tests.api.conftest import HOURS, fill
from tests.conftest import json_keys

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DAY_END = datetime(2026, 11, 4, tzinfo=UTC)  # the local day 3 November ends (GMT)
WEEK_END = datetime(2026, 11, 9, tzinfo=UTC)  # the week of Monday 2 November ends
PUBLIC_FIELDS = {"code", "name", "patrol_hours", "foot_hours", "longest_gap_hours",
                 "distinct_units",
                 "units_suppressed", "coverage", "target_hours", "status"}  # fmt: skip


def public_client(engine, geography, now: datetime, **settings) -> TestClient:
    app = create_app(Settings(rate_limit_per_minute=0, **settings), engine, geography,
                     clock=lambda: now)  # fmt: skip
    return TestClient(app, raise_server_exceptions=False)


def test_a_day_is_published_after_the_delay_in_whole_hours(engine, documents, report_geography):
    fill(engine, documents)
    # This feed has 4 to 6 units per ward: a threshold of 5 exercises both sides of it.
    api = public_client(engine, report_geography, DAY_END + timedelta(days=1), public_min_units=5)
    body = api.get("/api/v1/public/visibility", params={"period": "day", "date": "2026-11-03"})
    assert body.status_code == 200, body.text
    body = body.json()
    assert (body["start"], body["end"]) == ("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z")
    expected = {w["code"]: w["windows"]["24h"] for w in documents[DAY_END]["wards"]}
    assert [w["code"] for w in body["wards"]] == sorted(expected)
    suppressed = shown = 0
    for ward in body["wards"]:
        assert set(ward) == PUBLIC_FIELDS
        figures = expected[ward["code"]]
        assert ward["patrol_hours"] == whole_hours(figures["patrol_minutes"])
        assert ward["foot_hours"] == whole_hours(figures["foot_minutes"])
        assert ward["longest_gap_hours"] == whole_hours(figures["longest_gap_minutes"])
        assert isinstance(ward["patrol_hours"], int)
        if 0 < figures["distinct_units"] < 5:
            assert ward["distinct_units"] is None and ward["units_suppressed"]
            suppressed += 1
        else:
            assert ward["distinct_units"] == figures["distinct_units"]
            shown += 1
    assert suppressed and shown  # the feed exercises both sides of the threshold


def test_whole_hours_round_half_up():
    assert [whole_hours(m) for m in (0, 29.9, 30, 89, 90, 1439)] == [0, 0, 1, 1, 2, 24]


def test_nothing_is_published_before_the_delay(engine, documents, report_geography):
    fill(engine, documents, live=documents[HOURS[-1]])
    early = public_client(engine, report_geography, DAY_END + timedelta(hours=23, minutes=59))
    response = early.get("/api/v1/public/visibility", params={"date": "2026-11-03"})
    assert response.status_code == 404
    assert "not published yet" in response.json()["detail"]
    assert early.get("/api/v1/public/periods").json()["days"] == []
    on_time = public_client(engine, report_geography, DAY_END + timedelta(hours=24))
    assert on_time.get("/api/v1/public/visibility").json()["date"] == "2026-11-03"
    no_delay = public_client(engine, report_geography, DAY_END, publish_delay_hours=0)
    assert no_delay.get("/api/v1/public/visibility").status_code == 200


def test_a_week_is_published_once_complete_and_delayed(engine, documents, report_geography):
    fill(engine, documents)
    before = public_client(engine, report_geography, WEEK_END + timedelta(hours=12))
    week = {"period": "week", "date": "2026-11-02"}
    assert before.get("/api/v1/public/visibility", params=week).status_code == 404
    after = public_client(engine, report_geography, WEEK_END + timedelta(days=1))
    body = after.get("/api/v1/public/visibility", params={"period": "week"}).json()
    assert body["date"] == "2026-11-02" and body["end"] == "2026-11-09T00:00:00Z"
    expected = {w["code"]: w["windows"]["7d"] for w in documents[WEEK_END]["wards"]}
    for ward in body["wards"]:
        assert ward["patrol_hours"] == whole_hours(expected[ward["code"]]["patrol_minutes"])
    monday = after.get("/api/v1/public/visibility", params={"period": "week",
                                                           "date": "2026-11-03"})  # fmt: skip
    assert monday.status_code == 422 and "Monday" in monday.json()["detail"]
    periods = after.get("/api/v1/public/periods").json()
    assert periods["weeks"] == ["2026-11-02"]
    assert periods["days"] == ["2026-11-08", "2026-11-03"]


def test_the_public_view_is_never_live(engine, documents, report_geography):
    """Only a live snapshot stored: residents get nothing."""
    fill(engine, {}, live=documents[DAY_END])
    client = public_client(engine, report_geography, DAY_END + timedelta(days=3))
    assert client.get("/api/v1/public/visibility").status_code == 404
    assert client.get("/api/v1/public/geojson").status_code == 404
    assert client.get("/api/v1/public/periods").json() == {
        "timezone": "Europe/London",
        "publish_delay_hours": 24.0,
        "min_units": 3,
        "days": [],
        "weeks": [],
    }


def test_public_geojson_is_wards_only_with_public_figures(api, documents):
    response = api.get("/api/v1/public/geojson", params={"date": "2026-11-03"})
    assert response.headers["content-type"].startswith("application/geo+json")
    features = response.json()["features"]
    assert len(features) == len(documents[DAY_END]["wards"])
    for feature in features:
        assert set(feature["properties"]) == PUBLIC_FIELDS
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_no_public_route_serves_roll_ups_points_or_live_data(api):
    paths = [p for p in api.app.openapi()["paths"] if p.startswith("/api/v1/public")]
    assert sorted(paths) == ["/api/v1/public/fields", "/api/v1/public/geojson",
                             "/api/v1/public/periods", "/api/v1/public/postcode",
                             "/api/v1/public/visibility",
                             "/api/v1/public/wards", "/api/v1/public/zones",
                             "/api/v1/public/zones/geojson"]  # fmt: skip
    for path in paths:
        (operation,) = api.app.openapi()["paths"][path].values()
        parameters = operation.get("parameters", [])
        assert {p["name"] for p in parameters} <= {"period", "date", "format"}


def test_no_response_carries_a_unit_pseudonym_or_feed_field(api, documents):
    """Crawl every endpoint with every role: no ``u<n>`` pseudonym, event id or feed field."""
    code = documents[HOURS[0]]["wards"][0]["code"]
    urls = ["/api/v1/areas", f"/api/v1/areas/{code}", "/api/v1/metrics",
            f"/api/v1/metrics/{code}", "/api/v1/fairness", "/api/v1/geojson",
            f"/api/v1/history/{code}?start=2026-11-01T00:00:00Z&end=2026-11-10T00:00:00Z",
            "/api/v1/alerts", f"/api/v1/report?as_of={HOURS[1].strftime('%Y-%m-%dT%H:%M:%SZ')}",
            f"/api/v1/report?format=csv&as_of={HOURS[1].strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "/api/v1/metrics?format=csv", "/api/v1/public/visibility?date=2026-11-03",
            "/api/v1/public/geojson?date=2026-11-03", "/api/v1/public/periods",
            "/api/v1/zones", "/api/v1/returns", "/api/v1/public/zones?date=2026-11-03",
            "/openapi.json"]  # fmt: skip
    pseudonym = re.compile(r'"u\d+"|\bu\d+-\d+\b|,u\d+,')
    for role in ("inspector", "pcc", "admin"):
        for url in urls:
            response = api.get(url, headers=api.as_role(role))
            if response.status_code != 200:
                continue
            assert not pseudonym.search(response.text), (url, role)
            if "json" in response.headers["content-type"]:
                keys = json_keys(response.json())
                assert not keys & {"unit", "event_id", "accuracy_m", "officer", "callsign"}, url


def test_the_crawl_would_see_a_pseudonym():
    """The pattern the crawl uses finds pseudonyms as the feed writes them."""
    line = json.dumps({"unit": "u3", "event_id": "u3-17"})
    assert re.search(r'"u\d+"|\bu\d+-\d+\b', line)
