"""``beatlight broker`` and ``beatlight replay``: a local Kafka, and an events file sent to it."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from beatlight.cli.options import (
    VerboseOpt,
    build_settings,
    configure_logging,
    err,
    require_bootstrap,
    user_errors,
)
from beatlight.errors import BeatlightError
from beatlight.runtime.topics import PRESENCE

if TYPE_CHECKING:
    from beatlight.runtime.replay import ReplayStats

__all__ = ["broker", "replay"]

log = logging.getLogger("beatlight.kafka")

# replay says where a local Kafka comes from; the stream commands' is options.BootstrapOpt.
ReplayBootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers, host:port[,host:port]. Env BEATLIGHT_KAFKA_BOOTSTRAP. "
        "For a local one, run `beatlight broker` and use the address it prints.",
        show_default=False,
    ),
]


@user_errors
def broker(
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Port on 127.0.0.1 to serve on (default: a free one).",
            show_default=False,
        ),
    ] = None,
    storage: Annotated[
        str,
        typer.Option(help="Tansu storage URL; memory storage is lost when the broker stops."),
    ] = "memory://tansu/",
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Partitions of patrol.presence. Env BEATLIGHT_KAFKA_PARTITIONS (default 4).",
            show_default=False,
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run a local Kafka-compatible broker (Tansu) with Beatlight's topics until Ctrl-C.

    Once ready, its address (127.0.0.1:PORT) is the one line on stdout; logs go to stderr.

    For the demo and development: production runs Apache Kafka (docker-compose.yml).
    """
    from beatlight.runtime.broker import EmbeddedBroker
    from beatlight.runtime.topics import ensure_topics

    configure_logging(verbose)
    settings = build_settings(kafka_partitions=partitions)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with EmbeddedBroker(port, storage=storage) as running:
            ensure_topics(running.bootstrap, settings.kafka_partitions)
            # Printed once the topics exist: a script that reads it can send at once.
            print(running.bootstrap, flush=True)
            log.info(
                "serving Kafka on %s: export BEATLIGHT_KAFKA_BOOTSTRAP=%s (Ctrl-C stops it)",
                running.bootstrap, running.bootstrap,
            )  # fmt: skip
            while not stop.wait(0.5):
                if running.poll() is not None:
                    tail = running.output_tail().splitlines()
                    raise BeatlightError(
                        f"the broker stopped unexpectedly (exit code {running.poll()}): "
                        f"{tail[-1] if tail else 'no output'}"
                    )
            log.info("stopping the broker")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("broker stopped")


@user_errors
def replay(
    file: Annotated[
        Path,
        typer.Argument(
            help="Events file: NDJSON, CSV or Parquet (NDJSON and CSV may be .gz).",
            show_default=False,
        ),
    ],
    bootstrap: ReplayBootstrapOpt = None,
    topic: Annotated[str, typer.Option(help="Topic to send to.")] = PRESENCE,
    keep_order: Annotated[
        bool,
        typer.Option(
            "--keep-order",
            help="Send the lines as they stand instead of sorted by ts (for feeds already "
            "in order, and for tests of disorder).",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    verbose: VerboseOpt = False,
) -> None:
    """Send an events file to Kafka in event-time order (sorted by ts), keyed by unit.

    Sorting takes a pass over the file first, in bounded memory (sorted runs are
    spilled to the temporary folder, TMPDIR). Only the SPEC's fields travel. A line
    that cannot (not a JSON object, or too large) goes to patrol.presence.dlq with its
    reason, file name and line number, never its content, and the replay goes on. It
    ends with a summary; the exit code is 0 unless nothing could be sent.
    """
    from beatlight.runtime.producers import PresenceProducer
    from beatlight.runtime.replay import replay_file
    from beatlight.streams.files import open_events

    configure_logging(verbose)
    settings = build_settings(kafka_bootstrap=bootstrap)
    source = open_events(file, max_event_bytes=settings.max_event_bytes)  # file errors first
    address = require_bootstrap(settings)
    bar = _progress_bar(enabled=progress and err.is_terminal)
    tasks: dict[str, Any] = {}

    def show(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            what = "sorting" if phase == "reading" else "sending"
            tasks[phase] = bar.add_task(f"{what} {source.path.name}", total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with PresenceProducer(
        address, topic, connect_timeout_s=settings.kafka_connect_timeout_s,
        max_event_bytes=settings.max_event_bytes,
    ) as producer, bar:  # fmt: skip
        stats = replay_file(source.path, producer, keep_order=keep_order, progress=show)
    _summary(stats, topic, address, table=progress and err.is_terminal)
    if stats.sent == 0:
        raise BeatlightError(
            f"nothing of {source.path} could be sent: "
            + (
                f"all {stats.events:,} events were rejected (see patrol.presence.dlq)"
                if stats.events
                else "it holds no events"
            )
        )


def _progress_bar(*, enabled: bool) -> Any:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}", BarColumn(), TaskProgressColumn(),
        TimeRemainingColumn(), console=err, disable=not enabled, transient=True,
    )  # fmt: skip


def _summary(stats: ReplayStats, topic: str, address: str, *, table: bool) -> None:
    """The end of a replay: one log line, and a table for people at a terminal."""
    rejected = sum(stats.rejected.values())
    reasons = ", ".join(f"{n:,} {reason}" for reason, n in sorted(stats.rejected.items()))
    log.info(
        "replayed %s: %d events read, %d sent to %s at %s%s, %d rejected here%s "
        "in %.1f s (%.0f events/s)",
        stats.file, stats.events, stats.sent, topic, address,
        " in ts order" if stats.in_time_order else " in file order",
        rejected, f" ({reasons}; see patrol.presence.dlq)" if rejected else "",
        stats.seconds, stats.rate,
    )  # fmt: skip
    if table:
        from rich.table import Table

        summary = Table(title=f"replay of {stats.file}", title_justify="left")
        summary.add_column("events")
        summary.add_column("count", justify="right")
        summary.add_row("read", f"{stats.events:,}")
        summary.add_row(f"sent to {topic}", f"{stats.sent:,}")
        for reason, n in sorted(stats.rejected.items()):
            summary.add_row(f"rejected here: {reason}", f"{n:,}")
        err.print(summary)
