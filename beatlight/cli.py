"""The ``beatlight`` command line: a thin shell over the domain packages.

Each command builds :class:`~beatlight.settings.Settings` once (environment,
then options), calls into ``geo``/``streams``, and turns a
:class:`~beatlight.errors.BeatlightError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.logging import RichHandler

from beatlight.errors import BeatlightError
from beatlight.settings import Settings

app = typer.Typer(
    name="beatlight",
    help="Beatlight: is visible neighbourhood policing being maintained, ward by ward?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

# Shared options -------------------------------------------------------------------------
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


def _user_errors(command: F) -> F:
    """One line and exit code 2 for errors a user can fix; never a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BeatlightError as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return run  # type: ignore[return-value]


def _logging(verbose: bool) -> None:
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


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as error:
        raise BeatlightError(f"invalid settings: {error}") from None


def _geography(
    settings: Settings, *, code_column=None, name_column=None, district_column=None, crs=None
):  # noqa: ANN001, ANN202
    from beatlight.geo.geography import geography_from_wards, load_geography
    from beatlight.geo.synthetic import synthetic_wards

    if settings.boundaries is None:
        from beatlight.geo.attributes import load_attributes
        from beatlight.geo.boundaries import wards_from_frame

        logging.getLogger("beatlight").info("no --boundaries given: using the SYNTHETIC demo wards")
        wards = wards_from_frame(
            synthetic_wards(), metric_crs=settings.metric_crs, source="synthetic demo wards"
        )
        return geography_from_wards(
            wards,
            attributes=load_attributes(
                settings.attributes, wards, settings.target_minutes_per_week
            ),
            cell_m=settings.cell_m,
            force_name=settings.force_name,
        )
    return load_geography(
        settings.boundaries,
        attributes=settings.attributes,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        crs=crs,
        metric_crs=settings.metric_crs,
        cell_m=settings.cell_m,
        default_target=settings.target_minutes_per_week,
        force_name=settings.force_name,
        cache_dir=settings.geo_cache_dir if settings.geo_cache else None,
    )


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


def _to_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# Commands ---------------------------------------------------------------------------------


