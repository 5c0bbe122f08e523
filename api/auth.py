"""Who may see the inspector and PCC views: the API key on each request, checked.

Routes declare the roles they need with :func:`requires`; the app keeps one
:class:`Authenticator` at ``app.state.auth``, which checks presented keys against
the store and remembers its answers for a few seconds. Keys themselves (their form,
their roles, making and revoking them) are :mod:`beatlight.api.keys`.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cachetools import TTLCache
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from beatlight.api.db import StoreUnreachable, connect, display_url
from beatlight.api.keys import check_roles, key_prefix, key_sha256
from beatlight.api.models import ApiKey

__all__ = [
    "Authenticator",
    "Principal",
    "declare_keys",
    "document_keys",
    "presented_key",
    "requires",
]

log = logging.getLogger("beatlight.auth")

# last_used_at is bookkeeping for people pruning keys: a minute's precision saves a
# write on nearly every cache miss.
_USE_RESOLUTION = timedelta(minutes=1)
_CACHE_MAX = 4096
# How long a key found valid keeps its own rate-limit bucket without being checked again.
_VOUCHED_SECONDS = 3600.0

_HOW = "send a key as the X-API-Key header or as Authorization: Bearer <key>"
# The two ways of sending a key, as the OpenAPI document declares them (document_keys).
_api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="A Beatlight API key (`beatlight keys create`).",
    auto_error=False,
)
_bearer = HTTPBearer(
    scheme_name="Bearer",
    description="A Beatlight API key as a bearer token.",
    auto_error=False,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a valid, unrevoked key (never the key itself)."""

    key_id: int
    prefix: str
    role: str
    label: str


class Authenticator:
    """Checks presented keys against the store, remembering its answers for a few seconds.

    A key revoked in the store is refused within ``cache_seconds`` (0 = no cache). Both
    answers are remembered, by the key's hash, in bounded caches of their own: a key
    refused a moment ago costs no second lookup, and made-up keys, however many, only
    push out other made-up keys, never the valid ones. Safe to share between threads.

    Apart from that, :meth:`bucket` remembers for an hour which keys were found valid,
    so the rate limit gives a key its own bucket only once the store has vouched for it.
    """

    def __init__(
        self,
        engine: Engine,
        cache_seconds: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_seconds < 0:
            raise ValueError("cache_seconds must be 0 or more")
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._clock = clock
        ttl = cache_seconds or 1.0  # unused when 0: nothing is stored
        self._valid: TTLCache[str, Principal] = TTLCache(_CACHE_MAX, ttl, timer=clock)
        self._refused: TTLCache[str, bool] = TTLCache(_CACHE_MAX, ttl, timer=clock)
        self._vouched: TTLCache[str, str] = TTLCache(_CACHE_MAX, _VOUCHED_SECONDS, timer=clock)
        self._lock = threading.Lock()

    def principal(self, presented: str | None) -> Principal | None:
        """Who holds ``presented``; None if it is missing, malformed, unknown or revoked.

        Raises :class:`~api.db.StoreUnreachable` when the store cannot say.
        """
        prefix = key_prefix(presented)
        if prefix is None:
            return None
        digest = key_sha256(presented.strip())  # type: ignore[union-attr]
        with self._lock:
            if digest in self._refused:
                return None
            cached = self._valid.get(digest)
        if cached is not None:
            return cached
        found = self._lookup(prefix, digest)
        with self._lock:
            if found is not None:
                self._vouched[digest] = prefix
                if self.cache_seconds > 0:
                    self._valid[digest] = found
            else:
                self._vouched.pop(digest, None)
                self._valid.pop(digest, None)
                if self.cache_seconds > 0:
                    self._refused[digest] = True
        if found is None:
            log.debug("refused API key %s: unknown or revoked", prefix)
        return found

    def remembered(self, presented: str | None) -> Principal | None:
        """Who holds ``presented`` if it was found valid less than ``cache_seconds`` ago.

        Never reads the store (None means "ask :meth:`principal`"), so it may be called
        on the event loop.
        """
        if key_prefix(presented) is None:
            return None
        with self._lock:
            return self._valid.get(key_sha256(presented.strip()))  # type: ignore[union-attr]

    def bucket(self, presented: str | None) -> str | None:
        """The rate-limit bucket of a key found valid in the last hour, else None.

        Never reads the store. A key nobody has checked yet (an invented one, or a real
        one before its first request) has no bucket of its own: it shares its address's.
        """
        if key_prefix(presented) is None:
            return None
        with self._lock:
            prefix = self._vouched.get(key_sha256(presented.strip()))  # type: ignore[union-attr]
        return f"key:{prefix}" if prefix is not None else None

    def _lookup(self, prefix: str, digest: str) -> Principal | None:
        try:
            with connect(self.engine) as connection:
                row = connection.execute(
                    sa.select(ApiKey.id, ApiKey.key_sha256, ApiKey.role, ApiKey.label,
                              ApiKey.revoked_at, ApiKey.last_used_at)
                    .where(ApiKey.prefix == prefix)
                ).one_or_none()  # fmt: skip
        except DBAPIError as error:
            raise StoreUnreachable(
                f"cannot read API keys from the store at {display_url(self.engine.url)}: "
                f"{_reason(error)}"
            ) from None
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_sha256, digest):
            return None
        self._record_use(row.id, row.last_used_at)
        return Principal(key_id=row.id, prefix=prefix, role=row.role, label=row.label)

    def _record_use(self, key_id: int, last_used_at: datetime | None) -> None:
        now = datetime.now(UTC)
        if last_used_at is not None and now - last_used_at < _USE_RESOLUTION:
            return
        # Bookkeeping only: a busy or read-only store must not refuse a valid key.
        try:
            with connect(self.engine) as connection, connection.begin():
                connection.execute(
                    sa.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now)
                )
        except (DBAPIError, StoreUnreachable) as error:
            log.warning("could not record the use of API key %d: %s", key_id, _reason(error))


