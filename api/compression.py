"""Large answers rendered once per snapshot, sent gzip-compressed to clients that accept it.

The routes keep what they render from a snapshot document
(:meth:`api.snapshots.Document.render`): one bytes object answers every request
until the snapshot changes. For England's 7,681 wards that is 2.8 MB of figures
or 20 MB of GeoJSON an answer, and writing those bytes to the socket is then
what the API spends its time on. :class:`Precompressed` compresses such a body
once, the second time it is sent, in a thread, and sends the compressed bytes
(an eighth of the size) to every client whose ``Accept-Encoding`` allows gzip, its
entity tag marked as the compressed one's (:mod:`api.etags`).
Bodies sent once (an ad hoc query) go out as they are: compressing them would
cost more than it saves.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from beatlight.api.etags import GZIP_SUFFIX

__all__ = ["Precompressed", "accepts_gzip"]


@dataclass(eq=False)
class _Body:
    body: bytes  # held, so that its id() names no other object while it is remembered
    compressed: asyncio.Future | None = None


class Precompressed:
    """Pure ASGI middleware: gzip for large bodies the app sends again and again."""

    def __init__(self, app: Any, *, minimum: int = 32_000, kept_bytes: int = 256_000_000,
                 level: int = 6) -> None:  # fmt: skip
        self.app = app
        self.minimum, self.kept_bytes, self.level = minimum, kept_bytes, level
        self._bodies: OrderedDict[int, _Body] = OrderedDict()
        self._kept = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] | None = None

        async def send_compressed(message: dict[str, Any]) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                held = message  # until the body says whether to compress
                return
            if held is None:
                await send(message)
                return
            start, held = held, None
            body = message.get("body", b"")
            compressed = None
            if (start["status"] == 200 and not message.get("more_body")
                    and len(body) >= self.minimum and not _encoded(start)):  # fmt: skip
                compressed = await self._compressed(body)
            if compressed is None:
                await send(start)
                await send(message)
                return
            headers = [(k, _gzip_tag(v) if k.lower() == b"etag" else v)
                       for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]  # fmt: skip
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding"),
                        (b"content-length", str(len(compressed)).encode())]  # fmt: skip
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": compressed})

        await self.app(scope, receive, send_compressed)

    async def _compressed(self, body: bytes) -> bytes | None:
        """The gzip of ``body`` if it was sent before (compressed once), else ``None``."""
        seen = self._bodies.get(id(body))
        if seen is None or seen.body is not body:
            self._remember(_Body(body))
            return None
        self._bodies.move_to_end(id(body))
        if seen.compressed is None:
            seen.compressed = asyncio.ensure_future(
                asyncio.to_thread(gzip.compress, body, self.level, mtime=0)
            )
            seen.compressed.add_done_callback(lambda done: self._count(seen, done))
        return await asyncio.shield(seen.compressed)

    def _remember(self, entry: _Body) -> None:
        self._bodies[id(entry.body)] = entry
        self._kept += len(entry.body)
        while self._kept > self.kept_bytes and len(self._bodies) > 1:
            _, old = self._bodies.popitem(last=False)
            self._kept -= len(old.body)
            if old.compressed is not None and old.compressed.done():
                self._kept -= len(old.compressed.result())

    def _count(self, entry: _Body, done: asyncio.Future) -> None:
        remembered = self._bodies.get(id(entry.body)) is entry
        if remembered and not done.cancelled() and done.exception() is None:
            self._kept += len(done.result())


def accepts_gzip(scope: Any) -> bool:
    """Whether the request of ``scope`` accepts a gzip-compressed answer."""
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding":
            for coding in value.decode("latin-1").lower().split(","):
                token, _, params = coding.strip().partition(";")
                if token.strip() in ("gzip", "*"):
                    quality = params.strip().removeprefix("q=").strip()
                    return quality not in ("0", "0.0", "0.00", "0.000")
    return False


def _gzip_tag(etag: bytes) -> bytes:
    """The entity tag of the compressed answer: another representation (:mod:`api.etags`)."""
    return etag[:-1] + GZIP_SUFFIX.encode() + b'"' if etag.endswith(b'"') else etag


def _encoded(start: dict[str, Any]) -> bool:
    return any(k.lower() == b"content-encoding" for k, _ in start.get("headers", ()))
