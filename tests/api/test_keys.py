"""API keys on SQLite and PostgreSQL: their form, their hashes, listing and revoking them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from beatlight import api
from beatlight.api.auth import Authenticator, requires
from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.keys import ROLES, create_key, key_prefix, list_keys, revoke_key
from beatlight.api.models import ApiKey
from beatlight.errors import BeatlightError
from tests.api.conftest import dump, new_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MIGRATIONS = Path(api.__file__).parent / "migrations"


def new_key(engine: Engine, role: str, label: str = "") -> str:
    with Session(engine) as session, session.begin():
        return create_key(session, role, label)[1]


def revoke(engine: Engine, prefix_or_id: str | int) -> None:
    with Session(engine) as session, session.begin():
        revoke_key(session, prefix_or_id)


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
