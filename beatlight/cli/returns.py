"""``beatlight returns``: funders' returns per zone and period (SPEC Z6), as CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from beatlight.cli.options import (
    AttributesOpt,
    BoundariesOpt,
    CodeColumnOpt,
    CrsOpt,
    EventsOpt,
    NameColumnOpt,
    VerboseOpt,
    ZonesOpt,
    build_settings,
    configure_logging,
    parse_time,
    to_us,
    user_errors,
    write_output,
)
from beatlight.cli.places import geography_for, zoning_for
from beatlight.errors import BeatlightError

__all__ = ["returns"]


@user_errors
def returns(
    events: EventsOpt,
    zones: ZonesOpt = None,
    boundaries: BoundariesOpt = None,
    attributes: AttributesOpt = None,
    period: Annotated[
        str, typer.Option("--period", "-p", help="week (ISO), month or quarter.")
    ] = "quarter",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="End of the record (RFC 3339). Default: the latest "
            "event rounded up to the next slot, as for `beatlight report`.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
    code_column: CodeColumnOpt = None,
    name_column: NameColumnOpt = None,
    boundaries_crs: CrsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Funders' returns: per zone and period, patrol and unit hours, visits and sessions met.

    One CSV row per zone and period (ISO week, calendar month or quarter, in the force's
    time zone, BEATLIGHT_TIMEZONE) from the period of the first event to the one holding
    --as-of. A session counts in the period it starts in, once it has ended; `complete`
    is false for a period that had not ended at --as-of. The events count as in
    `beatlight report`: every valid event before --as-of, once per event_id.
    """
    from beatlight.cli.report import csv_text
    from beatlight.configs import lane_config
    from beatlight.streams.batch import batch_reports
    from beatlight.streams.files import open_events
    from beatlight.streams.zone_figures import PERIODS, RETURNS_COLUMNS, returns_rows
    from beatlight.times import parse_us

    configure_logging(verbose)
    if period not in PERIODS:
        raise BeatlightError(f"--period must be one of {', '.join(PERIODS)}, not {period!r}")
    settings = build_settings(boundaries=boundaries, attributes=attributes, zones=zones)
    zoning = zoning_for(settings, history=True)
    if zoning is None:
        raise BeatlightError("returns need zones: give --zones FILE or BEATLIGHT_ZONES")
    source = open_events(events, max_event_bytes=settings.max_event_bytes)
    geography = geography_for(settings, code_column=code_column, name_column=name_column,
                              crs=boundaries_crs)  # fmt: skip
    found = batch_reports(
        geography, (raw for raw, _ in source.chunks(keep_text=True)), lane_config(settings),
        now_us=to_us(datetime.now(UTC)),
        as_of_us=to_us(parse_time(as_of, "--as-of")) if as_of else None, zoning=zoning,
    )  # fmt: skip
    rows = []
    if found.zone_runs is not None and found.first_us is not None:
        rows = returns_rows(zoning.zones, found.zone_runs, zoning.config,
                            as_of_us=parse_us(found.document["as_of"]), first_us=found.first_us,
                            period=period)  # fmt: skip
    cells = [{k: _cell(v) for k, v in row.items()} for row in rows]
    write_output(out, csv_text(RETURNS_COLUMNS, cells).encode())


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value