@app.command()
@_user_errors
def report(
    events: Annotated[
        Path,
        typer.Option(
            "--events",
            "-e",
            help="Events file: NDJSON, CSV or Parquet (NDJSON/CSV may be .gz).",
            show_default=False,
        ),
    ],
    boundaries: BoundariesOpt = None,
    attributes: AttributesOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="End of the rolling windows (RFC "
            "3339). Default: the latest event rounded up to the next slot.",
        ),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="json, csv or html.")] = "json",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            help="Take the lines in file order as a stream with this many input partitions "
            "receives them: one watermark per partition, so late pings are `too_late`. "
            "To reproduce a stream's own decisions (diff against `beatlight snapshots`). "
            "Without it the file is a complete record: any line order gives the same figures.",
            min=1,
            show_default=False,
        ),
    ] = None,
    levels: Annotated[
        str,
        typer.Option(
            "--levels",
            help="CSV: which areas, comma-separated from wards,neighbourhoods,districts,force.",
        ),
    ] = "wards",
    code_column: CodeColumnOpt = None,
    name_column: NameColumnOpt = None,
    district_column: DistrictColumnOpt = None,
    boundaries_crs: CrsOpt = None,
    period_days: Annotated[
        int | None,
        typer.Option(
            "--period-days",
            help="HTML: days of daily trends up to --as-of (default 7). The headline "
            "figures use the 24h window, 7d from 7 days, 28d from 28.",
            show_default=False,
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    verbose: VerboseOpt = False,
) -> None:
    """Every figure of the SPEC, offline from an events file (the batch report).

    The file is a complete record: every valid event before --as-of counts, once per
    event_id, whatever the order of its lines (files larger than memory are sorted on
    disk). --format json or csv writes the figures; --format html writes the printable
    PCC report for the --period-days before --as-of.
    """
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from beatlight.configs import lane_config
    from beatlight.reports import MAX_PERIOD_DAYS
    from beatlight.streams.batch import Progress as Passes
    from beatlight.streams.batch import batch_reports
    from beatlight.streams.files import open_events
    from beatlight.streams.report import CSV_COLUMNS, csv_rows

    _logging(verbose)
    if format not in ("json", "csv", "html"):
        raise BeatlightError(f"--format must be json, csv or html, not {format!r}")
    if period_days is not None and format != "html":
        raise BeatlightError("--period-days is for --format html (the PCC report's trends)")
    period = 7 if period_days is None else period_days
    if not 1 <= period <= MAX_PERIOD_DAYS:
        raise BeatlightError(f"--period-days must be from 1 to {MAX_PERIOD_DAYS}, not {period}")
    chosen = tuple(level.strip() for level in levels.split(",") if level.strip())
    unknown = set(chosen) - {"wards", "neighbourhoods", "districts", "force"}
    if unknown:
        raise BeatlightError(f"--levels: unknown level(s) {', '.join(sorted(unknown))}")
    settings = _settings(boundaries=boundaries, attributes=attributes)
    as_of_us = _to_us(parse_time(as_of, "--as-of")) if as_of else None
    source = open_events(events, max_event_bytes=settings.max_event_bytes)
    geography = _geography(
        settings,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        crs=boundaries_crs,
    )
    now_us = _to_us(datetime.now(UTC))

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), TaskProgressColumn(),
        TimeRemainingColumn(), console=err, disable=not progress or not err.is_terminal,
        transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task(f"reading {source.path.name}", total=source.size_bytes)
        counting: list[Any] = []

        def batches():  # noqa: ANN202
            for raw, done in source.chunks(keep_text=partitions is None):
                yield raw
                bar.update(task, completed=done)

        def counted(done: int, total: int) -> None:
            if not counting:  # the second pass: the sorted events, counted
                bar.update(task, visible=False)
                counting.append(bar.add_task("counting, in time order", total=total))
            bar.update(counting[0], completed=done)

        # HTML: the documents at local midnights too (trends), in the same pass.
        found = batch_reports(
            geography, batches(), lane_config(settings), now_us=now_us,
            as_of_us=as_of_us, partitions=partitions, progress=Passes(counted=counted),
            **_trend_hours(format, settings, period),
        )  # fmt: skip
    document = found.document

    if format == "json":
        payload = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        _write(out, payload)
    elif format == "csv":
        rows = list(csv_rows(document, levels=chosen))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        _write(out, buffer.getvalue().encode())
    else:
        _write(out, _pcc_report(found, geography, settings, period).encode())


def _trend_hours(format: str, settings: Settings, period_days: int) -> dict[str, Any]:
    """For the PCC report: ask the batch run for the documents at every local midnight,
    keeping those of the last ``period_days`` (and a day to spare)."""
    if format != "html":
        return {}
    from zoneinfo import ZoneInfo

    from beatlight.reports import is_local_midnight

    zone = ZoneInfo(settings.timezone)
    return {"hours": lambda us: is_local_midnight(us, zone),
            "keep_us": (period_days + 1) * 86_400_000_000}  # fmt: skip


def _pcc_report(found: Any, geography: Any, settings: Settings, period_days: int) -> str:
    """The PCC report's HTML from one batch run (``streams.batch.BatchReports``)."""
    from beatlight.api.shapes import AreaShapes
    from beatlight.reports import BOUNDARY_ATTRIBUTION, SYNTHETIC_ATTRIBUTION, Method, build_report

    shapes = AreaShapes(geography)
    return build_report(
        found.document, history=found.hours.values(), outlines=shapes.level("ward"),
        district_outlines=shapes.level("district"), period_days=period_days,
        zone=settings.timezone, method=Method.from_settings(settings),
        attribution=SYNTHETIC_ATTRIBUTION if settings.boundaries is None else BOUNDARY_ATTRIBUTION,
    )  # fmt: skip


