"""``beatlight keys`` as a user runs it: real processes on a SQLite store."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from beatlight.api.db import create_engine_for
from tests.api.test_auth import guarded_app
from tests.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'beatlight.db'}"


def keys(*args: str, store: str):  # noqa: ANN201
    return run_cli("keys", *args, "--database-url", store)


def test_create_prints_the_key_alone_on_stdout_and_it_works(store):
    result = keys("create", "--role", "inspector", "--label", "Stafford desk", store=store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n"  # KEY=$(beatlight keys create)
    key = lines[0]
    assert f"created key {key[:11]} (inspector)" in result.stderr
    assert "cannot be shown again" in result.stderr and key not in result.stderr

    engine = create_engine_for(store)
    try:
        client = TestClient(guarded_app(engine))
        response = client.get("/points", headers={"Authorization": f"Bearer {key}"})
        assert response.json() == {"role": "inspector", "prefix": key[:11],
                                   "label": "Stafford desk"}  # fmt: skip
        assert client.get("/pcc/summary", headers={"X-API-Key": key}).status_code == 403
    finally:
        engine.dispose()


def test_list_shows_prefixes_and_roles_never_a_key_or_its_hash(store):
    created = {}
    for role in ("inspector", "pcc", "admin"):
        result = keys("create", "--role", role, store=store)
        assert result.returncode == 0, result.stderr
        created[role] = result.stdout.strip()
    result = keys("list", store=store)
    assert result.returncode == 0, result.stderr
    for role, key in created.items():
        line = next(line for line in result.stdout.splitlines() if key[:11] in line)
        assert role in line
        assert key not in result.stdout and key[12:] not in result.stdout
        assert hashlib.sha256(key.encode()).hexdigest() not in result.stdout


def test_an_empty_store_says_how_to_create_a_key(store):
    result = keys("list", store=store)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and "beatlight keys create" in result.stderr


def test_revoke_stops_a_key(store):
    key = keys("create", "--role", "pcc", store=store).stdout.strip()
    result = keys("revoke", key[:11], store=store)
    assert result.returncode == 0, result.stderr
    assert f"revoked key {key[:11]} (pcc)" in result.stderr

    engine = create_engine_for(store)
    try:
        client = TestClient(guarded_app(engine))
        assert client.get("/pcc/summary", headers={"X-API-Key": key}).status_code == 401
    finally:
        engine.dispose()
    listed = keys("list", store=store).stdout
    row = next(line for line in listed.splitlines() if key[:11] in line)
    assert row.count("20") >= 2  # created and revoked dates

    again = keys("revoke", key[:11], store=store)
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0 and "already revoked" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--role", "chief"), "unknown role 'chief': a key's role is one of "
                                         "inspector, pcc, admin"),
        (("revoke", "bl_zzzzzzzz"), "no API key 'bl_zzzzzzzz'"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_and_exit_2(store, args, message):
    result = keys(*args, store=store)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_keys_commands_have_help():
    for command in (["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout
    assert "--role" in run_cli("keys", "create", "--help").stdout
