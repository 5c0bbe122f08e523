"""The API's figures over a real store (SQLite and PostgreSQL): equal to the stored report
documents, sliced by level, window and ``as_of``, as JSON, CSV and GeoJSON; bad requests
get a 4xx that says what was wrong, and a store that is down gets a 503."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from beatlight.api.app import create_app
from beatlight.api.db import create_engine_for
from beatlight.settings import Settings
from beatlight.streams.report import CSV_COLUMNS, csv_rows
from tests.api.conftest import HOURS
from tests.streams.test_report_vs_oracle import assert_same

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

H = HOURS[1]
Z = H.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_report_at_an_hour_is_the_batch_report_document(api, documents):
    for hour in HOURS:
        response = api.get("/api/v1/report", params={"as_of": hour.isoformat()},
                           headers=api.as_role("pcc"))  # fmt: skip
        assert response.status_code == 200, response.text
        assert_same(response.json(), documents[hour])


def test_report_as_csv_is_the_batch_reports_csv(api, documents):
    response = api.get("/api/v1/report", params={"as_of": Z, "format": "csv"},
                       headers=api.as_role("admin"))  # fmt: skip
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = list(csv_rows(documents[H]))
    assert [r["code"] for r in rows] == [e["code"] for e in expected]
    assert tuple(rows[0]) == CSV_COLUMNS
    for got, want in zip(rows, expected, strict=True):
        assert float(got["patrol_minutes"]) == pytest.approx(want["patrol_minutes"])
        assert got["status"] == want["status"]


def test_live_metrics_are_the_live_snapshot(api, documents):
    live = documents[HOURS[2]]
    body = api.get("/api/v1/metrics", headers=api.as_role("inspector")).json()
    assert body["live"] is True
    assert body["as_of"] == live["as_of"]
    wards = {a["code"]: a for a in body["areas"] if a["level"] == "ward"}
    assert set(wards) == {w["code"] for w in live["wards"]}
    for ward in live["wards"]:
        assert wards[ward["code"]]["windows"] == ward["windows"]
    levels = {a["level"] for a in body["areas"]}
    assert levels == {"ward", "neighbourhood", "district", "force"}


def test_metrics_as_of_an_hour_filtered_by_level_and_window(api, documents):
    body = api.get("/api/v1/metrics", params={"as_of": Z, "level": "neighbourhood",
                                              "window": "24h"},
                   headers=api.as_role("pcc")).json()  # fmt: skip
    assert body["live"] is False and body["as_of"] == Z
    expected = {n["code"]: n["windows"]["24h"] for n in documents[H]["neighbourhoods"]}
    assert {a["code"]: a["windows"]["24h"] for a in body["areas"]} == expected
    assert all(set(a["windows"]) == {"24h"} and a["level"] == "neighbourhood"
               for a in body["areas"])  # fmt: skip


def test_one_area_and_its_404(api, documents):
    ward = documents[H]["wards"][0]
    body = api.get(f"/api/v1/metrics/{ward['code']}", params={"as_of": Z},
                   headers=api.as_role("pcc")).json()  # fmt: skip
    assert body["windows"] == ward["windows"]
    missing = api.get("/api/v1/metrics/E99999999", headers=api.as_role("pcc"))
    assert missing.status_code == 404
    assert "E99999999" in missing.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/metrics/{}", "/api/v1/areas/{}",
                                  "/api/v1/history/{}"])  # fmt: skip
def test_a_404_cuts_a_long_code_it_repeats(api, path):
    """Issue 19: a 5,000-character code came back in full in the 404's message."""
    code = "E" + "9" * 4999
    response = api.get(path.format(code), headers=api.as_role("pcc"))
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert len(response.content) < 300 and code not in detail
    assert f"'{code[:64]}'… (5,000 characters)" in detail


def test_metrics_as_csv(api, documents):
    response = api.get("/api/v1/metrics", params={"as_of": Z, "level": "ward", "format": "csv"},
                       headers=api.as_role("pcc"))  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4 * len(documents[H]["wards"])
    first = documents[H]["wards"][0]
    got = next(r for r in rows if r["code"] == first["code"] and r["window"] == "7d")
    assert float(got["unit_minutes"]) == pytest.approx(first["windows"]["7d"]["unit_minutes"])


