"""API keys and roles: who may see the inspector and PCC views.

SPEC "Privacy and publication rules": the inspector and PCC views need an API key
with the role ``inspector``, ``pcc`` or ``admin``, and keys are stored hashed. A key
is ``bl_<prefix>_<secret>``: the prefix (8 characters) is not secret and finds the
key's row; the secret is 32 random bytes. The store keeps the SHA-256 of the whole
key, so neither the store nor the logs ever hold a key that works.

Routes declare the roles they need with :func:`requires`; the app keeps one
:class:`Authenticator` at ``app.state.auth``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from cachetools import TTLCache
from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from beatlight.api.db import StoreUnreachable, connect, display_url
from beatlight.api.models import ApiKey
from beatlight.errors import BeatlightError

__all__ = [
    "ROLES",
    "Authenticator",
    "Principal",
    "create_key",
    "key_prefix",
    "list_keys",
    "requires",
    "revoke_key",
]

log = logging.getLogger("beatlight.auth")

#: The roles a key can have (SPEC "Privacy and publication rules"); none implies another.
ROLES = ("inspector", "pcc", "admin")

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY = re.compile(r"(bl_[a-z0-9]{8})_[A-Za-z0-9_-]{43}")
_PREFIX = re.compile(r"(?:bl_)?([a-z0-9]{8})")
# last_used_at is bookkeeping for people pruning keys: a minute's precision saves a
# write on nearly every cache miss.
_USE_RESOLUTION = timedelta(minutes=1)
_CACHE_MAX = 4096
# How long a key found valid keeps its own rate-limit bucket without being checked again.
_VOUCHED_SECONDS = 3600.0

_HOW = "send a key as the X-API-Key header or as Authorization: Bearer <key>"
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


def create_key(session: Session, role: str, label: str = "") -> tuple[ApiKey, str]:
    """A new key with ``role``: its row (added and flushed; the caller commits) and the key.

    The key itself is returned this once and stored nowhere.
    """
    _check_roles((role,))
    while True:
        prefix = "bl_" + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
        if session.scalar(sa.select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(prefix=prefix, key_sha256=_sha256(plaintext), role=role, label=label,
                 created_at=datetime.now(UTC))  # fmt: skip
    session.add(key)
    session.flush()
    log.info("created API key %s (%s)", prefix, role)
    return key, plaintext


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, prefix_or_id: str | int) -> ApiKey:
    """Revoke the key with this prefix (``bl_abcd1234`` or ``abcd1234``) or id.

    API servers stop accepting it within their ``auth_cache_seconds``.
    """
    key = _find(session, str(prefix_or_id).strip())
    if key is None:
        raise BeatlightError(f"no API key {prefix_or_id!r}: give a prefix such as bl_abcd1234 "
                             "or an id (`beatlight keys list` shows them)")  # fmt: skip
    if key.revoked_at is not None:
        raise BeatlightError(f"API key {key.prefix} was already revoked at "
                             f"{key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
    key.revoked_at = datetime.now(UTC)
    session.flush()
    log.info("revoked API key %s (%s)", key.prefix, key.role)
    return key


def key_prefix(presented: str | None) -> str | None:
    """The prefix of a well-formed key (``bl_abcd1234``), else None; nothing is looked up."""
    if not presented:
        return None
    match = _KEY.fullmatch(presented.strip())
    return match.group(1) if match else None


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
        digest = _sha256(presented.strip())  # type: ignore[union-attr]
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
            return self._valid.get(_sha256(presented.strip()))  # type: ignore[union-attr]

    def bucket(self, presented: str | None) -> str | None:
        """The rate-limit bucket of a key found valid in the last hour, else None.

        Never reads the store. A key nobody has checked yet (an invented one, or a real
        one before its first request) has no bucket of its own: it shares its address's.
        """
        if key_prefix(presented) is None:
            return None
        with self._lock:
            prefix = self._vouched.get(_sha256(presented.strip()))  # type: ignore[union-attr]
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
    in the OpenAPI document.
    """
    if not roles:
        raise ValueError("requires() needs at least one role")
    _check_roles(roles)
    allowed = frozenset(roles)
    needed = _either(roles)

    # A key checked in the last ``cache_seconds`` is answered on the event loop; only a
    # store lookup goes to the thread pool. (A plain ``def`` would send every request
    # to the pool: two thread switches, and GIL hand-offs that stretch the tail latency.)
    async def principal(
        request: Request,
        api_key: Annotated[str | None, Security(_api_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        presented = api_key or (bearer.credentials if bearer else None)
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
    return Depends(principal)


def _find(session: Session, wanted: str) -> ApiKey | None:
    match = _PREFIX.fullmatch(wanted) or _KEY.fullmatch(wanted)
    if match:
        prefix = match.group(1) if match.group(1).startswith("bl_") else f"bl_{match.group(1)}"
        key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
        if key is not None:
            return key
    if wanted.isdigit():
        return session.get(ApiKey, int(wanted))
    return None


def _check_roles(roles: tuple[str, ...]) -> None:
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise BeatlightError(f"unknown role {unknown[0]!r}: a key's role is one of "
                             f"{', '.join(ROLES)}")  # fmt: skip


def _either(roles: tuple[str, ...]) -> str:
    return roles[0] if len(roles) == 1 else f"{', '.join(roles[:-1])} or {roles[-1]}"


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _reason(error: Exception) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
