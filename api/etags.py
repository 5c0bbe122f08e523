"""Entity tags: a request repeated while its figures have not changed is answered 304.

A snapshot's :attr:`~api.snapshots.Document.tag` (the live snapshot's ``as_of``; a
stored hour's time, revision and the digest of its stored document) names its figures;
:func:`entity_tag` adds the request's parameters, so the tag is strong: it changes
whenever the answer's bytes could. A route compares it with the request's
``If-None-Match`` (:func:`not_modified`) after the key and role checks and before
rendering anything, so a 304 tells nobody more than a 200 would have.

An answer sent gzip-compressed is another representation: its tag ends in ``-gzip``
(:mod:`api.compression` adds it; RFC 9110 8.8.3), and ``If-None-Match`` matches either
form, as the comparison for ``If-None-Match`` is the weak one (RFC 9110 13.1.2).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response

__all__ = ["GZIP_SUFFIX", "entity_tag", "not_modified", "tagged"]

#: What a tag of a gzip-compressed answer ends with, inside its quotes.
GZIP_SUFFIX = "-gzip"


def entity_tag(tag: str | None, *parameters: Any) -> str | None:
    """The strong entity tag (quoted) of an answer about figures named ``tag`` to a
    request with ``parameters``; None when the figures have no name."""
    if tag is None:
        return None
    asked = hashlib.blake2b(repr(parameters).encode(), digest_size=6).hexdigest()
    return f'"{tag}.{asked}"'


def not_modified(request: Request, etag: str | None) -> Response | None:
    """A 304 if the request's ``If-None-Match`` names ``etag`` (or is ``*``), else None."""
    header = request.headers.get("if-none-match")
    if not header or etag is None:
        return None
    wanted = etag.strip('"')
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return Response(status_code=304, headers={"ETag": etag})
        opaque = candidate.removeprefix("W/").strip('"')
        if opaque in (wanted, wanted + GZIP_SUFFIX):
            return Response(status_code=304, headers={"ETag": f'"{opaque}"'})
    return None


def tagged(response: Response, etag: str | None) -> Response:
    """``response`` with its ``ETag`` (none when ``etag`` is None)."""
    if etag is not None:
        response.headers["ETag"] = etag
    return response
