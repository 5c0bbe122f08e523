"""Keys: only in headers, never in logs, not remembered when invented; rate limits per key.

SECURITY.md "Keys and roles" and "Rate limits", including two weaknesses it states.
"""

from __future__ import annotations

import hashlib
import logging

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.auth import Authenticator, revoke_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: Names a client might try for a key in a query string.
QUERY_NAMES = ("api_key", "apikey", "key", "X-API-Key", "token", "access_token", "bearer")


def test_a_key_in_the_query_string_is_never_accepted(app_with, store):
    client = TestClient(app_with())
    key = store.keys["admin"]
    for path in ("/api/v1/areas", "/api/v1/alerts", "/maps/coverage"):
        assert client.get(path, headers={"X-API-Key": key}).status_code == 200  # it works
        for name in QUERY_NAMES:
            response = client.get(path, params={name: key})
            if path.startswith("/maps/"):  # a browser without a key: the sign-in page
                assert response.status_code == 200, name
                assert 'id="beatlight-signin"' in response.text
                assert "beatlight-config" not in response.text
            else:
                assert response.status_code == 401, name
                assert "X-API-Key" in response.json()["detail"]


def test_no_log_line_holds_a_key_its_secret_or_its_hash(app_with, store, caplog):
    caplog.set_level(logging.DEBUG)
    client = TestClient(app_with())
    key = store.keys["inspector"]
    forged = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    for presented in (key, forged, "bl_abcdefgh_" + "Z" * 43):
        client.get("/api/v1/areas", headers={"Authorization": f"Bearer {presented}"})
    with Session(store.engine) as session, session.begin():
        revoke_key(session, key[:11])
    client.get("/api/v1/areas", headers={"X-API-Key": key})
    text = caplog.text
    assert key[:11] in text  # the prefix names the key, so operators can tell which one
    for secret in (key, forged, key[12:], hashlib.sha256(key.encode()).hexdigest()):
        assert secret not in text


def test_invented_keys_are_not_remembered(store):
    authenticator = Authenticator(store.engine, cache_seconds=60)
    for n in range(200):
        assert authenticator.principal(f"bl_{n:08d}_" + "x" * 43) is None
    assert authenticator.principal(store.keys["pcc"]) is not None
    assert len(authenticator._cache) == 1  # only the valid key


def _counting_key_lookups(engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "FROM api_keys" in statement:
            seen.append(statement)

    return seen


def test_known_weakness_each_invented_key_gets_a_fresh_bucket_and_one_lookup(app_with, store):
    """SECURITY.md: a client inventing well-formed keys is not slowed by the rate limit;
    each invented key costs one indexed lookup of its prefix and gets a 401."""
    client = TestClient(app_with(rate_limit_per_minute=60, rate_limit_burst=2))
    lookups = _counting_key_lookups(store.engine)
    statuses = [client.get("/api/v1/areas", headers={"X-API-Key": f"bl_{n:08d}_" + "x" * 43})
                .status_code for n in range(20)]  # fmt: skip
    assert statuses == [401] * 20  # never 429
    assert len(lookups) == 20
    # Without a key, the same client is limited by its address.
    assert [client.get("/api/v1/areas").status_code for _ in range(3)] == [401, 401, 429]


def test_a_known_prefix_with_made_up_secrets_cannot_use_up_the_keys_requests(app_with, store):
    """The prefix is not secret (``beatlight keys list``, logs): the whole key picks the bucket."""
    client = TestClient(app_with(rate_limit_per_minute=60, rate_limit_burst=2))
    key = store.keys["admin"]
    for n in range(5):
        forged = key[:12] + f"{n:043d}"
        assert client.get("/api/v1/areas", headers={"X-API-Key": forged}).status_code == 401
    for _ in range(2):
        assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 429


def test_the_api_changes_nothing_every_route_only_reads(app_with):
    """No key, whatever its role, can change anything through the API: keys are managed
    with ``beatlight keys`` by whoever can write to the store."""
    paths = app_with().openapi()["paths"]
    assert paths and {method for item in paths.values() for method in item} == {"get"}
