"""Request limits: a bound on request bodies and a rate limit per client.

One pure-ASGI middleware, outside the routes: a body larger than
``max_request_bytes`` is a 413 before any route reads it, and each client gets a
token bucket of ``burst`` requests refilled at ``rate_per_minute``; an empty bucket
is a 429 with ``Retry-After``. Replies are JSON ``{"detail": ...}`` like the routes'
errors.

A client is its API key only once the store has vouched for that key (``verified``,
:meth:`api.auth.Authenticator.bucket`, which never reads the store); any other
request, with no key, a malformed one or one nobody has checked yet, counts against
its IP address. So inventing keys buys no requests (issue 19), and a flood of
invented keys costs at most a burst of store lookups per address.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestLimits", "TokenBuckets", "install_limits"]


#: The bucket of a presented key the store has vouched for, else None (never a lookup).
Verified = Callable[[str], str | None]


def install_limits(
    app: Any,
    *,
    max_request_bytes: int,
    rate_per_minute: int,
    burst: int,
    verified: Verified | None = None,
) -> None:
    """Add :class:`RequestLimits` to a Starlette/FastAPI ``app`` (before it starts).

    ``rate_per_minute=0`` turns the rate limit off; the body bound always applies.
    Without ``verified``, every client is its address.
    """
    app.add_middleware(RequestLimits, max_request_bytes=max_request_bytes,
                       rate_per_minute=rate_per_minute, burst=burst,
                       verified=verified)  # fmt: skip


class TokenBuckets:
    """A token bucket per client: ``burst`` requests at once, refilled at ``rate_per_minute``.

    A bucket idle long enough to have refilled is forgotten (a new one would be the
    same), so memory follows the clients of the last ``burst / rate`` seconds; past
    ``max_clients`` the longest-idle buckets go first. Safe to share between threads.
    """

    def __init__(
        self,
        rate_per_minute: int,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_minute > 0 and burst >= 1")
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self._per_second = rate_per_minute / 60
        self._refill_seconds = burst / self._per_second
        self._max_clients = max_clients
        self._clock = clock
        # client -> (tokens, when counted); least recently seen first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when ``client`` may go ahead (a token is taken), else the seconds to wait."""
        now = self._clock()
        with self._lock:
            self._evict(now)
            tokens, counted = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - counted) * self._per_second)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self._per_second
            self._buckets[client] = (tokens, now)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, now: float) -> None:
        while self._buckets:
            _, counted = next(iter(self._buckets.values()))
            full = now - counted >= self._refill_seconds
            if not full and len(self._buckets) < self._max_clients:
                return
            self._buckets.popitem(last=False)


class RequestLimits:
    """ASGI middleware applying the body bound and the per-client rate limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        rate_per_minute: int,
        burst: int,
        verified: Verified | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        if rate_per_minute < 0:
            raise ValueError("rate_per_minute must be 0 (off) or more")
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.verified = verified
        self.buckets = (
            TokenBuckets(rate_per_minute, burst, clock=clock) if rate_per_minute else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.buckets is not None:
            wait = self.buckets.take(_client(scope, headers, self.verified))
            if wait > 0:
                retry = max(1, math.ceil(wait))
                detail = (
                    f"too many requests: a client may make {self.buckets.rate_per_minute} "
                    f"a minute, {self.buckets.burst} at once; retry in {retry} s"
                )
                await _reply(scope, receive, send, 429, detail, {"Retry-After": str(retry)})
                return
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await _reply(scope, receive, send, 400, "the Content-Length header is not a number")
            elif int(length) > self.max_request_bytes:
                await _reply(scope, receive, send, 413, self._too_large())
            else:
                await self.app(scope, receive, send)
            return
        # No length given (chunked, or no body): read at most the bound here, then replay it.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_request_bytes:
                await _reply(scope, receive, send, 413, self._too_large())
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_request_bytes} bytes"


def _client(scope: Scope, headers: Headers, verified: Verified | None) -> str:
    # The key is not checked here (that would cost a lookup per request): only a key the
    # store has already vouched for picks a bucket of its own, by the whole key, so
    # someone sending its (non-secret) prefix with a made-up secret shares their address's.
    if verified is not None:
        presented = headers.get("x-api-key")
        if not presented:
            scheme, _, credentials = headers.get("authorization", "").partition(" ")
            presented = credentials if scheme.lower() == "bearer" else None
        bucket = verified(presented) if presented else None
        if bucket is not None:
            return bucket
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _reply(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str,
    headers: dict[str, str] | None = None,
) -> None:  # fmt: skip
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
        scope, receive, send
    )
