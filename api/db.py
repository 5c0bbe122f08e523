"""Reaching the store: engines for PostgreSQL or SQLite, and migrating it to the latest schema.

``postgresql://`` URLs use psycopg 3; a SQLite file is created readable by its owner
only (0600), and its folder as needed. A store
that cannot be reached is a :class:`~beatlight.errors.BeatlightError` naming the
URL (password hidden) and the database's reason, never a traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from beatlight.errors import BeatlightError

__all__ = [
    "StoreUnreachable",
    "connect",
    "create_engine_for",
    "display_url",
    "insert_for",
    "reachable",
    "upgrade",
]

log = logging.getLogger("beatlight.store")

_MIGRATIONS = Path(__file__).parent / "migrations"
_CONNECT_TIMEOUT_S = 5
#: Connections a process keeps open to PostgreSQL, and how many more it may open under
#: load. The API answers from a thread pool of 40: with SQLAlchemy's default of 5 kept,
#: 32 clients at once made most requests open a connection of their own (a backend
#: started and ended for each), which cost more than the query. Each API process and the
#: materialiser hold at most the sum (size PostgreSQL's ``max_connections`` for it).
POOL_SIZE, POOL_OVERFLOW = 20, 10


class StoreUnreachable(BeatlightError):
    """The store's database did not answer or refused the connection."""


def create_engine_for(url: str | URL, **options: Any) -> Engine:
    """An engine for the store at ``url`` (PostgreSQL via psycopg 3, or SQLite)."""
    parsed = _parse(url)
    options.setdefault("json_deserializer", orjson.loads)  # a stored hour has 15,700 areas
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database).expanduser())
        engine = sa.create_engine(parsed, connect_args={"timeout": 30}, **options)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise BeatlightError(
            f"the store runs on PostgreSQL or SQLite, not {parsed.get_backend_name()!r} "
            f"({display_url(parsed)})"
        )
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", POOL_SIZE)
    options.setdefault("max_overflow", POOL_OVERFLOW)
    return sa.create_engine(parsed, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S},
                            **options)  # fmt: skip


def upgrade(url: str | URL | Engine, revision: str = "head") -> None:
    """Create or upgrade the store's schema with its Alembic migrations."""
    from alembic import command
    from alembic.config import Config

    engine = url if isinstance(url, Engine) else create_engine_for(url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with connect(engine) as connection, connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()
    log.info("store at %s is at revision %s", display_url(engine.url), revision)


def reachable(engine: Engine) -> None:
    """Raise :class:`StoreUnreachable` unless the store answers a trivial query."""
    with connect(engine) as connection:
        connection.execute(sa.text("SELECT 1"))


def connect(engine: Engine) -> Connection:
    """A connection to the store, or :class:`StoreUnreachable` saying why there is none."""
    try:
        return engine.connect()
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StoreUnreachable(
            f"cannot reach the store at {display_url(engine.url)}: {reason} "
            "(is the database running? set BEATLIGHT_DATABASE_URL or --database-url)"
        ) from None
    except PoolTimeout:
        raise StoreUnreachable(
            f"the store at {display_url(engine.url)} is busy: every pooled connection "
            "stayed in use past the pool's timeout"
        ) from None


def insert_for(session: Any) -> Any:
    """The ``insert`` of the session's dialect, with ``on_conflict_do_update`` (upserts)."""
    from sqlalchemy.dialects import postgresql, sqlite

    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise ValueError(f"the store runs on PostgreSQL or SQLite, not {name}")


def display_url(url: str | URL) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _parse(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BeatlightError(f"not a database URL: {display_url(url)}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _private_file(path: Path) -> None:
    """Create the SQLite file ``path`` readable by its owner only (0600), folders as needed.

    SQLite gives its -wal and -shm files the database file's mode, so they follow.
    An existing file keeps its mode; one that others may read gets a warning.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        mode = path.stat().st_mode
        if path.is_file() and mode & 0o077:
            log.warning("the store %s may be read by other users (mode %o): chmod 600 it",
                        path, mode & 0o777)  # fmt: skip
    except OSError:
        pass  # a folder or an unwritable place: connecting says why, as a StoreUnreachable


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # WAL lets the API read while the materialiser writes.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
