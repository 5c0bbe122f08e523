"""``beatlight materialise``: the stream's snapshot topics into the API's store."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from beatlight.cli import VerboseOpt, _logging, _settings, _user_errors, app
from beatlight.cli_stream import BootstrapOpt, _bootstrap

DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="The store's SQLAlchemy URL (postgresql://… or "
                 "sqlite:///…). Env BEATLIGHT_DATABASE_URL. Default: a SQLite file "
                 "beatlight.db in the data directory.", show_default=False),
]  # fmt: skip


@app.command()
@_user_errors
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
    from api.db import create_engine_for, upgrade
    from api.materialise import Materialiser, MaterialiserConfig

    _logging(verbose)
    if not verbose:
        # kafka-python logs every reconnection attempt at ERROR during an outage; the
        # materialiser says once that Kafka is gone and once that it is back.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    settings = _settings(kafka_bootstrap=bootstrap, database_url=database_url)
    servers = _bootstrap(settings)
    engine = create_engine_for(settings.store_url())
    try:
        upgrade(engine)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, frame: stop.set())
        materialiser = Materialiser(MaterialiserConfig.from_settings(settings, servers), engine)
        materialiser.run(stop)
    finally:
        engine.dispose()
    logging.getLogger("beatlight.materialise").info("stopped cleanly")
