"""Large upserts on PostgreSQL by ``COPY`` into a staging table, then one statement.

A live snapshot of England is 62,760 figures and 15,690 areas. Sent as
``INSERT … ON CONFLICT`` rows (``executemany``), they cost the materialiser about
2.4 s of CPU and PostgreSQL about 2 s, every live snapshot. :func:`upsert` copies a
large batch into a temporary staging table instead (``COPY``, the fastest way in) and
runs the same upsert once, from it: the statement's ``ON CONFLICT`` clause and its
conditions are the caller's, whichever way the rows come. Small batches, and SQLite,
take ``executemany`` as before.

The staging table belongs to the connection, is emptied before each copy and at
every commit, and its columns are those of the rows (a subset of the table's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.db import insert_for

__all__ = ["COPY_ROWS", "upsert"]

#: Batches of at least this many rows go by COPY on PostgreSQL (a county's live
#: snapshot is 1,728 figures).
COPY_ROWS = 500


def upsert(session: Session, table: sa.Table, rows: Iterable[dict[str, Any]],
           conflict: Callable[[Any], Any]) -> None:  # fmt: skip
    """Insert ``rows`` into ``table`` with ``conflict(insert)``, the ``ON CONFLICT`` the
    caller makes of the dialect's ``insert`` (it reads ``insert.excluded``)."""
    rows = list(rows)
    if not rows:
        return
    insert = insert_for(session)(table)
    if len(rows) < COPY_ROWS or session.get_bind().dialect.name != "postgresql":
        session.execute(conflict(insert), rows)
        return
    names = list(rows[0])
    staging = _staged(session, table, names, rows)
    source = sa.select(*(staging.c[name] for name in names))
    session.execute(conflict(insert.from_select(names, source)))


def _staged(session: Session, table: sa.Table, names: list[str],
            rows: list[dict[str, Any]]) -> sa.Table:  # fmt: skip
    """``rows`` copied into this connection's staging table for ``table`` and ``names``."""
    tag = hashlib.blake2b(",".join(names).encode(), digest_size=4).hexdigest()
    name = f"beatlight_in_{table.name}_{tag}"
    quoted = ", ".join(f'"{n}"' for n in names)  # "window" is a keyword
    json = [isinstance(table.c[n].type, sa.JSON) for n in names]
    cursor = session.connection().connection.driver_connection.cursor()  # psycopg 3
    with cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS "
                       f"AS SELECT {quoted} FROM {table.name} WITH NO DATA")  # fmt: skip
        cursor.execute(f"DELETE FROM {name}")  # (another batch of this transaction's)
        with cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([
                    orjson.dumps(row[n]).decode() if is_json and row[n] is not None else row[n]
                    for n, is_json in zip(names, json, strict=True)])  # fmt: skip
    return sa.Table(name, sa.MetaData(), *(sa.Column(n, table.c[n].type) for n in names))
