"""``/maps/*`` and ``/static/*``: who gets which page, what a page carries, offline assets."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: Page → the roles that get the map (None: everyone, no key).
PAGES = {"/maps/live": ("inspector",), "/maps/coverage": ("pcc", "admin"), "/maps/public": None}


@pytest.mark.parametrize("path", sorted(PAGES))
@pytest.mark.parametrize("who", ["none", "wrong", "inspector", "pcc", "admin"])
def test_map_pages_need_their_role(api, path, who):
    headers = {}
    if who == "wrong":
        headers = {"X-API-Key": "bl_AAAAAAAA_" + "A" * 43}
    elif who != "none":
        headers = {"Authorization": f"Bearer {api.keys[who]}"}
    response = api.get(path, headers=headers)
    allowed = PAGES[path]
    if allowed is None or who in allowed:
        assert response.status_code == 200, response.text
        assert 'id="beatlight-config"' in response.text  # the map
    elif who == "none":
        assert response.status_code == 200  # a person in a browser: the sign-in page
        assert 'id="beatlight-signin"' in response.text
        assert "beatlight-config" not in response.text
        assert allowed[0] in response.text
    elif who == "wrong":
        assert response.status_code == 401
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    else:
        assert response.status_code == 403
        assert f"this key has the role {who}" in response.json()["detail"]


@pytest.mark.parametrize("path", sorted(PAGES))
def test_a_map_page_carries_no_figure_and_locks_itself_down(api, documents, path):
    role = (PAGES[path] or ("inspector",))[0]
    response = api.get(path, headers=api.as_role(role))
    assert response.headers["content-type"].startswith("text/html")
    for ward in next(iter(documents.values()))["wards"]:
        assert ward["code"] not in response.text and ward["name"] not in response.text
    assert response.headers["cache-control"] == "private, no-store"  # it was sent a key
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "img-src 'self' data: https://tile." in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_page_opens_on_the_chosen_window(api):
    response = api.get("/maps/live", params={"window": "1h"}, headers=api.as_role("inspector"))
    assert '"window":"1h"' in response.text
    refused = api.get("/maps/live", params={"window": "2h"}, headers=api.as_role("inspector"))
    assert refused.status_code == 422


@pytest.mark.parametrize(("path", "kind"), [
    ("/static/leaflet/leaflet.js", "javascript"),
    ("/static/leaflet/leaflet.css", "text/css"),
    ("/static/leaflet/images/layers.png", "image/png"),
    ("/static/maps/beatlight.js", "javascript"),
    ("/static/maps/live.js", "javascript"),
    ("/static/maps/coverage.js", "javascript"),
    ("/static/maps/public.js", "javascript"),
    ("/static/maps/signin.js", "javascript"),
    ("/static/maps/beatlight.css", "text/css"),
])  # fmt: skip
def test_the_maps_assets_are_served_by_the_api(api, path, kind):
    response = api.get(path)
    assert response.status_code == 200 and kind in response.headers["content-type"]
    assert response.content


def test_nothing_else_is_served_from_the_asset_folders(api):
    for path in ("/static/maps/../builders.py", "/static/maps/%2e%2e/builders.py",
                 "/static/leaflet/../__init__.py", "/static/maps/nothing.js"):  # fmt: skip
        assert api.get(path).status_code == 404, path


def test_the_maps_are_pages_not_api_endpoints(api):
    assert not [p for p in api.app.openapi()["paths"] if p.startswith(("/maps", "/static"))]
