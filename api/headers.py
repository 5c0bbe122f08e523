"""Headers every answer carries: no sniffing anywhere, and no shared caching of keyed answers.

An answer to a request that sends a key (``X-API-Key`` or ``Authorization``), or from a
route that needs one, depends on who asks: it gets ``Cache-Control: private, no-store``
and ``Vary: X-API-Key, Authorization``, so that no proxy or shared cache keeps an
inspector's figures for the next person (the key travels in a header that caches do not
treat as a credential). Every answer gets ``X-Content-Type-Options: nosniff``, so a
browser never runs a JSON or CSV answer as a page or a script.

A pure-ASGI middleware, outermost, so it also covers the 413, 429 and CORS answers that
never reach a route.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PRIVATE", "SecurityHeaders", "needs_key"]

#: Cache-Control of every keyed answer.
PRIVATE = "private, no-store"
_VARY = ("X-API-Key", "Authorization")
# Routes open to anyone: everything else under /api/v1, and the two gated maps, read keys.
_OPEN_API = "/api/v1/public"
_GATED_MAPS = ("/maps/live", "/maps/coverage")


def needs_key(path: str) -> bool:
    """Whether the answer at ``path`` depends on the key sent (a route that reads keys)."""
    if path.startswith("/api/v1/"):
        return not (path == _OPEN_API or path.startswith(_OPEN_API + "/"))
    return path.rstrip("/") in _GATED_MAPS


class SecurityHeaders:
    """ASGI middleware adding ``nosniff`` everywhere and ``private, no-store`` where keyed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        keyed = "x-api-key" in request or "authorization" in request or needs_key(scope["path"])

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if keyed:
                    headers["Cache-Control"] = PRIVATE
                    _vary(headers)
            await send(message)

        await self.app(scope, receive, sending)


def _vary(headers: MutableHeaders) -> None:
    present = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    if "*" in present:
        return
    wanted = present + [v for v in _VARY if v.lower() not in {p.lower() for p in present}]
    headers["Vary"] = ", ".join(wanted)
