"""Keys: only in headers, never in logs, invented ones buy nothing; rate limits per key.

docs/security.md "Keys and roles" and "Rate limits".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from beatlight.api.auth import Authenticator
from beatlight.api.keys import revoke_key
from tests.conftest import run_async

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
    assert len(authenticator._valid) == 1  # only the valid key


def _counting_key_lookups(engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "FROM api_keys" in statement:
            seen.append(statement)

    return seen


def _random_key() -> str:
    return f"bl_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def test_invented_keys_share_their_address_bucket_on_a_real_server(app_with):
    """Issue 19: 200 concurrent requests to a public route, each with a random well-formed
    key, are limited like 200 without a key (they all got 200 when a key picked a bucket)."""
    from tests.maps.conftest import _serve

    async def burst(base: str, keyed: bool) -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            answers = await asyncio.gather(*(
                client.get("/api/v1/public/geojson",
                           headers={"X-API-Key": _random_key()} if keyed else {})
                for _ in range(200)))  # fmt: skip
        return [answer.status_code for answer in answers]

    refused = {}
    for keyed in (False, True):
        # One request a minute after a burst of 60: the count of 429s does not hang on timing.
        with _serve(app_with(rate_limit_per_minute=1, rate_limit_burst=60)) as base:
            statuses = run_async(burst(base, keyed))
        refused[keyed] = statuses.count(429)
    assert refused[False] == 140
    assert refused[True] == refused[False]


def test_invented_keys_cost_at_most_a_burst_of_lookups(app_with, store):
    """Each invented key is one indexed lookup only while the address has requests left."""
    client = TestClient(app_with(rate_limit_per_minute=60, rate_limit_burst=2))
    lookups = _counting_key_lookups(store.engine)
    statuses = [client.get("/api/v1/areas", headers={"X-API-Key": _random_key()}).status_code
                for _ in range(20)]  # fmt: skip
    assert statuses == [401, 401] + [429] * 18
    assert len(lookups) == 2
    # Without a key, the same client is limited by the same bucket.
    assert client.get("/api/v1/areas").status_code == 429


def test_a_refused_key_is_remembered_and_costs_one_lookup(store):
    authenticator = Authenticator(store.engine, cache_seconds=60)
    lookups = _counting_key_lookups(store.engine)
    invented = _random_key()
    assert [authenticator.principal(invented) for _ in range(50)] == [None] * 50
    assert len(lookups) == 1
    assert authenticator.bucket(invented) is None  # nor does it get a bucket of its own


def test_a_flood_of_invented_keys_never_pushes_out_a_valid_one(store):
    authenticator = Authenticator(store.engine, cache_seconds=60)
    key = store.keys["pcc"]
    assert authenticator.principal(key) is not None
    for _ in range(5000):
        authenticator.principal(_random_key())
    lookups = _counting_key_lookups(store.engine)
    assert authenticator.principal(key) is not None
    assert lookups == []
    assert authenticator.bucket(key) == f"key:{key[:11]}"


def test_a_key_has_its_own_bucket_once_verified(app_with, store):
    """A valid key's first request is counted against its address; then it has its own."""
    client = TestClient(app_with(rate_limit_per_minute=60, rate_limit_burst=2))
    key = store.keys["admin"]
    assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/areas").status_code == 401  # the address's last request
    assert client.get("/api/v1/areas").status_code == 429
    for _ in range(2):
        assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 429


def test_a_known_prefix_with_made_up_secrets_cannot_use_up_the_keys_requests(app_with, store):
    """The prefix is not secret (``beatlight keys list``, logs): the whole key picks the bucket."""
    client = TestClient(app_with(rate_limit_per_minute=60, rate_limit_burst=2))
    key = store.keys["admin"]
    assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 200
    for n in range(5):
        forged = key[:12] + f"{n:043d}"
        assert client.get("/api/v1/areas", headers={"X-API-Key": forged}).status_code in (401, 429)
    for _ in range(2):
        assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/areas", headers={"X-API-Key": key}).status_code == 429


def test_the_api_changes_nothing_every_route_only_reads(app_with, store, geography, tmp_path):
    """No key, whatever its role, can change anything through the API: keys are managed
    with ``beatlight keys`` by whoever can write to the store. Every route is a GET but
    the postcode lookup, a POST only so that the postcode stays out of URLs and logs,
    which reads too."""
    from tests.api.conftest import dump
    from tests.api.test_public_find import made_up_postcodes

    path, expected = made_up_postcodes(geography, tmp_path)
    app = app_with(postcode_file=path)
    paths = app.openapi()["paths"]
    reads = {p for p, item in paths.items() if set(item) == {"get"}}
    assert reads and set(paths) - reads == {"/api/v1/public/postcode"}
    assert set(paths["/api/v1/public/postcode"]) == {"post"}
    before = dump(store.engine)
    client = TestClient(app, raise_server_exceptions=False)
    for postcode in [*expected, "ZZ1 1AA", "not a postcode"]:
        for headers in ({}, {"X-API-Key": store.keys["admin"]}):
            answer = client.post("/api/v1/public/postcode", json={"postcode": postcode},
                                 headers=headers)  # fmt: skip
            assert answer.status_code in (200, 404)
    assert dump(store.engine) == before