@app.command()
@_user_errors
def simulate(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="NDJSON file to write (default: stdout).")
    ] = None,
    boundaries: BoundariesOpt = None,
    code_column: CodeColumnOpt = None,
    boundaries_crs: CrsOpt = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same events.")] = 1,
    start: Annotated[
        str | None,
        typer.Option(
            help="First moment (RFC 3339). Default: the previous midnight UTC minus the duration."
        ),
    ] = None,
    duration: Annotated[float, typer.Option(help="Hours of patrol to simulate.")] = 24.0,
    units: Annotated[
        int | None, typer.Option(help="Units on the roster (default: scales with the wards).")
    ] = None,
    events: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
    faults: Annotated[
        bool,
        typer.Option(
            help="Inject a real feed's faults (duplicates, late, "
            "bad coordinates, identifying fields, ...)."
        ),
    ] = True,
    kafka: Annotated[
        bool, typer.Option("--kafka", help="Send to Kafka (patrol.presence) instead of NDJSON.")
    ] = False,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="With --kafka: Kafka bootstrap servers. Env BEATLIGHT_KAFKA_BOOTSTRAP.",
            show_default=False,
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            help="With --kafka: pace × real time by event time (60 = an hour a minute; "
            "0 = as fast as possible). Default start: the last event is due now."
        ),
    ] = 1.0,
    verbose: VerboseOpt = False,
) -> None:
    """Generate realistic, anonymised patrol pings over a ward geography (NDJSON or Kafka)."""
    from beatlight.streams.simulate import SimulationConfig, simulate, simulate_lines

    _logging(verbose)
    if kafka and out:
        raise BeatlightError("--kafka and --out go to different places: give one of them")
    settings = _settings(boundaries=boundaries)
    geography = _geography(settings, code_column=code_column, crs=boundaries_crs)
    hours = timedelta(hours=duration)
    if duration <= 0:
        raise BeatlightError("--duration must be positive")
    if start:
        first = parse_time(start, "--start")
    elif kafka and speed > 0:
        # Paced so that the last event is sent at its own time: none is in the future.
        now = datetime.now(UTC).replace(microsecond=0)
        first = now - hours * (1 - 1 / speed) if speed >= 1 else now
    else:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first = midnight - hours
    options: dict[str, Any] = {"seed": seed, "start": first, "duration": hours, "units": units}
    if not faults:
        options.update({name: 0.0 for name in _FAULTS})
    config = SimulationConfig(**options)
    if kafka:
        from beatlight.cli_kafka import simulate_to_kafka

        simulate_to_kafka(
            simulate(geography.wards, config), bootstrap=bootstrap, speed=speed,
            start=config.start, limit=events,
        )  # fmt: skip
        return
    lines = simulate_lines(geography.wards, config)
    started = time.perf_counter()
    written = _write_lines(out, lines, limit=events)
    logging.getLogger("beatlight.simulate").info(
        "simulated %d events in %.1f s%s", written, time.perf_counter() - started,
        f" to {out}" if out else "",
    )  # fmt: skip


_FAULTS = (
    "duplicate_rate", "late_rate", "out_of_order_rate", "bad_coordinate_rate",
    "missing_field_rate", "inaccurate_rate", "malformed_rate", "identifying_field_rate",
)  # fmt: skip


def _write_lines(out: Path | None, lines, limit: int | None) -> int:  # noqa: ANN001
    from itertools import islice

    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    written = 0
    try:
        for line in islice(lines, limit):
            stream.write(line if line.endswith("\n") else line + "\n")
            written += 1
    except BrokenPipeError:  # `beatlight simulate | head`
        pass
    finally:
        if out:
            stream.close()
    return written


def _write(out: Path | None, payload: bytes) -> None:
    if out is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(payload)
    except OSError as error:
        raise BeatlightError(f"{out}: cannot write ({error.strerror})") from None


def main() -> None:  # pragma: no cover - console script entry
    app()


# Commands that talk to Kafka live in modules of their own; importing them registers them.
from beatlight import cli_kafka, cli_stream  # noqa: E402,F401,I001
from beatlight import cli_api  # noqa: E402,F401,I001
from beatlight import cli_keys  # noqa: E402,F401,I001
from beatlight import cli_demo  # noqa: E402,F401,I001
from beatlight import cli_audit  # noqa: E402,F401,I001
