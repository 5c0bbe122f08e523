"""The API's key check on SQLite and PostgreSQL: a real FastAPI app guarded by ``requires``."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from beatlight.api.auth import Authenticator, Principal, declare_keys, requires
from beatlight.api.db import StoreUnreachable, create_engine_for
from beatlight.api.keys import ROLES, list_keys
from tests.api.test_keys import new_key, revoke

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def guarded_app(engine: Engine, cache_seconds: float = 5.0) -> FastAPI:
    """An app with a public route, an inspector-only route and a pcc-or-admin router."""
    app = FastAPI()
    app.state.auth = Authenticator(engine, cache_seconds=cache_seconds)

    @app.get("/public")
    def public() -> dict:
        return {"ok": True}

    @app.get("/points")
    def points(principal: Annotated[Principal, requires("inspector")]) -> dict:
        return {"role": principal.role, "prefix": principal.prefix, "label": principal.label}

    router = APIRouter(prefix="/pcc", dependencies=[requires("pcc", "admin")])

    @router.get("/summary")
    def summary() -> dict:
        return {"ok": True}

    app.include_router(router)
    declare_keys(app)
    return app


@pytest.fixture
def client(engine) -> TestClient:
    return TestClient(guarded_app(engine))


def test_no_key_is_401_saying_how_to_send_one(client):
    assert client.get("/public").status_code == 200
    for path in ("/points", "/pcc/summary"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        detail = response.json()["detail"]
        assert "X-API-Key" in detail and "Authorization: Bearer" in detail


@pytest.mark.parametrize(
    "presented",
    [
        "not-a-key",
        "bl_abcd1234_" + "x" * 43,  # well formed, unknown
        "",
    ],
)
def test_a_wrong_key_is_401(client, engine, presented):
    new_key(engine, "inspector")
    response = client.get("/points", headers={"X-API-Key": presented})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "X-API-Key" in response.json()["detail"]


def test_a_known_prefix_with_a_wrong_secret_is_401(client, engine):
    key = new_key(engine, "inspector")
    forged = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    assert client.get("/points", headers={"X-API-Key": forged}).status_code == 401
    assert client.get("/points", headers={"X-API-Key": key}).status_code == 200


@pytest.mark.parametrize("style", ["x-api-key", "bearer"])
@pytest.mark.parametrize(
    ("role", "points", "summary"),
    [("inspector", 200, 403), ("pcc", 403, 200), ("admin", 403, 200)],
)
def test_each_role_sees_only_its_views(client, engine, style, role, points, summary):
    """SPEC: only `inspector` sees recent points; PCC views take `pcc` or `admin`."""
    key = new_key(engine, role, label="front desk")
    headers = {"X-API-Key": key} if style == "x-api-key" else {"Authorization": f"Bearer {key}"}
    response = client.get("/points", headers=headers)
    assert response.status_code == points
    if points == 200:
        assert response.json() == {"role": role, "prefix": key[:11], "label": "front desk"}
    else:
        assert response.json() == {
            "detail": f"this endpoint needs the role inspector; this key has the role {role}"
        }
    response = client.get("/pcc/summary", headers=headers)
    assert response.status_code == summary
    if summary == 403:
        assert response.json() == {
            "detail": "this endpoint needs the role pcc or admin; this key has the role inspector"
        }


def test_a_non_bearer_authorization_is_no_key(client, engine):
    key = new_key(engine, "inspector")
    response = client.get("/points", headers={"Authorization": f"Basic {key}"})
    assert response.status_code == 401


def test_a_revoked_key_is_401(engine):
    client = TestClient(guarded_app(engine, cache_seconds=0))
    key = new_key(engine, "pcc")
    assert client.get("/pcc/summary", headers={"X-API-Key": key}).status_code == 200
    revoke(engine, key[:11])
    response = client.get("/pcc/summary", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_revocation_takes_effect_within_cache_seconds(engine):
    now = [1000.0]
    app = guarded_app(engine)
    app.state.auth = Authenticator(engine, cache_seconds=5, clock=lambda: now[0])
    client = TestClient(app)
    key = new_key(engine, "inspector")
    assert client.get("/points", headers={"X-API-Key": key}).status_code == 200
    revoke(engine, key[:11])
    now[0] += 4.9
    assert client.get("/points", headers={"X-API-Key": key}).status_code == 200  # remembered
    now[0] += 0.2
    assert client.get("/points", headers={"X-API-Key": key}).status_code == 401


def test_a_revocation_takes_effect_in_real_time(engine):
    client = TestClient(guarded_app(engine, cache_seconds=0.3))
    key = new_key(engine, "inspector")
    assert client.get("/points", headers={"X-API-Key": key}).status_code == 200
    revoke(engine, key[:11])
    time.sleep(0.35)
    assert client.get("/points", headers={"X-API-Key": key}).status_code == 401


def test_the_cache_is_safe_across_threads(engine):
    authenticator = Authenticator(engine, cache_seconds=0.05)
    keys = {role: new_key(engine, role) for role in ROLES}

    def check(n: int) -> str | None:
        found = authenticator.principal(keys[ROLES[n % 3]])
        return found.role if found else None

    with ThreadPoolExecutor(8) as pool:
        roles = list(pool.map(check, range(400)))
    assert roles == [ROLES[n % 3] for n in range(400)]


def test_use_is_recorded_without_a_write_per_request(engine):
    authenticator = Authenticator(engine, cache_seconds=0)
    key = new_key(engine, "pcc")
    assert authenticator.principal(key) is not None
    with Session(engine) as session:
        (stored,) = list_keys(session)
        first = stored.last_used_at
    assert first is not None
    assert authenticator.principal(key) is not None
    with Session(engine) as session:
        assert list_keys(session)[0].last_used_at == first  # a minute's resolution


def test_both_ways_of_sending_a_key_are_security_schemes(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                   "description": "A Beatlight API key (`beatlight keys create`)."},
        "Bearer": {"type": "http", "scheme": "bearer",
                   "description": "A Beatlight API key as a bearer token."},
    }  # fmt: skip
    for path in ("/points", "/pcc/summary"):
        assert schema["paths"][path]["get"]["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert "security" not in schema["paths"]["/public"]["get"]


def test_an_unreachable_store_is_store_unreachable(tmp_path):
    engine = create_engine_for("postgresql://nobody@127.0.0.1:9/none")
    key = "bl_abcd1234_" + "x" * 43
    with pytest.raises(StoreUnreachable, match="cannot reach the store"):
        Authenticator(engine).principal(key)
    unmigrated = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreUnreachable, match="cannot read API keys"):
        Authenticator(unmigrated).principal(key)
    # The dependency lets it through for the app to answer 503.
    with pytest.raises(StoreUnreachable):
        TestClient(guarded_app(engine)).get("/points", headers={"X-API-Key": key})
    engine.dispose()
    unmigrated.dispose()
