"""``beatlight report``: every figure of the SPEC, offline from an events file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from beatlight.cli.options import (
    AttributesOpt,
    BoundariesOpt,
    CodeColumnOpt,
    CrsOpt,
    DistrictColumnOpt,
    EventsOpt,
    NameColumnOpt,
    VerboseOpt,
    ZonesOpt,
    build_settings,
    configure_logging,
    err,
    parse_time,
    to_us,
    user_errors,
    write_output,
)
from beatlight.cli.places import geography_for, zoning_for
from beatlight.errors import BeatlightError
from beatlight.settings import Settings

__all__ = ["report"]


@user_errors
def report(
    events: EventsOpt,
    boundaries: BoundariesOpt = None,
    attributes: AttributesOpt = None,
    zones: ZonesOpt = None,
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
    sessions_out: Annotated[
        Path | None,
        typer.Option(
            "--sessions-out",
            help="With --zones: also write the zones' sessions as CSV here, one row per "
            "session ending in the 28 days before --as-of or still open.",
            show_default=False,
        ),
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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Processes that read and check the file's lines (default: one per core). "
            "The report is the same with any number.",
            min=1,
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
    PCC report for the --period-days before --as-of. With --zones, the document gains
    the zones' figures (windows and scheduled sessions), the CSV one row per zone and
    window (level `zone`), and --sessions-out writes the sessions.
    """
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from beatlight.configs import lane_config
    from beatlight.reports import MAX_PERIOD_DAYS
    from beatlight.streams.batch import Progress as Passes
    from beatlight.streams.batch import batch_reports
    from beatlight.streams.files import open_events
    from beatlight.streams.pool import available_cores
    from beatlight.streams.report import (
        CSV_COLUMNS,
        SESSION_COLUMNS,
        csv_rows,
        session_rows,
        zone_csv_rows,
    )

    configure_logging(verbose)
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
    settings = build_settings(boundaries=boundaries, attributes=attributes, zones=zones)
    if sessions_out is not None and settings.zones is None:
        raise BeatlightError("--sessions-out needs zones: give --zones FILE or BEATLIGHT_ZONES")
    zoning = zoning_for(settings)
    as_of_us = to_us(parse_time(as_of, "--as-of")) if as_of else None
    source = open_events(events, max_event_bytes=settings.max_event_bytes)
    geography = geography_for(
        settings,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        crs=boundaries_crs,
    )
    now_us = to_us(datetime.now(UTC))

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), TaskProgressColumn(),
        TimeRemainingColumn(), console=err, disable=not progress or not err.is_terminal,
        transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task(f"reading {source.path.name}", total=source.size_bytes)
        counting: list[Any] = []

        def batches():  # noqa: ANN202
            # Pieces, not parsed yet: the workers parse them (the bar runs a few ahead).
            for piece in source.pieces(keep_text=partitions is None):
                yield piece
                bar.update(task, completed=piece.done)

        def counted(done: int, total: int) -> None:
            if not counting:  # the second pass: the sorted events, counted
                bar.update(task, visible=False)
                counting.append(bar.add_task("counting, in time order", total=total))
            bar.update(counting[0], completed=done)

        # HTML: the documents at local midnights too (trends), in the same pass.
        found = batch_reports(
            geography, batches(), lane_config(settings), now_us=now_us,
            as_of_us=as_of_us, partitions=partitions, progress=Passes(counted=counted),
            zoning=zoning, workers=workers or available_cores(),
            **_trend_hours(format, settings, period),
        )  # fmt: skip
    document = found.document

    if format == "json":
        payload = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        write_output(out, payload)
    elif format == "csv":
        rows = [*csv_rows(document, levels=chosen), *zone_csv_rows(document)]
        write_output(out, csv_text(CSV_COLUMNS, rows).encode())
    else:
        write_output(out, _pcc_report(found, geography, settings, period).encode())
    if sessions_out is not None:
        write_output(sessions_out, csv_text(SESSION_COLUMNS, session_rows(document)).encode())


def csv_text(columns: tuple[str, ...], rows: Iterable[dict]) -> str:
    """CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


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
    from beatlight.configs import method
    from beatlight.reports import BOUNDARY_ATTRIBUTION, SYNTHETIC_ATTRIBUTION, build_report

    shapes = AreaShapes(geography)
    return build_report(
        found.document, history=found.hours.values(), outlines=shapes.level("ward"),
        district_outlines=shapes.level("district"), period_days=period_days,
        zone=settings.timezone, method=method(settings),
        attribution=SYNTHETIC_ATTRIBUTION if settings.boundaries is None else BOUNDARY_ATTRIBUTION,
    )  # fmt: skip
