"""Every endpoint × {no key, wrong key, inspector, pcc, admin}: 401, 403 or an answer
(SPEC privacy: keys and roles; only inspectors see recent presence points)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from beatlight.api.points import Point
from tests.api.conftest import API_NOW, HOURS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Z = HOURS[1].strftime("%Y-%m-%dT%H:%M:%SZ")
ANY = ("inspector", "pcc", "admin")
#: Path (with example parameters) → the roles it answers; ``None`` = public, no key needed.
MATRIX: dict[str, tuple[str, ...] | None] = {
    "/api/v1/areas": ANY,
    "/api/v1/areas/{code}": ANY,
    "/api/v1/metrics": ANY,
    "/api/v1/metrics/{code}": ANY,
    "/api/v1/fairness": ANY,
    "/api/v1/geojson": ANY,
    "/api/v1/history/{code}": ANY,
    "/api/v1/alerts": ANY,
    "/api/v1/report": ("pcc", "admin"),
    "/api/v1/live/points": ("inspector",),
    "/api/v1/audit": ("admin",),
    "/api/v1/public/periods": None,
    "/api/v1/public/visibility": None,
    "/api/v1/public/geojson": None,
    "/api/v1/public/zones": None,
    "/api/v1/public/zones/geojson": None,
    "/api/v1/public/wards": None,
    "/api/v1/public/fields": None,
    "/api/v1/zones": ANY,
    "/api/v1/zones/{code}": ANY,
    "/api/v1/returns": ANY,
    "/healthz": None,
    "/readyz": None,
    "/metrics": None,
}
ZONE = "HS01"
PARAMS = {"/api/v1/report": {"as_of": Z}, "/api/v1/public/visibility": {"date": "2026-11-03"},
          "/api/v1/public/geojson": {"date": "2026-11-03"},
          "/api/v1/public/zones": {"date": "2026-11-03"},
          "/api/v1/public/zones/geojson": {"date": "2026-11-03"}}  # fmt: skip


@pytest.fixture
def client(api, documents):
    # Real recent points, as the API would hold them after reading visibility.points.
    code = documents[HOURS[0]]["wards"][0]["code"]
    api.app.state.services.points = _points(code)
    api.code = code
    _store_a_zone(api.app.state.services.engine)
    return api


def _store_a_zone(engine) -> None:  # noqa: ANN001
    """One zone's figures, live and at the end of the published day 3 November."""
    from sqlalchemy.orm import Session

    from beatlight.api.store import Changes, apply

    figures = {
        "patrol_minutes": 60.0,
        "foot_minutes": 0.0,
        "unit_minutes": 60.0,
        "longest_gap_minutes": 0.0,
        "distinct_units": 1,
        "visits": 1,
        "koper_visits": 1,
        "last_seen": None,
        "target_minutes": None,
        "attainment": None,
        "status": None,
    }
    zone = {"code": ZONE, "name": "Zone", "kind": "hotspot",
            "windows": {"1h": figures, "24h": figures}, "sessions": []}  # fmt: skip
    changes = Changes()
    changes.zones.add([zone], as_of=HOURS[3], hour=True)
    changes.zones.add([zone], as_of=HOURS[3], hour=False)
    with Session(engine) as session, session.begin():
        apply(session, changes)


def _points(code: str):
    from beatlight.api.points import RecentPoints

    points = RecentPoints("127.0.0.1:1", 15, clock=lambda: API_NOW)  # never started
    points.add([Point(API_NOW - timedelta(minutes=m), 52.6, -2.0, code, "foot")
                for m in (1, 5, 14, 16)])  # fmt: skip
    return points


def test_the_matrix_covers_every_endpoint(api):
    paths = api.app.openapi()["paths"]  # all but the Prometheus page
    documented = {p for p, operations in paths.items() if "get" in operations}
    assert documented | {"/metrics"} == set(MATRIX)
    # The one endpoint that is not a GET: public, its postcode in the body
    # (tests/api/test_public_find.py asks it with no key).
    assert set(paths) - documented == {"/api/v1/public/postcode"}
    assert set(paths["/api/v1/public/postcode"]) == {"post"}


@pytest.mark.parametrize("path", sorted(MATRIX))
@pytest.mark.parametrize("who", ["none", "wrong", "revoked", *ANY])
def test_role_matrix(client, path, who):
    headers = {}
    if who == "wrong":
        headers = {"X-API-Key": "bl_AAAAAAAA_" + "A" * 43}
    elif who == "revoked":
        from sqlalchemy.orm import Session

        from beatlight.api.keys import create_key, revoke_key

        engine = client.app.state.services.engine
        with Session(engine) as session, session.begin():
            record, key = create_key(session, "admin", "to revoke")
            prefix = record.prefix
        with Session(engine) as session, session.begin():
            revoke_key(session, prefix)
        headers = {"Authorization": f"Bearer {key}"}
    elif who in ANY:
        headers = client.as_role(who)
    url = path.replace("{code}", ZONE if path.startswith("/api/v1/zones/") else client.code)
    response = client.get(url, params=PARAMS.get(path, {}), headers=headers)
    allowed = MATRIX[path]
    if allowed is None or who in allowed:
        assert response.status_code == 200, (path, who, response.text)
    elif who in ANY:
        assert response.status_code == 403, (path, who, response.text)
        assert who in response.json()["detail"]
    else:
        assert response.status_code == 401, (path, who, response.text)
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert "Traceback" not in response.text
    # Issue 19: no shared cache keeps an answer that depends on a key, and nothing sniffs.
    assert response.headers["x-content-type-options"] == "nosniff"
    if headers or allowed is not None:
        assert response.headers["cache-control"] == "private, no-store", (path, who)
        assert {"X-API-Key", "Authorization"} <= _vary(response), (path, who)


def _vary(response) -> set[str]:  # noqa: ANN001
    return {v.strip() for v in response.headers.get("vary", "").split(",")}


def test_inspectors_see_the_last_15_minutes_of_points_and_no_unit(client):
    body = client.get("/api/v1/live/points", headers=client.as_role("inspector")).json()
    ages = sorted(round((API_NOW - _ts(f["properties"]["ts"])).total_seconds() / 60)
                  for f in body["features"])  # fmt: skip
    assert ages == [1, 5, 14]
    for feature in body["features"]:
        assert set(feature["properties"]) == {"ts", "ward", "mode"}


def _ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
