"""``X-Forwarded-For`` names the client only when a trusted proxy sends it.

uvicorn trusts the header from 127.0.0.1 by default, so any process on the API's host
could name a new address with each request and get a fresh rate-limit bucket each time
(200 concurrent requests, no 429). Against ``beatlight api`` running as a process, with
a rate limit of a burst of 60 and one request a minute after it, so that counts of 429
do not hang on timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from tests.conftest import run_async
from tests.security.conftest import start_api

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

LIMITS = {"BEATLIGHT_RATE_LIMIT_PER_MINUTE": "1", "BEATLIGHT_RATE_LIMIT_BURST": "60"}
ROUTE = "/api/v1/public/geojson"


@pytest.fixture(scope="module")
def default_api(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """``beatlight api`` with no ``BEATLIGHT_TRUSTED_PROXIES``."""
    with start_api(tmp_path_factory.mktemp("default-api"), LIMITS) as api:
        yield api


@pytest.fixture(scope="module")
def proxied_api(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """``beatlight api`` behind proxies on this host and on 10.0.0.0/8, access log on, and
    uvicorn's ``FORWARDED_ALLOW_IPS=*`` (which would believe any hop) set, to be ignored."""
    env = LIMITS | {
        "BEATLIGHT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        "FORWARDED_ALLOW_IPS": "*",
    }
    with start_api(tmp_path_factory.mktemp("proxied-api"), env, "--verbose") as api:
        yield api


def _statuses(base: str, forwarded: list[str | None]) -> list[int]:
    """The statuses of one concurrent request per entry: its ``X-Forwarded-For``, if any."""

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=len(forwarded))
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            answers = await asyncio.gather(*(
                client.get(ROUTE, headers={"X-Forwarded-For": header} if header else {})
                for header in forwarded))  # fmt: skip
        return [answer.status_code for answer in answers]

    return run_async(burst())


def test_by_default_x_forwarded_for_is_ignored_and_buys_no_bucket(default_api):
    """Issue 19 follow-up: each forged address got its own bucket (200 requests, no 429)."""
    forged = [f"198.18.{n // 200}.{n % 200 + 1}" for n in range(200)]
    statuses = _statuses(default_api.url, forged)
    # At most one burst went through, as for requests without the header (the start-up's
    # check of /healthz took a token from the same bucket).
    assert statuses.count(429) >= 140
    # They all took from the bucket of the socket's peer: a request without one is refused.
    assert _statuses(default_api.url, [None]) == [429]


def test_a_trusted_proxys_forwarded_clients_get_buckets_of_their_own(proxied_api):
    first = _statuses(proxied_api.url, ["198.51.100.1"] * 61)
    assert first.count(429) == 1
    second = _statuses(proxied_api.url, ["198.51.100.2"] * 60)
    assert 429 not in second
    # The proxy's own requests (no header) are counted against the proxy.
    assert _statuses(proxied_api.url, [None]) != [429]


def test_the_right_most_untrusted_hop_of_a_chain_is_the_client(proxied_api):
    """A client may write anything at the left of the header; the right-most address no
    trusted proxy vouches for (198.51.100.7, which 10.1.2.3 received the request from)
    is the client, for the rate limit and in the access log."""
    chains = [f"203.0.113.{n}, 198.51.100.7, 10.1.2.3" for n in range(1, 62)]
    statuses = _statuses(proxied_api.url, chains)
    assert statuses.count(429) == 1
    assert _statuses(proxied_api.url, ["198.51.100.7"]) == [429]  # the same bucket
    log = proxied_api.log.read_text()
    assert f'198.51.100.7:0 - "GET {ROUTE} HTTP/1.1" 429' in log
    assert "203.0.113." not in log and "10.1.2.3" not in log
    assert "FORWARDED_ALLOW_IPS is ignored" in log
