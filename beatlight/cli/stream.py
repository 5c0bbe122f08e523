"""``beatlight worker`` and ``beatlight snapshots``: running and reading the stream processors."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Annotated

import orjson
import typer

from beatlight.cli.options import (
    AttributesOpt,
    BootstrapOpt,
    BoundariesOpt,
    CodeColumnOpt,
    CrsOpt,
    VerboseOpt,
    ZonesOpt,
    build_settings,
    configure_logging,
    parse_time,
    require_bootstrap,
    user_errors,
    write_output,
)
from beatlight.cli.places import geography_for, zoning_for
from beatlight.errors import BeatlightError

__all__ = ["snapshots", "worker"]


@user_errors
def worker(
    boundaries: BoundariesOpt = None,
    attributes: AttributesOpt = None,
    bootstrap: BootstrapOpt = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            help="Partitions of patrol.presence (when creating it). Env BEATLIGHT_KAFKA_PARTITIONS."
        ),
    ] = None,
    web_port: Annotated[
        int | None,
        typer.Option(
            "--web-port",
            help="Port for /metrics and /healthz (0 = off). Env BEATLIGHT_WORKER_WEB_PORT.",
        ),
    ] = None,
    web_host: Annotated[
        str | None,
        typer.Option(
            "--web-host",
            help="Address the web port listens on (default 127.0.0.1: this host only). "
            "Env BEATLIGHT_WORKER_WEB_HOST.",
            show_default=False,
        ),
    ] = None,
    live_clock: Annotated[
        str | None,
        typer.Option(
            help="wall (live as of now) or event (as of the latest event: for replays of history)."
        ),
    ] = None,
    code_column: CodeColumnOpt = None,
    boundaries_crs: CrsOpt = None,
    zones: ZonesOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run a stream worker: validate, match and aggregate patrol.presence into snapshots.

    Start as many as you like against the same Kafka: partitions are shared out
    among them and every figure stays the same.
    """
    import faust

    from beatlight.configs import lane_config, worker_config
    from beatlight.runtime.app import create_app
    from beatlight.runtime.malloc import keep_large_blocks_mapped
    from beatlight.runtime.topics import PRESENCE, ensure_topics

    configure_logging(verbose)
    keep_large_blocks_mapped()
    settings = build_settings(boundaries=boundaries, attributes=attributes,
                              kafka_bootstrap=bootstrap, kafka_partitions=partitions,
                              worker_web_port=web_port, worker_web_host=web_host,
                              live_clock=live_clock, zones=zones)  # fmt: skip
    servers = require_bootstrap(settings)
    geography = geography_for(settings, code_column=code_column, crs=boundaries_crs)
    counts = ensure_topics(servers, settings.kafka_partitions)
    partitions = counts.get(PRESENCE, settings.kafka_partitions)
    config = worker_config(settings, servers, partitions=partitions)
    faust_app = create_app(config, geography, lane_config(settings), zoning_for(settings))
    logging.getLogger("beatlight.worker").info(
        "worker %s on %s: %d input partitions, web %s", settings.app_id, servers,
        config.partitions, f"{config.web_host}:{config.web_port}" if config.web_port else "off",
    )  # fmt: skip
    faust.Worker(
        faust_app, loglevel="WARNING", redirect_stdouts=False, override_logging=False
    ).execute_from_commandline()


@user_errors
def snapshots(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Hour boundary H (RFC 3339).", show_default=False)
    ],
    bootstrap: BootstrapOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="json or csv.")] = "json",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the topic.")] = 30.0,
    verbose: VerboseOpt = False,
) -> None:
    """Print the stream's hour-boundary snapshot for H as the batch report's document.

    Diff it against ``beatlight report --as-of H`` on the same events.
    """
    from beatlight.runtime.history import read_history
    from beatlight.streams.report import CSV_COLUMNS, csv_rows

    configure_logging(verbose)
    if format not in ("json", "csv"):
        raise BeatlightError(f"--format must be json or csv, not {format!r}")
    settings = build_settings(kafka_bootstrap=bootstrap)
    hour = parse_time(as_of, "--as-of")
    if hour.minute or hour.second or hour.microsecond:
        raise BeatlightError(f"--as-of: {as_of} is not an hour boundary (snapshots are hourly)")
    document = read_history(require_bootstrap(settings), hour, timeout_s=timeout)
    if format == "json":
        write_output(out, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(csv_rows(document))
        write_output(out, buffer.getvalue().encode())
