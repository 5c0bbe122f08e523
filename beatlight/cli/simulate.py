"""``beatlight simulate``: realistic, anonymised patrol pings, as NDJSON or sent to Kafka."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from beatlight.cli.options import (
    BoundariesOpt,
    CodeColumnOpt,
    CrsOpt,
    VerboseOpt,
    build_settings,
    configure_logging,
    parse_time,
    require_bootstrap,
    user_errors,
)
from beatlight.cli.places import geography_for
from beatlight.errors import BeatlightError
from beatlight.runtime.topics import PRESENCE
from beatlight.settings import Settings

__all__ = ["simulate"]

log = logging.getLogger("beatlight.kafka")


@user_errors
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
    zones: Annotated[
        Path | None,
        typer.Option(
            "--zones",
            "-z",
            help="Zones file (hot spots, town centres): patrols visit each zone's centre "
            "for 12-16 minutes now and then, more on Friday and Saturday nights. "
            "Env BEATLIGHT_ZONES.",
            show_default=False,
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Generate realistic, anonymised patrol pings over a ward geography (NDJSON or Kafka).

    With --zones, patrols also visit the zones' centres (as hot-spot patrols do), so
    `beatlight report --zones` on the output shows sessions met and missed.
    """
    from beatlight.streams.simulate import SimulationConfig, simulate, simulate_lines

    configure_logging(verbose)
    if kafka and out:
        raise BeatlightError("--kafka and --out go to different places: give one of them")
    settings = build_settings(boundaries=boundaries, zones=zones)
    geography = geography_for(settings, code_column=code_column, crs=boundaries_crs)
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
    if settings.zones is not None:
        options["hot_spots"] = _hot_spots(settings)
    if not faults:
        options.update({name: 0.0 for name in _FAULTS})
    config = SimulationConfig(**options)
    if kafka:
        _to_kafka(
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


def _hot_spots(settings: Settings) -> tuple[tuple[float, float], ...]:
    """A point inside each zone of --zones, in the wards' metric CRS."""
    from beatlight.geo.demo_zones import zone_points
    from beatlight.geo.zones import load_zones
    from beatlight.streams.schedule import parse_schedule

    assert settings.zones is not None
    zones = load_zones(settings.zones, parse_schedule=parse_schedule,
                       metric_crs=settings.metric_crs)  # fmt: skip
    return zone_points(zones.metric)


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


def _to_kafka(
    events: Iterable[Mapping[str, Any] | str],
    *,
    bootstrap: str | None,
    speed: float,
    start: datetime,
    limit: int | None,
) -> int:
    """``beatlight simulate --kafka``: send the simulation paced at ``speed`` × real time."""
    from beatlight.runtime.paced_feed import send_simulation

    if speed < 0:
        raise BeatlightError("--speed must be 0 (as fast as possible) or positive")
    settings = build_settings(kafka_bootstrap=bootstrap)
    address = require_bootstrap(settings)
    log.info(
        "sending the simulation to %s at %s, %s",
        PRESENCE, address, f"{speed:g} × real time" if speed else "as fast as possible",
    )  # fmt: skip
    return send_simulation(
        events, address, speed, anchor=start, limit=limit,
        connect_timeout_s=settings.kafka_connect_timeout_s,
    )  # fmt: skip