def requires(*roles: str) -> Any:
    """A dependency admitting keys with one of ``roles``: 401 without a valid key, else 403.

    Use it on a router or route, ``dependencies=[requires("pcc", "admin")]``, or as
    a parameter, ``principal: Annotated[Principal, requires("inspector")]``. The key
    comes from ``X-API-Key`` or ``Authorization: Bearer``; both are security schemes
    in the OpenAPI document of an app given to :func:`declare_keys`.
    """
    if not roles:
        raise ValueError("requires() needs at least one role")
    check_roles(roles)
    allowed = frozenset(roles)
    needed = _either(roles)

    # A key checked in the last ``cache_seconds`` is answered on the event loop; only a
    # store lookup goes to the thread pool. (A plain ``def`` would send every request
    # to the pool: two thread switches, and GIL hand-offs that stretch the tail latency.)
    # The key is read from the headers here, not through FastAPI's security dependencies,
    # which cost every request two more dependencies to solve: the OpenAPI document gets
    # their schemes from :func:`document_keys` instead.
    async def principal(request: Request) -> Principal:
        presented = presented_key(request.headers)
        if not presented:
            raise _unauthorised(f"this endpoint needs an API key: {_HOW}")
        authenticator: Authenticator | None = getattr(request.app.state, "auth", None)
        if authenticator is None:
            raise RuntimeError("app.state.auth is unset: the app needs an api.auth.Authenticator")
        found = authenticator.remembered(presented)
        if found is None:
            found = await run_in_threadpool(authenticator.principal, presented)
        if found is None:
            raise _unauthorised(f"this API key is not valid (unknown or revoked): {_HOW}")
        if found.role not in allowed:
            raise HTTPException(403, f"this endpoint needs the role {needed}; "
                                     f"this key has the role {found.role}")  # fmt: skip
        request.state.principal = found
        return found

    principal.__name__ = f"requires_{'_or_'.join(roles)}"
    principal.roles = allowed  # type: ignore[attr-defined]  # read by document_keys
    return Depends(principal)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request presents: ``X-API-Key``, else ``Authorization: Bearer <key>``
    (read as FastAPI's ``APIKeyHeader`` and ``HTTPBearer`` read them)."""
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme and credentials and scheme.lower() == "bearer" else None


def declare_keys(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document declare the keys its routes read
    (:func:`document_keys` after FastAPI's own document)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        document_keys(document, app.routes)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def document_keys(document: dict[str, Any], routes: Iterable[Any]) -> None:
    """Declare the two ways of sending a key in the OpenAPI ``document``, and require one
    on every operation of ``routes`` that depends on :func:`requires`."""
    schemes = {scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True,
                                                    exclude_none=True)
               for scheme in (_api_key_header, _bearer)}  # fmt: skip
    keyed = False
    for route in iter_route_contexts(list(routes)):  # routes of included routers too
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        if not _needs_key(route.dependant):
            continue
        item = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods:
            operation = item.get(method.lower())
            if operation is not None:
                operation["security"] = [{name: []} for name in schemes]
                keyed = True
    if keyed:
        document.setdefault("components", {})["securitySchemes"] = schemes


def _needs_key(dependant: Any) -> bool:
    return any(hasattr(sub.call, "roles") or _needs_key(sub) for sub in dependant.dependencies)


def _either(roles: tuple[str, ...]) -> str:
    return roles[0] if len(roles) == 1 else f"{', '.join(roles[:-1])} or {roles[-1]}"


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _reason(error: Exception) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
