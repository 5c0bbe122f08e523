"""What a browser is told: the maps' Content-Security-Policy and CORS (docs/security.md)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PAGES = {"/maps/live": "inspector", "/maps/coverage": "pcc", "/maps/public": None}


@pytest.mark.parametrize("path", sorted(PAGES))
@pytest.mark.parametrize("signed_in", [True, False], ids=["map", "sign-in"])
def test_map_pages_allow_only_this_api_and_the_tiles(app_with, store, path, signed_in):
    client = TestClient(app_with())
    role = PAGES[path]
    headers = {"X-API-Key": store.keys[role]} if signed_in and role else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    policy = dict(p.strip().split(" ", 1) for p in
                  response.headers["content-security-policy"].split(";"))  # fmt: skip
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["base-uri"] == policy["form-action"] == policy["frame-ancestors"] == "'none'"
    assert policy["img-src"] == "'self' data: https://tile.openstreetmap.org"
    # The known weakness: Folium writes its map set-up inline.
    assert policy["script-src"] == policy["style-src"] == "'self' 'unsafe-inline'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    keyed = headers or path != "/maps/public"  # the gated maps' sign-in page too
    assert response.headers["cache-control"] == ("private, no-store" if keyed else "no-store")
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', response.text)
    assert sources and all(s.startswith("/static/") for s in sources), sources


def test_no_other_origin_may_call_the_api_unless_listed(app_with, store):
    origin = {"Origin": "https://evil.example"}
    closed = TestClient(app_with())
    response = closed.get("/api/v1/areas", headers={**origin, "X-API-Key": store.keys["pcc"]})
    assert "access-control-allow-origin" not in response.headers
    preflight = {**origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "X-API-Key"}  # fmt: skip
    answer = closed.options("/api/v1/areas", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers

    listed = TestClient(app_with(cors_origins=["https://pcc.example.org"]))
    ok = {"Origin": "https://pcc.example.org", "Access-Control-Request-Method": "GET",
          "Access-Control-Request-Headers": "X-API-Key"}  # fmt: skip
    answer = listed.options("/api/v1/areas", headers=ok)
    assert answer.headers["access-control-allow-origin"] == "https://pcc.example.org"
    assert "DELETE" not in answer.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in answer.headers  # keys, never cookies
    refused = listed.options("/api/v1/areas", headers=preflight)
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_documentation_pages_load_nothing_from_elsewhere_and_run_no_inline_script(
    app_with, path
):
    """Issue 19: /docs loaded Swagger UI from a CDN, with no integrity check and no CSP."""
    client = TestClient(app_with())
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(p.strip().split(" ", 1) for p in
                  response.headers["content-security-policy"].split(";"))  # fmt: skip
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, nothing from elsewhere
    assert policy["connect-src"] == "'self'"
    assert policy["base-uri"] == policy["form-action"] == policy["frame-ancestors"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert "http://" not in response.text and "https://" not in response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)  # every script is a file
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', response.text)
    assert sources and all(s.startswith("/static/docs") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
