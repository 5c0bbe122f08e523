"""What the API fuzzer found, pinned as worked examples (one test per finding, named after it)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


# -- found by test_api_fuzz.py::test_no_query_string_makes_a_route_fail ----------------------

#: Times and days at the ends of the calendar: each was a 500 (OverflowError) before.
OUT_OF_RANGE = [
    ("/api/v1/metrics?as_of=9999-12-31T23:00:00-01:00", "as_of"),
    ("/api/v1/fairness?as_of=0001-01-01T00:00:00%2B01:00", "as_of"),
    ("/api/v1/geojson?as_of=0001-01-01T00:00:00%2B01:00", "as_of"),
    ("/api/v1/report?as_of=0001-01-01T00:00:00%2B01:00", "as_of"),
    ("/api/v1/metrics/E05000001?as_of=9999-12-31T23:00:00-01:00", "as_of"),
    ("/api/v1/history/E05000001?end=0001-01-01T00:00:00Z", "end"),
    ("/api/v1/history/E05000001?start=0001-01-01T00:00:00Z&resolution=daily", "start"),
    ("/api/v1/alerts?since=0001-01-01T00:00:00%2B01:00", "since"),
    ("/api/v1/public/visibility?date=9999-12-31", "date"),
    ("/api/v1/public/geojson?period=week&date=9999-12-27", "date"),
]


@pytest.mark.parametrize(("url", "name"), OUT_OF_RANGE)
def test_a_time_at_the_end_of_the_calendar_is_a_422_naming_the_parameter(served, url, name):
    client, keys = served
    response = client.get(url, headers={"X-API-Key": keys["admin"]})
    assert response.status_code == 422, response.content
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert f"query.{name}" in detail and "1900-01-01" in detail and "9000-01-01" in detail


@pytest.mark.parametrize("url", ["/api/v1/metrics?as_of=1900-01-01T00:00:00Z",
                                 "/api/v1/public/visibility?date=8999-12-31",
                                 "/api/v1/history/E05000001?end=1900-01-01T00:00:00Z"])  # fmt: skip
def test_times_just_inside_the_calendar_are_answered(served, url):
    client, keys = served
    response = client.get(url, headers={"X-API-Key": keys["admin"]})
    assert response.status_code in (200, 404), response.content
