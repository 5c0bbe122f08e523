"""What every answer tells caches and browsers (issue 19): keyed answers are private and
vary by key, nothing is sniffed, and the HTML report may not run scripts or be framed."""

from __future__ import annotations

import pytest

from tests.api.conftest import HOURS
from tests.api.test_roles import _points, _vary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Z = HOURS[1].strftime("%Y-%m-%dT%H:%M:%SZ")


def _keyed(response) -> None:  # noqa: ANN001
    assert response.headers["cache-control"] == "private, no-store"
    assert {"X-API-Key", "Authorization"} <= _vary(response)
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("role", "path", "params"),
    [
        ("pcc", "/api/v1/history/{code}", {"format": "csv", "metric": "patrol_minutes"}),
        ("pcc", "/api/v1/report", {"as_of": Z, "format": "csv"}),
        ("pcc", "/api/v1/report", {"as_of": Z, "format": "html"}),
        ("inspector", "/api/v1/geojson", {}),
        ("inspector", "/api/v1/live/points", {}),
        ("inspector", "/maps/live", {}),
        ("pcc", "/maps/coverage", {}),
    ],
)
def test_every_keyed_answer_is_private_and_varies_by_key(api, documents, role, path, params):
    code = documents[HOURS[0]]["wards"][0]["code"]
    api.app.state.services.points = _points(code)
    for style in ({"X-API-Key": api.keys[role]}, {"Authorization": f"Bearer {api.keys[role]}"}):
        response = api.get(path.replace("{code}", code), params=params, headers=style)
        assert response.status_code == 200, response.text
        _keyed(response)


@pytest.mark.unit
def test_a_vary_already_there_is_kept_and_a_cache_control_replaced():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from beatlight.api.headers import SecurityHeaders

    def gzipped(request):  # noqa: ANN001, ANN202
        return Response("{}", headers={"Vary": "Accept-Encoding", "Cache-Control": "max-age=60"})

    client = TestClient(SecurityHeaders(Starlette(routes=[Route("/api/v1/x", gzipped)])))
    response = client.get("/api/v1/x")
    assert response.headers["vary"] == "Accept-Encoding, X-API-Key, Authorization"
    _keyed(response)


def test_a_key_on_a_public_route_makes_its_answer_private(api):
    open_answer = api.get("/api/v1/public/periods")
    assert open_answer.headers["cache-control"] == "public, max-age=300"
    keyed = api.get("/api/v1/public/periods", headers=api.as_role("pcc"))
    _keyed(keyed)


def test_refusals_are_private_too(api):
    """A 401, 403, 404 or 422 from a keyed route is no more cacheable than its figures."""
    for headers, path, status in [
        ({}, "/api/v1/metrics", 401),
        (api.as_role("inspector"), "/api/v1/report?as_of=" + Z, 403),
        (api.as_role("pcc"), "/api/v1/areas/nowhere", 404),
        (api.as_role("pcc"), "/api/v1/metrics?window=2h", 422),
    ]:
        response = api.get(path, headers=headers)
        assert response.status_code == status
        _keyed(response)


@pytest.mark.parametrize("path", ["/static/maps/live.js", "/healthz", "/nowhere", "/metrics"])
def test_every_answer_is_nosniff(api, path):
    assert api.get(path).headers["x-content-type-options"] == "nosniff"


def test_the_html_report_runs_nothing_loads_nothing_and_cannot_be_framed(api):
    response = api.get("/api/v1/report", params={"as_of": Z, "format": "html"},
                       headers=api.as_role("pcc"))  # fmt: skip
    assert response.status_code == 200
    policy = dict(p.strip().split(" ", 1) for p in
                  response.headers["content-security-policy"].split(";"))  # fmt: skip
    assert policy["default-src"] == "'none'"
    assert "script-src" not in policy  # so default-src 'none': no script at all
    assert policy["frame-ancestors"] == policy["base-uri"] == policy["form-action"] == "'none'"
    assert policy["style-src"] == "'unsafe-inline'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in response.text.lower()


def test_the_limits_refusals_are_nosniff_and_private(app_with_limits):
    client = app_with_limits  # a burst of two requests
    assert client.get("/api/v1/public/periods").status_code == 200
    too_large = client.post("/api/v1/areas", content=b"x" * 70_000, headers={"X-API-Key": "k"})
    assert too_large.status_code == 413
    _keyed(too_large)
    too_many = client.get("/api/v1/public/periods")
    assert too_many.status_code == 429
    assert too_many.headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def app_with_limits(engine, report_geography):
    from fastapi.testclient import TestClient

    from beatlight.api.app import create_app
    from beatlight.settings import Settings

    settings = Settings(rate_limit_per_minute=1, rate_limit_burst=2)
    with TestClient(create_app(settings, engine, report_geography)) as client:
        yield client