def test_areas_list_and_detail(api, documents):
    body = api.get("/api/v1/areas", headers=api.as_role("inspector")).json()
    doc = documents[H]
    assert [a["code"] for a in body if a["level"] == "ward"] == [w["code"] for w in doc["wards"]]
    ward = doc["wards"][0]
    detail = api.get(f"/api/v1/areas/{ward['code']}", headers=api.as_role("inspector")).json()
    assert detail["name"] == ward["name"] and detail["area_km2"] == ward["area_km2"]
    district = doc["districts"][0]
    rollup = api.get(f"/api/v1/areas/{district['code']}", params={"level": "district"},
                     headers=api.as_role("inspector")).json()  # fmt: skip
    assert rollup["wards"] == district["wards"]
    assert api.get("/api/v1/areas/NOPE", headers=api.as_role("pcc")).status_code == 404


def test_geojson_has_an_outline_and_figures_per_ward(api, documents, report_geography):
    response = api.get("/api/v1/geojson", params={"as_of": Z, "window": "7d"},
                       headers=api.as_role("inspector"))  # fmt: skip
    assert response.headers["content-type"].startswith("application/geo+json")
    features = response.json()["features"]
    assert len(features) == len(documents[H]["wards"])
    for feature, ward in zip(features, documents[H]["wards"], strict=True):
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = (
            feature["geometry"]["coordinates"][0][0][:2]
            if feature["geometry"]["type"] == "Polygon"
            else feature["geometry"]["coordinates"][0][0][0][:2]
        )
        assert -8 < lon < 2 and 49 < lat < 61  # WGS84 over England
        assert feature["properties"]["patrol_minutes"] == ward["windows"]["7d"]["patrol_minutes"]
    force = api.get("/api/v1/geojson", params={"level": "force"},
                    headers=api.as_role("pcc")).json()["features"]  # fmt: skip
    assert len(force) == 1 and force[0]["geometry"] is not None


def test_fairness_per_window(api, documents):
    body = api.get("/api/v1/fairness", params={"as_of": Z, "window": "28d"},
                   headers=api.as_role("pcc")).json()  # fmt: skip
    assert body["windows"] == {"28d": documents[H]["fairness"]["28d"]}


def test_history_series_hourly_and_daily(api, documents):
    code = documents[H]["wards"][1]["code"]
    params = {"metric": "patrol_minutes", "window": "24h", "start": "2026-11-03T00:00:00Z",
              "end": "2026-11-10T00:00:00Z"}  # fmt: skip
    body = api.get(f"/api/v1/history/{code}", params=params,
                   headers=api.as_role("pcc")).json()  # fmt: skip
    want = [(h, next(w for w in documents[h]["wards"] if w["code"] == code)["windows"]["24h"])
            for h in HOURS]  # fmt: skip
    assert [(p["as_of"], p["value"]) for p in body["points"]] == [
        (h.strftime("%Y-%m-%dT%H:%M:%SZ"), w["patrol_minutes"]) for h, w in want
    ]
    daily = api.get(f"/api/v1/history/{code}", params=params | {"resolution": "daily"},
                    headers=api.as_role("pcc")).json()  # fmt: skip
    assert [p["as_of"] for p in daily["points"]] == ["2026-11-04T00:00:00Z",
                                                     "2026-11-09T00:00:00Z"]  # fmt: skip
    weekly = api.get(f"/api/v1/history/{code}", params=params | {"resolution": "weekly"},
                     headers=api.as_role("pcc")).json()  # fmt: skip
    assert [p["as_of"] for p in weekly["points"]] == ["2026-11-09T00:00:00Z"]
    as_csv = api.get(f"/api/v1/history/{code}", params=params | {"format": "csv"},
                     headers=api.as_role("pcc")).text  # fmt: skip
    assert as_csv.splitlines()[0] == "as_of,patrol_minutes" and len(as_csv.splitlines()) == 6


