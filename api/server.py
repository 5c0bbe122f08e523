"""The API's HTTP server edge: uvicorn's httptools protocol with bounds on request heads.

uvicorn's httptools protocol reads a request line and headers of any size (issue 19:
8-50 MB were accepted and held in memory), for as long as the client takes to send
them, and an ASGI middleware sees them only once they are all read.
:func:`bounded_http` counts the bytes of the request line and headers as the parser
hands them over and, past the bound, answers ``431 Request Header Fields Too Large``
and stops parsing. It then reads and drops what the client is still sending for a
moment before closing, so that the client, which is usually still writing its request,
reads the 431 instead of a reset connection. A head not complete within
``header_timeout_s`` of the connection (or of the end of the previous request) gets a
``408`` and the connection closes, so that connections trickling a byte at a time
cannot pile up until the server runs out of them.

Without httptools (uvicorn without its ``standard`` extra) the h11 protocol is used,
bounded by uvicorn's own ``h11_max_incomplete_event_size`` (it answers 400).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

__all__ = ["bounded_http", "server_options"]

log = logging.getLogger("beatlight.api")

# How long a refused connection's further bytes are read and dropped before it closes.
_LINGER_SECONDS = 2.0


def server_options(max_header_bytes: int, header_timeout_s: float) -> dict[str, Any]:
    """``uvicorn.run``/``uvicorn.Config`` options bounding request heads in size and time,
    and leaving proxy headers to the app.

    uvicorn would otherwise believe ``X-Forwarded-For`` from 127.0.0.1 (or from
    ``FORWARDED_ALLOW_IPS``) before the app sees the request: the app's
    :class:`api.proxies.ProxyClient` decides, from ``Settings.trusted_proxies``.
    """
    return {"http": bounded_http(max_header_bytes, header_timeout_s),
            "h11_max_incomplete_event_size": max_header_bytes,
            "proxy_headers": False}  # fmt: skip


def bounded_http(max_header_bytes: int, header_timeout_s: float = 20.0) -> Any:
    """A uvicorn HTTP protocol class refusing heads over ``max_header_bytes`` with a 431
    and heads slower than ``header_timeout_s`` with a 408, or ``"h11"`` when httptools is
    not installed."""
    if max_header_bytes < 1 or header_timeout_s <= 0:
        raise ValueError("max_header_bytes and header_timeout_s must be positive")
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class BoundedHttpTools(HttpToolsProtocol):
        """httptools, counting each request's line and headers against a bound."""

        limit = max_header_bytes
        timeout = header_timeout_s

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_bytes = 0
            self._refused = False
            self._head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()  # the first head is due within the timeout of connecting

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._refused:  # once refused, what follows is dropped unread
                super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes = 0
            if self._head_timer is None:  # a later request on a kept-alive connection
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)  # ": " and CRLF, as sent
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            if not self._refused:  # the parser's error after our 431: already answered
                super().send_400_response(msg)

        def _count(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > self.limit and not self._refused:
                self._refuse()
                raise _HeadTooLarge  # stops the parser; httptools reports it as its error

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = asyncio.get_running_loop().call_later(self.timeout, self._late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _late(self) -> None:
            self._head_timer = None
            if self._refused or self.transport.is_closing():
                return
            self._refused = True
            log.warning("closed a connection from %s: no complete request line and headers "
                        "within %g s (408)", self.client[0] if self.client else "?",
                        self.timeout)  # fmt: skip
            self._answer(b"408 Request Timeout", f"the request line and headers took longer "
                                                 f"than {self.timeout:g} s")  # fmt: skip

        def _refuse(self) -> None:
            self._refused = True
            log.warning("refused a request from %s: its line and headers exceed %d bytes (431)",
                        self.client[0] if self.client else "?", self.limit)  # fmt: skip
            self._answer(
                b"431 Request Header Fields Too Large",
                f"the request line and headers are larger than {self.limit} bytes",
            )

        def _answer(self, status: bytes, detail: str) -> None:
            body = orjson.dumps({"detail": detail})
            head = [b"HTTP/1.1 " + status + b"\r\n"]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [b"content-type: application/json\r\n",
                     b"content-length: %d\r\n" % len(body),
                     b"x-content-type-options: nosniff\r\n",
                     b"connection: close\r\n\r\n", body]  # fmt: skip
            self.transport.write(b"".join(head))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            asyncio.get_running_loop().call_later(_LINGER_SECONDS, self.transport.close)

    return BoundedHttpTools


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a refused request."""
