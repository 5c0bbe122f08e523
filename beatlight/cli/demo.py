"""``beatlight demo``: the broker, a worker, the API and a simulated feed, in one command."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from beatlight.cli.options import (
    AttributesOpt,
    BoundariesOpt,
    VerboseOpt,
    build_settings,
    configure_logging,
    err,
    user_errors,
)
from beatlight.cli.places import geography_for

__all__ = ["demo"]


@user_errors
def demo(
    boundaries: BoundariesOpt = None,
    attributes: AttributesOpt = None,
    units: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Units on the roster (default: one per two wards, at least 6).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="The API's port on 127.0.0.1 (default: 8000 when "
            "free, else any free one; 0: any free one).",
            show_default=False,
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            help="How fast the last --catch-up-minutes of history play (× real time); "
            "the feed is at real time after that."
        ),
    ] = 10.0,
    catch_up_minutes: Annotated[
        float, typer.Option(min=0, help="Minutes of history played at --speed, as you watch.")
    ] = 15.0,
    history_hours: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Hours of history sent at once before that (default: from the start of "
            "the latest complete day, so that a day is published).",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Stop by itself after this many minutes (default: run until Ctrl-C).",
            show_default=False,
        ),
    ] = None,
    live_seconds: Annotated[
        float, typer.Option(min=0.5, help="How often the worker sends live figures (seconds).")
    ] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = 7,
    faults: Annotated[
        bool, typer.Option(help="Include a real feed's faults (rejected into the DLQ).")
    ] = True,
    data_dir: Annotated[
        Path, typer.Option(help="Folder for the store and the logs, emptied at each run.")
    ] = Path("data/demo"),
    zones: Annotated[
        Path | None,
        typer.Option(
            "--zones",
            "-z",
            help="Zones file (hot spots, town centres; SPEC Z1) instead of the demo's own "
            "(a town centre and 150 m hot spots over the Staffordshire or synthetic wards). "
            "Env BEATLIGHT_ZONES.",
            show_default=False,
        ),
    ] = None,
    no_zones: Annotated[bool, typer.Option("--no-zones", help="Run without zones.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run Beatlight live on this machine: broker, worker, API and simulated patrols.

    Uses the Staffordshire wards from ../shared/data when present (or --boundaries),
    else the synthetic demo wards. Sends a day or two of history at once, plays the
    last quarter of an hour fast so the live map fills as you watch, then goes on at
    real time. Has zones: a town centre with Friday and Saturday night sessions and a
    few 150 m hot spots, which the simulated patrols visit (--zones for your own file,
    --no-zones for none); the zones file is in --data-dir. Prints the maps'
    addresses and an inspector and a PCC key. Ctrl-C stops everything and leaves no
    process behind.
    """
    from beatlight.demo import DemoOptions, find_reference_boundaries, run_demo

    configure_logging(verbose)
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # the demo's own polling
        # kafka-python warns of every slow send while the history is sent flat out.
        logging.getLogger("kafka").setLevel(logging.ERROR)
    chosen = boundaries or build_settings().boundaries or find_reference_boundaries()
    settings = build_settings(boundaries=chosen, attributes=attributes)
    if chosen is None:
        logging.getLogger("beatlight.demo").info(
            "no --boundaries and no ../shared/data: the demo runs on the SYNTHETIC wards"
        )
    geography = geography_for(settings)
    options = DemoOptions(
        boundaries=settings.boundaries, attributes=settings.attributes, units=units, port=port,
        speed=speed, catch_up_minutes=catch_up_minutes, history_hours=history_hours,
        duration_minutes=duration or None, live_seconds=live_seconds, seed=seed, faults=faults,
        data_dir=data_dir, zones=zones or settings.zones, no_zones=no_zones,
    )  # fmt: skip
    code = run_demo(options, settings, geography, out=Console(soft_wrap=True), err=err)
    if code:
        raise typer.Exit(code)