def test_alerts_now_and_weeks_running(api, documents):
    body = api.get("/api/v1/alerts", params={"weeks": 1},
                   headers=api.as_role("inspector")).json()  # fmt: skip
    live = documents[HOURS[2]]
    flagged = {w["code"] for w in live["wards"] if w["windows"]["24h"]["status"] in ("red", "none")}
    assert {a["code"] for a in body["current"]} == flagged
    # The week ending Monday 9 November is stored; "now" (5 November) is in that week, so the
    # last complete week ends 2 November, which is not stored: nothing can be judged.
    assert body["missed_weekly_target"] == []


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/api/v1/metrics", {"as_of": "2026-11-03T06:30:00Z"}, 422, "hour boundary"),
        ("/api/v1/metrics", {"as_of": "2026-11-03T06:00:00"}, 422, "time zone"),
        ("/api/v1/metrics", {"as_of": "yesterday"}, 422, "as_of"),
        ("/api/v1/metrics", {"as_of": "2020-01-01T00:00:00Z"}, 404, "no snapshot stored"),
        ("/api/v1/metrics", {"window": "2h"}, 422, "window"),
        ("/api/v1/metrics", {"level": "street"}, 422, "level"),
        ("/api/v1/metrics", {"format": "xml"}, 422, "format"),
        ("/api/v1/report", {}, 422, "as_of"),
        ("/api/v1/history/E05000001", {"start": "2026-11-05T00:00:00Z",
                                       "end": "2026-11-01T00:00:00Z"}, 422, "after end"),
        ("/api/v1/history/E05000001", {"start": "2025-01-01T00:00:00Z",
                                       "end": "2026-11-01T00:00:00Z"}, 422, "limited"),
        ("/api/v1/history/E05000001", {"metric": "officer"}, 422, "metric"),
        ("/api/v1/history/NOPE", {}, 404, "NOPE"),
        ("/api/v1/alerts", {"weeks": 0}, 422, "weeks"),
    ],
)  # fmt: skip
def test_bad_requests_say_what_was_wrong(api, path, params, status, says):
    response = api.get(path, params=params, headers=api.as_role("admin"))
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


def test_a_store_that_is_down_is_a_503_not_a_crash(report_geography):
    engine = create_engine_for("postgresql://nobody@127.0.0.1:1/none")
    app = create_app(Settings(rate_limit_per_minute=0), engine, report_geography)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/metrics", headers={"X-API-Key": "bl_abcdefgh_" + "x" * 43})
        assert response.status_code == 503, response.text
        assert "Traceback" not in response.text
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        assert client.get("/healthz").status_code == 200
        public = client.get("/api/v1/public/visibility")
        assert public.status_code == 503 and public.json()["detail"].startswith("the store")


def test_health_and_prometheus(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json()["status"] == "ready"
    api.get("/api/v1/metrics", headers=api.as_role("pcc"))
    text = api.get("/metrics").text
    assert 'beatlight_api_requests_total{route="/api/v1/metrics",status="200"}' in text


def test_snapshot_times_are_utc_rfc3339(api):
    body = api.get("/api/v1/metrics", params={"as_of": Z}, headers=api.as_role("pcc")).json()
    assert datetime.fromisoformat(body["as_of"].replace("Z", "+00:00")) == H.astimezone(UTC)


def test_a_store_with_every_connection_busy_is_a_503_not_a_crash(
    engine, store_url, report_geography
):
    """All pooled connections in use past the pool's timeout (a country's uncached hours
    under load did this): 503 with Retry-After, never a 500. (``engine`` empties the store.)"""
    from sqlalchemy.orm import Session

    from beatlight.api.keys import create_key

    small = create_engine_for(store_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with Session(small) as session, session.begin():
            _, key = create_key(session, "pcc", "busy store")
        app = create_app(Settings(rate_limit_per_minute=0), small, report_geography)
        with TestClient(app, raise_server_exceptions=False) as client:
            with small.connect():  # the only connection, held
                response = client.get("/api/v1/metrics", headers={"X-API-Key": key})
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"]
                assert response.json()["detail"].startswith("the store")
            # The connection back: the store answers again (no live snapshot stored: 404).
            after = client.get("/api/v1/metrics", headers={"X-API-Key": key})
            assert after.status_code == 404, after.text
    finally:
        small.dispose()
