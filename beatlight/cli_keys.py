"""``beatlight keys``: create, list and revoke the API's keys (SPEC "Privacy and publication")."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from beatlight.cli import VerboseOpt, _logging, _settings, _user_errors, app, err
from beatlight.cli_api import DatabaseUrlOpt

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

keys = typer.Typer(
    name="keys",
    help="Manage the API keys of the inspector and PCC views. Keys are stored hashed: "
    "a key is shown once, when it is created.",
    no_args_is_help=True,
)
app.add_typer(keys)


@keys.command()
@_user_errors
def create(
    role: Annotated[
        str,
        typer.Option(
            "--role", "-r", help="inspector (recent points too), pcc or admin.", show_default=False
        ),
    ],
    label: Annotated[
        str, typer.Option("--label", "-l", help="Who or what the key is for, e.g. 'PCC office'.")
    ] = "",
    database_url: DatabaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Create a key and print it, alone, on stdout: KEY=$(beatlight keys create --role pcc).

    The key cannot be shown again: only its hash is stored.
    """
    from beatlight.api.auth import create_key

    with _session(database_url, verbose) as session:
        key, plaintext = create_key(session, role, label)
        prefix, role = key.prefix, key.role
        session.commit()
    typer.echo(plaintext)
    err.print(f"created key {prefix} ({role}): store it now, it cannot be shown again",
              highlight=False, soft_wrap=True)  # fmt: skip


@keys.command("list")
@_user_errors
def list_(
    database_url: DatabaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """List the keys: prefix, role, label and dates (never a key or its hash)."""
    from beatlight.api.auth import list_keys

    with _session(database_url, verbose) as session:
        found = list_keys(session)
        table = Table()
        table.add_column("prefix", no_wrap=True)  # copied to revoke a key: never cut
        table.add_column("role", no_wrap=True)
        for name in ("label", "created (UTC)", "last used", "revoked"):
            table.add_column(name, min_width=10)
        for key in found:
            table.add_row(key.prefix, key.role, key.label, _when(key.created_at),
                          _when(key.last_used_at), _when(key.revoked_at))  # fmt: skip
    if not found:
        err.print("no API keys yet: create one with `beatlight keys create --role pcc`")
        return
    Console(soft_wrap=True).print(table)


@keys.command()
@_user_errors
def revoke(
    prefix: Annotated[
        str,
        typer.Argument(
            help="The key's prefix (bl_abcd1234, as `keys list` shows) or id.", show_default=False
        ),
    ],
    database_url: DatabaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Revoke a key: the API refuses it within auth_cache_seconds (default 5 s)."""
    from beatlight.api.auth import revoke_key

    with _session(database_url, verbose) as session:
        key = revoke_key(session, prefix)
        described = f"{key.prefix} ({key.role}{', ' + key.label if key.label else ''})"
        session.commit()
    err.print(f"revoked key {described}", highlight=False, soft_wrap=True)


@contextmanager
def _session(database_url: str | None, verbose: bool) -> Iterator[Session]:
    """A session on the store, migrated first (as `beatlight materialise` does)."""
    from sqlalchemy.orm import Session

    from beatlight.api.db import connect, create_engine_for, upgrade

    _logging(verbose)
    if not verbose:
        for noisy in ("alembic", "beatlight.store", "beatlight.auth"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = _settings(database_url=database_url)
    engine = create_engine_for(settings.store_url())
    try:
        upgrade(engine)
        with connect(engine) as connection, Session(bind=connection) as session:
            yield session
    finally:
        engine.dispose()


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""
