"""``beatlight materialise`` and ``beatlight api``: the stream's topics into the API's store,
and the API over it."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Annotated

import typer

from beatlight.cli.options import (
    AttributesOpt,
    BootstrapOpt,
    BoundariesOpt,
    CodeColumnOpt,
    CrsOpt,
    DatabaseUrlOpt,
    VerboseOpt,
    ZonesOpt,
    build_settings,
    configure_logging,
    require_bootstrap,
    user_errors,
)
from beatlight.cli.places import geography_for, zoning_for
from beatlight.settings import Settings

__all__ = ["api", "materialise"]

log = logging.getLogger("beatlight.api")


@user_errors
def materialise(
    bootstrap: BootstrapOpt = None,
    database_url: DatabaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Store the stream's live and hourly snapshots and its alerts in the API's database.

    Creates or upgrades the schema first, then runs until SIGINT or SIGTERM. Its
    progress is stored with the rows, so a restart carries on where it stopped and
    replaying the topics changes nothing.
    """
    from beatlight.api.db import create_engine_for, upgrade
    from beatlight.api.materialise import Materialiser
    from beatlight.configs import materialiser_config

    configure_logging(verbose)
    if not verbose:
        # kafka-python logs every reconnection attempt at ERROR during an outage; the
        # materialiser says once that Kafka is gone and once that it is back.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    settings = build_settings(kafka_bootstrap=bootstrap, database_url=database_url)
    servers = require_bootstrap(settings)
    engine = create_engine_for(settings.store_url())
    try:
        upgrade(engine)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, frame: stop.set())
        materialiser = Materialiser(materialiser_config(settings, servers), engine)
        materialiser.run(stop)
    finally:
        engine.dispose()
    log.info("stopped cleanly")


@user_errors
def api(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on. Env "
            "BEATLIGHT_API_HOST (default 127.0.0.1; 0.0.0.0 in a container).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on. Env BEATLIGHT_API_PORT (default 8000).", show_default=False
        ),
    ] = None,
    boundaries: BoundariesOpt = None,
    attributes: AttributesOpt = None,
    zones: ZonesOpt = None,
    bootstrap: BootstrapOpt = None,
    database_url: DatabaseUrlOpt = None,
    materialise: Annotated[
        bool,
        typer.Option(
            "--materialise/--no-materialise",
            help="Also store the stream's topics (needs Kafka). Turn off when a separate "
            "`beatlight materialise` fills the store.",
        ),
    ] = True,
    code_column: CodeColumnOpt = None,
    boundaries_crs: CrsOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Serve the API over the store; with Kafka, also store the stream's snapshots.

    With --bootstrap it runs the materialiser (unless --no-materialise)
    and keeps the last 15 minutes of presence points in memory for
    inspectors. Give it the workers' boundaries: they are the outlines in
    its GeoJSON. Keys: beatlight keys create --role inspector (pcc, admin).
    """
    import uvicorn
    from prometheus_client import CollectorRegistry

    from beatlight.api.app import create_app
    from beatlight.api.db import create_engine_for, reachable, upgrade
    from beatlight.api.materialise import Materialiser
    from beatlight.api.points import RecentPoints
    from beatlight.api.server import server_options
    from beatlight.configs import materialiser_config

    configure_logging(verbose)
    if not verbose:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    settings = build_settings(api_host=host, api_port=port, boundaries=boundaries,
                              attributes=attributes, zones=zones, kafka_bootstrap=bootstrap,
                              database_url=database_url)  # fmt: skip
    geography = geography_for(settings, code_column=code_column, crs=boundaries_crs)
    zoning = zoning_for(settings)  # which zones are public, and their commitments
    engine = create_engine_for(settings.store_url())
    reachable(engine)
    upgrade(engine)
    registry = CollectorRegistry()
    materialiser = points = None
    if settings.kafka_bootstrap:
        if materialise:
            config = materialiser_config(settings, settings.kafka_bootstrap)
            materialiser = Materialiser(config, engine, registry)
        points = RecentPoints(settings.kafka_bootstrap, settings.points_minutes,
                              settings.live_clock,
                              connect_timeout_s=settings.kafka_connect_timeout_s)  # fmt: skip
    else:
        log.warning("no Kafka given (--bootstrap): serving the store as it is; no recent "
                    "points and no materialiser")  # fmt: skip
    application = create_app(settings, engine, geography, materialiser=materialiser,
                             points=points, registry=registry,
                             zone_file=None if zoning is None else zoning.zones)  # fmt: skip
    _say_whom_proxy_headers_come_from(settings)
    log.info("serving http://%s:%d/api/v1 (docs at /docs)", settings.api_host, settings.api_port)
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again for the
    # handler it found; make that a no-op so a clean stop exits 0 (as supervisors expect).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: None)
    try:
        uvicorn.run(application, host=settings.api_host, port=settings.api_port,
                    log_level="info" if verbose else "warning", access_log=verbose,
                    server_header=False,
                    **server_options(settings.max_header_bytes,
                                     settings.header_timeout_seconds))  # fmt: skip
    finally:
        engine.dispose()
    log.info("stopped cleanly")


def _say_whom_proxy_headers_come_from(settings: Settings) -> None:
    if settings.trusted_proxies:
        log.info("X-Forwarded-For names the client when sent by %s",
                 ", ".join(map(str, settings.trusted_proxies)))  # fmt: skip
    # uvicorn's variable, which older instructions gave: it no longer has any effect, and
    # without BEATLIGHT_TRUSTED_PROXIES every client behind the proxy shares its bucket.
    if os.environ.get("FORWARDED_ALLOW_IPS") is not None:
        log.warning("FORWARDED_ALLOW_IPS is ignored: list the reverse proxies in "
                    "BEATLIGHT_TRUSTED_PROXIES instead (e.g. 10.0.0.5 or 10.0.0.0/8)")  # fmt: skip
