"""API keys: making, listing and revoking them, and the form a key takes.

SPEC "Privacy and publication rules": the inspector and PCC views need an API key
with the role ``inspector``, ``pcc`` or ``admin``, and keys are stored hashed. A key
is ``bl_<prefix>_<secret>``: the prefix (8 characters) is not secret and finds the
key's row; the secret is 32 random bytes. The store keeps the SHA-256 of the whole
key, so neither the store nor the logs ever hold a key that works.

Checking a presented key on a request is :mod:`beatlight.api.auth`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.models import ApiKey
from beatlight.errors import BeatlightError

__all__ = [
    "ROLES",
    "check_roles",
    "create_key",
    "key_prefix",
    "key_sha256",
    "list_keys",
    "revoke_key",
]

log = logging.getLogger("beatlight.auth")

#: The roles a key can have (SPEC "Privacy and publication rules"); none implies another.
ROLES = ("inspector", "pcc", "admin")

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY = re.compile(r"(bl_[a-z0-9]{8})_[A-Za-z0-9_-]{43}")
_PREFIX = re.compile(r"(?:bl_)?([a-z0-9]{8})")


def create_key(session: Session, role: str, label: str = "") -> tuple[ApiKey, str]:
    """A new key with ``role``: its row (added and flushed; the caller commits) and the key.

    The key itself is returned this once and stored nowhere.
    """
    check_roles((role,))
    while True:
        prefix = "bl_" + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
        if session.scalar(sa.select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(prefix=prefix, key_sha256=key_sha256(plaintext), role=role, label=label,
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


def check_roles(roles: tuple[str, ...]) -> None:
    """Refuse a role that is not one of :data:`ROLES`, in one line naming them."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise BeatlightError(f"unknown role {unknown[0]!r}: a key's role is one of "
                             f"{', '.join(ROLES)}")  # fmt: skip


def key_sha256(key: str) -> str:
    """What the store keeps of a key: the SHA-256 of all of it, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()
