"""What the commands share: their common options, error handling, logging, settings,
geography, times and output.

A command builds :class:`~beatlight.settings.Settings` once (environment, then its
options) with :func:`build_settings`, and :func:`user_errors` turns a
:class:`~beatlight.errors.BeatlightError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from beatlight.cli.extras import MissingExtra, extra_providing, missing_extras
from beatlight.errors import BeatlightError
from beatlight.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


__all__ = [
    "AttributesOpt",
    "BootstrapOpt",
    "BoundariesOpt",
    "CodeColumnOpt",
    "CrsOpt",
    "DatabaseUrlOpt",
    "DistrictColumnOpt",
    "EventsOpt",
    "NameColumnOpt",
    "VerboseOpt",
    "ZonesOpt",
    "build_settings",
    "configure_logging",
    "err",
    "fail",
    "needs",
    "parse_time",
    "require_bootstrap",
    "store_session",
    "to_us",
    "user_errors",
    "write_output",
]

err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

EventsOpt = Annotated[
    Path,
    typer.Option(
        "--events",
        "-e",
        help="Events file: NDJSON, CSV or Parquet (NDJSON/CSV may be .gz).",
        show_default=False,
    ),
]
BoundariesOpt = Annotated[
    Path | None,
    typer.Option(
        "--boundaries",
        "-b",
        help="Ward boundary file (GeoJSON, GPKG, SHP, zip). "
        "Env BEATLIGHT_BOUNDARIES. Default: the synthetic demo wards.",
        show_default=False,
    ),
]
AttributesOpt = Annotated[
    Path | None,
    typer.Option(
        "--attributes",
        "-a",
        help="Ward attributes CSV: code, neighbourhood, district, "
        "population, target_minutes_per_week. Env BEATLIGHT_ATTRIBUTES.",
        show_default=False,
    ),
]
ZonesOpt = Annotated[
    Path | None,
    typer.Option(
        "--zones",
        "-z",
        help="Zones file (hot spots, town centres; any format boundaries accept) with "
        "code, name and optionally kind, target_minutes_per_week, schedule, "
        "session_target_minutes, max_gap_minutes, public. Env BEATLIGHT_ZONES.",
        show_default=False,
    ),
]
CodeColumnOpt = Annotated[
    str | None, typer.Option("--code-column", help="Ward code column (default: detected).")
]
NameColumnOpt = Annotated[
    str | None, typer.Option("--name-column", help="Ward name column (default: detected).")
]
DistrictColumnOpt = Annotated[
    str | None, typer.Option("--district-column", help="District code column (default: detected).")
]
CrsOpt = Annotated[
    str | None,
    typer.Option(
        "--boundaries-crs",
        help="CRS of the boundary file when it has none or a wrong one, e.g. EPSG:27700.",
    ),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug log lines.")]
# The stream's and the API's commands; `replay` and `simulate --kafka` say more (kafka.py).
BootstrapOpt = Annotated[
    str | None,
    typer.Option("--bootstrap", help="Kafka bootstrap servers (host:port[,host:port]). "
                 "Env BEATLIGHT_KAFKA_BOOTSTRAP.", show_default=False),
]  # fmt: skip
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="The store's SQLAlchemy URL (postgresql://… or "
                 "sqlite:///…). Env BEATLIGHT_DATABASE_URL. Default: a SQLite file "
                 "beatlight.db in the data directory.", show_default=False),
]  # fmt: skip


def user_errors(command: F) -> F:
    """One line and exit code 2 for errors a user can fix; never a traceback.

    A missing module of an optional extra is one of them: the line names the extra.
    """

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BeatlightError as error:
            fail(str(error))
        except ModuleNotFoundError as error:
            extra = extra_providing(error.name)
            if extra is None:
                raise
            fail(str(MissingExtra([extra])))
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return run  # type: ignore[return-value]


def needs(*extras: str) -> Callable[[F], F]:
    """Make a command stop at once, in one line, when one of ``extras`` is not installed."""

    def decorate(command: F) -> F:
        @wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            missing = missing_extras(extras)
            if missing:
                fail(str(MissingExtra(missing)))
            return command(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def fail(message: str) -> None:
    """Say what went wrong in one line on stderr and stop with exit code 2."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


def configure_logging(verbose: bool) -> None:
    """Log lines on stderr: INFO, or DEBUG with --verbose; client libraries' warnings only."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    # Client libraries narrate every connection at INFO; keep their warnings only.
    for noisy in ("kafka", "aiokafka", "faust", "mode", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:  # kafka-python's notes on its own event loop's timing, under load
        logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)


def build_settings(**overrides: Any) -> Settings:
    """The settings: the environment, overridden by the options given (None: not given)."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as error:
        raise BeatlightError(f"invalid settings: {error}") from None


def require_bootstrap(settings: Settings) -> str:
    """The Kafka to talk to: --bootstrap, else BEATLIGHT_KAFKA_BOOTSTRAP, else a clear error."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    raise BeatlightError(
        "no Kafka given: start one with `beatlight broker` and pass the address it prints "
        "with --bootstrap, or set BEATLIGHT_KAFKA_BOOTSTRAP"
    )


@contextmanager
def store_session(database_url: str | None, verbose: bool) -> Iterator[Session]:
    """A session on the API's store, migrated first (as `beatlight materialise` does)."""
    from sqlalchemy.orm import Session

    from beatlight.api.db import connect, create_engine_for, upgrade

    configure_logging(verbose)
    if not verbose:
        for noisy in ("alembic", "beatlight.store", "beatlight.auth"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = build_settings(database_url=database_url)
    engine = create_engine_for(settings.store_url())
    try:
        upgrade(engine)
        with connect(engine) as connection, Session(bind=connection) as session:
            yield session
    finally:
        engine.dispose()


def parse_time(text: str, option: str) -> datetime:
    """An RFC 3339 time given on the command line (offset required, as for events)."""
    try:
        moment = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise BeatlightError(
            f"{option}: {text!r} is not an RFC 3339 time such as 2026-11-23T06:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise BeatlightError(f"{option}: {text!r} needs an offset, e.g. 2026-11-23T06:00:00Z")
    return moment.astimezone(UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float on the way)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def write_output(out: Path | None, payload: bytes) -> None:
    """Write ``payload`` to ``out``, or to stdout when there is none."""
    if out is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(payload)
    except OSError as error:
        raise BeatlightError(f"{out}: cannot write ({error.strerror})") from None
