"""``beatlight keys``: create, list and revoke the API's keys (SPEC "Privacy and publication")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from beatlight.cli.options import DatabaseUrlOpt, VerboseOpt, err, store_session, user_errors

__all__ = ["KEYS_HELP", "create", "list_", "revoke"]

KEYS_HELP = (
    "Manage the API keys of the inspector and PCC views. Keys are stored hashed: "
    "a key is shown once, when it is created."
)


@user_errors
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
    from beatlight.api.keys import create_key

    with store_session(database_url, verbose) as session:
        key, plaintext = create_key(session, role, label)
        prefix, role = key.prefix, key.role
        session.commit()
    typer.echo(plaintext)
    err.print(f"created key {prefix} ({role}): store it now, it cannot be shown again",
              highlight=False, soft_wrap=True)  # fmt: skip


@user_errors
def list_(
    database_url: DatabaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """List the keys: prefix, role, label and dates (never a key or its hash)."""
    from beatlight.api.keys import list_keys

    with store_session(database_url, verbose) as session:
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


@user_errors
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
    from beatlight.api.keys import revoke_key

    with store_session(database_url, verbose) as session:
        key = revoke_key(session, prefix)
        described = f"{key.prefix} ({key.role}{', ' + key.label if key.label else ''})"
        session.commit()
    err.print(f"revoked key {described}", highlight=False, soft_wrap=True)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""
