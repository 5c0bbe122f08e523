"""``beatlight demo``: the whole system on one machine, fed by simulated patrols, until Ctrl-C.

It starts, in this order, the embedded Kafka broker (Tansu), a ``beatlight worker``,
``beatlight api`` over a SQLite store in the demo's folder, and the simulated feed
(:mod:`beatlight.demo_feed`: a day or two of history at once, the last quarter of an
hour at ``speed`` × real time, then real time). Its zones (a town centre and hot spots,
:mod:`beatlight.geo.demo_zones`, or ``--zones``) go to the worker and the API as
``BEATLIGHT_ZONES``, and the simulated patrols visit them. It prints the maps' addresses and
two keys, shows progress, and on Ctrl-C (or SIGTERM, SIGHUP, or ``duration``) stops
them in the reverse order: the feed, the API, the worker, the broker. Children run
in process groups of their own (:mod:`beatlight.processes`), so nothing outlives it.

This module prepares a run (its folder, its ports, the signals that stop it, the
feed's plan); :class:`beatlight.demo_run.DemoRun` starts, watches and stops the parts.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from beatlight.demo_run import HOST, DemoRun
from beatlight.errors import BeatlightError
from beatlight.processes import free_port
from beatlight.settings import Settings

__all__ = ["DemoOptions", "demo_zones_file", "find_reference_boundaries", "run_demo"]

log = logging.getLogger("beatlight.demo")

REFERENCE = "staffordshire-wards.geojson"
#: The demo's own zones, written to its folder.
ZONES = "zones.geojson"
#: Marks a folder as the demo's, which it may empty; holds the running demo's pid.
MARKER = ".beatlight-demo"
_LEGACY = {"events.ndjson", "report.json"}  # what the batch demo used to leave there
_PREFERRED_PORT = 8000


@dataclass(frozen=True)
class DemoOptions:
    """What ``beatlight demo`` was asked for (see its ``--help``)."""

    boundaries: Path | None = None  # None: the synthetic wards
    attributes: Path | None = None
    units: int | None = None
    port: int | None = None  # None: 8000 when free, else any free port; 0: any free port
    speed: float = 10.0
    catch_up_minutes: float = 15.0
    history_hours: float | None = None  # None: enough for one complete, published day
    duration_minutes: float | None = None  # None: until Ctrl-C
    live_seconds: float = 5.0
    seed: int = 7
    faults: bool = True
    data_dir: Path = Path("data/demo")
    zones: Path | None = None  # None: the demo's own zones over these wards, if any
    no_zones: bool = False


def find_reference_boundaries() -> Path | None:
    """The Staffordshire wards in ``../shared/data`` beside the checkout or the working folder."""
    here = Path(__file__).resolve().parents[1]
    for folder in (here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        candidate = folder / REFERENCE
        if candidate.is_file():
            return candidate
    return None


def run_demo(options: DemoOptions, settings: Settings, geography: Any, *, out: Console,
             err: Console) -> int:  # fmt: skip
    """Run the demo until it is stopped; the exit code (0 clean, 1 when a part failed)."""
    if options.speed <= 1:
        raise BeatlightError("--speed must be more than 1 (the catch-up runs faster than time)")
    data_dir = options.data_dir.resolve()
    _reset(data_dir)
    options = replace(options, zones=demo_zones_file(options, geography, data_dir))
    zones = None if options.zones is None else _load_zones(options.zones, settings)
    api_port = _api_port(options.port)
    with _signals() as (stop, hurry):
        web_port = free_port(HOST)
        plan = _plan(options, settings, datetime.now(UTC).replace(microsecond=0))
        run = DemoRun(options, settings, geography, data_dir, api_port, web_port, plan, stop,
                      hurry, out, err, zones=zones)  # fmt: skip
        try:
            return run.main()
        finally:
            run.shutdown()


def demo_zones_file(options: DemoOptions, geography: Any, folder: Path) -> Path | None:
    """The zones file the demo runs with: --zones, else its own zones over these wards
    written to ``folder/zones.geojson``, else none (--no-zones, or no zones fit the wards)."""
    if options.no_zones:
        return None
    if options.zones is not None:
        return options.zones.resolve()
    from beatlight.geo.demo_zones import demo_zones_for, write_demo_zones

    frame = demo_zones_for(geography.wards)
    if frame is None:
        log.info("the demo has no zones for these wards: give a zones file with --zones")
        return None
    return write_demo_zones(frame, folder / ZONES)


def _load_zones(path: Path, settings: Settings) -> Any:
    """The zones (``geo.zones.Zones``), checked before anything starts."""
    from beatlight.geo.zones import load_zones
    from beatlight.streams.schedule import parse_schedule

    return load_zones(path, parse_schedule=parse_schedule, metric_crs=settings.metric_crs)


def _plan(options: DemoOptions, settings: Settings, now: datetime):  # noqa: ANN202
    from beatlight.demo_feed import FeedPlan, default_history_start

    catch_up = timedelta(minutes=options.catch_up_minutes)
    live_from = now - catch_up
    if options.history_hours is None:
        settle = catch_up + timedelta(seconds=settings.lateness_seconds, minutes=10)
        start = default_history_start(now, ZoneInfo(settings.timezone), settled_after=settle)
    else:
        start = now - timedelta(hours=options.history_hours)
    return FeedPlan(start=min(start, live_from), live_from=live_from, speed=options.speed)


def _reset(folder: Path) -> None:
    """Empty the demo's folder (only a demo's, and not one a running demo uses)."""
    marker = folder / MARKER
    if marker.exists():
        owner = marker.read_text().strip()
        if owner.isdigit() and _is_demo(int(owner)):
            raise BeatlightError(f"another demo (pid {owner}) is running in {folder}: stop it "
                                 "first, or give this one another --data-dir")  # fmt: skip
    elif folder.exists() and any(p.name not in _LEGACY for p in folder.iterdir()):
        raise BeatlightError(f"{folder} is not a demo folder and the demo empties its folder: "
                             "give an empty or new one with --data-dir")  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    marker.write_text(f"{os.getpid()}\n")


def _is_demo(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # alive, and no /proc to say what it is: assume the worst
    return b"demo" in command


def _api_port(requested: int | None) -> int:
    if requested == 0:
        return free_port(HOST)
    if requested is None:
        return _PREFERRED_PORT if _port_free(_PREFERRED_PORT) else free_port(HOST)
    if not _port_free(requested):
        raise BeatlightError(f"port {requested} is in use: choose another with --port "
                             "(--port 0 takes any free one)")  # fmt: skip
    return requested


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


@contextmanager
def _signals() -> Iterator[tuple[threading.Event, threading.Event]]:
    """Ctrl-C, SIGTERM and SIGHUP ask the demo to stop; a second one hurries the stop."""
    stop, hurry = threading.Event(), threading.Event()

    def handle(number: int, frame: Any) -> None:
        (hurry if stop.is_set() else stop).set()

    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, handle) for sig in caught}
    try:
        yield stop, hurry
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
