"""``beatlight audit``: who read the recent presence points (the live audit, api/audit.py)."""

from __future__ import annotations

import csv
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from beatlight.cli.options import (
    DatabaseUrlOpt,
    VerboseOpt,
    build_settings,
    err,
    parse_time,
    store_session,
    user_errors,
)
from beatlight.errors import BeatlightError

__all__ = ["audit"]

_AGO = re.compile(r"(\d{1,5})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@user_errors
def audit(
    since: Annotated[
        str | None,
        typer.Option(
            help="From this time (2026-11-23T06:00:00Z) or this long ago (7d, 12h, "
            "30m). Default: everything kept.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    until: Annotated[
        str | None,
        typer.Option(help="Up to this time (exclusive), or this long ago.", show_default=False),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Show at most this many reads.")
    ] = 1000,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Write CSV to stdout instead of a table.")
    ] = False,
    database_url: DatabaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show who read the recent presence points: time, key prefix, role and ward asked for.

    Every read of /api/v1/live/points (the inspectors' live map included) is recorded,
    never the points. Records are kept BEATLIGHT_AUDIT_RETENTION_DAYS (90) days. Name
    a key's holder with `beatlight keys list`.
    """
    from beatlight.api.audit import COLUMNS, read_entries
    from beatlight.times import format_time

    now = datetime.now(UTC)
    start = _moment(since, "--since", now)
    end = _moment(until, "--until", now)
    retention = timedelta(days=build_settings(database_url=database_url).audit_retention_days)
    with store_session(database_url, verbose) as session:
        page = read_entries(session.connection(), now=now, retention=retention, since=start,
                            until=end, limit=limit)  # fmt: skip
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        for entry in page.entries:
            writer.writerow(["" if v is None else format_time(v) if isinstance(v, datetime)
                             else v for v in entry.row()])  # fmt: skip
    elif not page.entries:
        err.print("no reads of the recent points in this period")
    else:
        table = Table(title=f"Reads of the recent presence points ({len(page.entries)})")
        table.add_column("time (UTC)", no_wrap=True)
        table.add_column("key", no_wrap=True)
        table.add_column("role", no_wrap=True)
        table.add_column("ward asked for")
        for entry in page.entries:
            # Plain text, never markup or terminal codes, whatever the store holds.
            cells = (f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.key_prefix, entry.role,
                     entry.ward or "every ward")  # fmt: skip
            table.add_row(*(Text(_printable(cell)) for cell in cells))
        Console(soft_wrap=True).print(table)
    if page.next_after is not None:
        err.print(f"showing the first {limit} reads: narrow --since/--until or raise --limit")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text)


def _moment(text: str | None, option: str, now: datetime) -> datetime | None:
    if text is None:
        return None
    ago = _AGO.fullmatch(text.strip().lower())
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    if text.strip()[:1].isdigit() and len(text.strip()) >= 10:
        return parse_time(text, option)
    raise BeatlightError(f"{option}: {text!r} is neither a time such as 2026-11-23T06:00:00Z "
                         "nor a duration such as 7d, 12h or 30m")  # fmt: skip
