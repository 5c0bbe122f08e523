"""Who the client is: the peer, unless a trusted proxy says whom it received the request from.

The pure rule and the middleware; ``tests/security/test_trusted_proxies.py`` checks the
same on ``beatlight api`` running as a process.
"""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from beatlight.api.proxies import ProxyClient, TrustedProxies
from beatlight.settings import Settings

pytestmark = pytest.mark.unit

PROXIES = TrustedProxies([ip_network("127.0.0.1"), ip_network("10.0.0.0/8")])


def test_with_no_trusted_proxy_the_client_is_the_peer():
    assert TrustedProxies([]).client("127.0.0.1", ["198.51.100.1"]) == "127.0.0.1"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards():
    assert PROXIES.client("192.0.2.1", ["198.51.100.1"]) == "192.0.2.1"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        pytest.param(["198.51.100.1"], "198.51.100.1", id="one-hop"),
        pytest.param(["203.0.113.9, 198.51.100.7, 10.1.2.3"], "198.51.100.7",
                     id="untrusted-hop-in-the-middle"),
        pytest.param(["203.0.113.9", "198.51.100.7, 10.1.2.3"], "198.51.100.7",
                     id="several-header-lines-in-order"),
        pytest.param(["10.9.9.9, 10.1.2.3"], "10.9.9.9", id="every-hop-trusted-the-left-most"),
        pytest.param([], "127.0.0.1", id="no-header-the-proxy-itself"),
        pytest.param(["198.51.100.7:5123"], "198.51.100.7", id="ipv4-with-port"),
        pytest.param(["[2001:db8::7]:443"], "2001:db8::7", id="ipv6-in-brackets-with-port"),
        pytest.param(["2001:DB8:0::7"], "2001:db8::7", id="ipv6-written-differently"),
        pytest.param(["::ffff:198.51.100.7"], "198.51.100.7", id="ipv4-mapped"),
        pytest.param(["198.51.100.7, unknown, 10.1.2.3"], "10.1.2.3",
                     id="not-an-address-stops-at-the-hop-that-passed-it-on"),
        pytest.param(["198.51.100.7, bl_secret, "], "127.0.0.1", id="junk-from-the-peer-itself"),
    ],
)  # fmt: skip
def test_the_client_is_the_right_most_hop_no_trusted_proxy_vouches_for(forwarded, client):
    assert PROXIES.client("127.0.0.1", forwarded) == client


def test_a_dual_stack_peer_matches_its_ipv4_proxy():
    assert PROXIES.client("::ffff:127.0.0.1", ["198.51.100.1"]) == "198.51.100.1"


def _echo(trusted: TrustedProxies, peer: str) -> TestClient:
    app = FastAPI()

    @app.get("/who")
    def who(request: Request) -> dict:
        return {"client": request.client.host, "scheme": request.url.scheme}

    return TestClient(ProxyClient(app, trusted=trusted), client=(peer, 50000))


def test_the_middleware_sets_the_client_and_the_scheme_from_a_trusted_proxy_only():
    headers = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}
    behind = _echo(PROXIES, "10.1.2.3").get("/who", headers=headers).json()
    assert behind == {"client": "198.51.100.1", "scheme": "https"}
    direct = _echo(PROXIES, "192.0.2.1").get("/who", headers=headers).json()
    assert direct == {"client": "192.0.2.1", "scheme": "http"}
    default = _echo(TrustedProxies([]), "127.0.0.1").get("/who", headers=headers).json()
    assert default == {"client": "127.0.0.1", "scheme": "http"}


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        ("127.0.0.1", ["127.0.0.1/32"]),
        ("127.0.0.1, 10.0.0.0/8", ["127.0.0.1/32", "10.0.0.0/8"]),
        ('["::1", "fd00::/8"]', ["::1/128", "fd00::/8"]),
        ("", []),
    ],
)
def test_trusted_proxies_are_read_comma_separated_or_as_a_json_list(monkeypatch, value, networks):
    monkeypatch.setenv("BEATLIGHT_TRUSTED_PROXIES", value)
    assert Settings().trusted_proxies == [ip_network(n) for n in networks]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("*", "'*' would let any client choose its own address"),
        ("10.0.0.5/8", "did you mean 10.0.0.0/8?"),
        ("proxy.internal", "'proxy.internal' is not an IP address or CIDR block"),
        ('["10.0.0.5"', "is not a JSON list"),
    ],
)
def test_a_trusted_proxy_that_is_not_an_address_or_block_is_refused_saying_why(
    monkeypatch, value, message
):
    monkeypatch.setenv("BEATLIGHT_TRUSTED_PROXIES", value)
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("[", r"\[")):
        Settings()
