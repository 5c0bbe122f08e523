"""Who the client is: the socket's peer, or whom a trusted reverse proxy received it from.

The rate limit and the access log count requests by the client's address. uvicorn's own
proxy-header support trusts ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise, so
any process on the API's host could name a new address with each request and get a new
rate-limit bucket each time. ``beatlight api`` turns it off and the app decides here,
from ``Settings.trusted_proxies``: with none (the default) the client is the peer and
proxy headers are ignored.

When the peer is a trusted proxy, ``X-Forwarded-For`` is read from the right. Each proxy
appends the address it received the request from, and only what trusted proxies wrote
can be believed, so the client is the right-most address that is not a trusted proxy;
whatever a client wrote to its left is ignored. An entry that is not an IP address ends
the walk at the trusted hop that passed it on. ``X-Forwarded-Proto`` from a trusted
proxy sets the scheme, as uvicorn did.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyClient", "TrustedProxies"]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


class TrustedProxies:
    """The reverse proxies whose ``X-Forwarded-For`` is believed (``Settings.trusted_proxies``).

    Pure: no I/O.
    """

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: Address | None) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client's address, given the socket's ``peer`` and the ``X-Forwarded-For``
        header values (in the order received); ``peer`` itself unless a trusted proxy."""
        hop = _address(peer)
        if not self.trusts(hop):
            return peer
        hops = [entry for value in forwarded_for for entry in value.split(",")]
        if not hops:
            return peer
        for entry in reversed(hops):
            address = _address(entry)
            if address is None:
                break  # not an address: the trusted hop that passed it on is all we know
            hop = address
            if not self.trusts(hop):
                break
        # Every hop trusted: the left-most is a proxy of ours that sent its own request.
        return str(hop)


class ProxyClient:
    """ASGI middleware setting ``scope["client"]`` (and the scheme) from a trusted proxy.

    It changes the scope in place, so that uvicorn's access log, which reads the same
    scope, names the client the rate limit counted.
    """

    def __init__(self, app: ASGIApp, *, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and peer and self.trusted:
            headers = Headers(scope=scope)
            client = self.trusted.client(peer[0], headers.getlist("x-forwarded-for"))
            if client != peer[0]:
                scope["client"] = (client, 0)  # the client's port is not forwarded
            if self.trusted.trusts(_address(peer[0])):
                proto = headers.get("x-forwarded-proto", "").rpartition(",")[2].strip().lower()
                if proto in ("http", "https"):
                    secure = proto == "https"
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if secure else "ws"
                    else:
                        scope["scheme"] = proto
        await self.app(scope, receive, send)


def _address(text: str) -> Address | None:
    """The IP address in ``text`` (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), else None.

    An IPv4 address mapped into IPv6 (a dual-stack socket's peer) is its IPv4 address.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
