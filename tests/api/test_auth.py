"""API keys and roles on SQLite and PostgreSQL: a real FastAPI app guarded by ``requires``."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from beatlight import api
from beatlight.api.auth import (
    ROLES,
    Authenticator,
    Principal,
    create_key,
    key_prefix,
    list_keys,
    requires,
    revoke_key,
)
from beatlight.api.db import StoreUnreachable, create_engine_for, upgrade
from beatlight.api.models import ApiKey
from beatlight.errors import BeatlightError
from tests.api.conftest import dump, new_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MIGRATIONS = Path(api.__file__).parent / "migrations"


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
    return app


def new_key(engine: Engine, role: str, label: str = "") -> str:
    with Session(engine) as session, session.begin():
        return create_key(session, role, label)[1]


def revoke(engine: Engine, prefix_or_id: str | int) -> None:
    with Session(engine) as session, session.begin():
        revoke_key(session, prefix_or_id)


@pytest.fixture
def client(engine) -> TestClient:
    return TestClient(guarded_app(engine))


def test_a_key_is_bl_a_prefix_and_a_secret(engine):
    key = new_key(engine, "pcc")
    assert key.startswith("bl_") and len(key) == 3 + 8 + 1 + 43
    assert key_prefix(key) == key[:11]
    assert key_prefix(key[:-1]) is None and key_prefix(None) is None
    assert key_prefix("Bearer " + key) is None


def test_only_the_hash_is_stored_never_the_key(engine):
    keys = [new_key(engine, role, label=f"{role} desk") for role in ROLES]
    stored = repr(dump(engine)["api_keys"])
    for key in keys:
        assert key not in stored
        assert key.split("_", 2)[2] not in stored  # not even the secret part
        assert hashlib.sha256(key.encode()).hexdigest() in stored
        assert key[:11] in stored  # the non-secret prefix names the key


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


def test_keys_are_listed_and_revoked_by_prefix_or_id(engine):
    keys = [
        new_key(engine, "inspector", "a"),
        new_key(engine, "pcc", "b"),
        new_key(engine, "admin"),
    ]
    with Session(engine) as session, session.begin():
        listed = list_keys(session)
        assert [(k.prefix, k.role, k.label) for k in listed] == [
            (keys[0][:11], "inspector", "a"),
            (keys[1][:11], "pcc", "b"),
            (keys[2][:11], "admin", ""),
        ]
        assert revoke_key(session, keys[0][3:11]).revoked_at is not None  # without "bl_"
        assert revoke_key(session, listed[1].id).prefix == keys[1][:11]
        assert revoke_key(session, keys[2]).prefix == keys[2][:11]  # the whole key works too
    authenticator = Authenticator(engine, cache_seconds=0)
    assert [authenticator.principal(key) for key in keys] == [None, None, None]


def test_revoking_an_unknown_or_revoked_key_says_so(engine):
    key = new_key(engine, "pcc")
    revoke(engine, key[:11])
    with pytest.raises(BeatlightError, match="already revoked"):
        revoke(engine, key[:11])
    with pytest.raises(BeatlightError, match="no API key 'bl_zzzzzzzz'.*keys list"):
        revoke(engine, "bl_zzzzzzzz")


def test_an_unknown_role_lists_the_roles(engine):
    with pytest.raises(BeatlightError, match="unknown role 'chief'.*inspector, pcc, admin"):
        new_key(engine, "chief")
    with pytest.raises(BeatlightError, match="inspector, pcc, admin"):
        requires("inspector", "superuser")
    with Session(engine) as session:
        assert list_keys(session) == []


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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0002_adds_and_drops_the_keys_table(kind, tmp_path_factory):
    for url in new_database(kind, tmp_path_factory):
        upgrade(url, "0001")
        engine = create_engine_for(url)
        try:
            assert "api_keys" not in sa.inspect(engine).get_table_names()
            upgrade(engine)
            inspector = sa.inspect(engine)
            assert "api_keys" in inspector.get_table_names()
            assert {i["name"]: i["unique"] for i in inspector.get_indexes("api_keys")} == {
                "ix_api_keys_prefix": True
            }
            with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
                connection.execute(sa.insert(ApiKey).values(
                    prefix="bl_abcd1234", key_sha256="0" * 64, role="chief", label=""))  # fmt: skip
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0001")
            assert "api_keys" not in sa.inspect(engine).get_table_names()
        finally:
            engine.dispose()
