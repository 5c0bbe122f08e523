"""One run of ``beatlight demo``: the processes it starts, watches and stops.

:class:`DemoRun` starts the embedded broker, a ``beatlight worker`` and ``beatlight
api`` (children in process groups of their own, :mod:`beatlight.processes`), makes
two keys, prints the maps' addresses, starts the simulated feed
(:mod:`beatlight.demo_feed`), shows progress (:mod:`beatlight.demo_status`) until it
is stopped, and then stops everything in the reverse order. :func:`beatlight.demo.run_demo`
prepares its folder, ports and signals first.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from beatlight.errors import BeatlightError
from beatlight.settings import Settings

if TYPE_CHECKING:
    from beatlight.demo import DemoOptions
    from beatlight.demo_feed import FeedPlan

__all__ = ["HOST", "DemoRun"]

log = logging.getLogger("beatlight.demo")

#: The demo's services listen on this machine only.
HOST = "127.0.0.1"


class DemoRun:
    """One run of the demo: what it started, so that it can stop it all."""

    def __init__(self, options: DemoOptions, settings: Settings, geography: Any, data_dir: Path,
                 api_port: int, web_port: int, plan: FeedPlan, stop: threading.Event,
                 hurry: threading.Event, out: Console, err: Console, zones: Any = None,
                 ) -> None:  # fmt: skip
        self.options, self.settings, self.geography = options, settings, geography
        self.data_dir, self.stop, self.hurry = data_dir, stop, hurry
        self.out, self.err = out, err
        self.base = f"http://{HOST}:{api_port}"
        self.api_port = api_port
        self.web_port = web_port
        self.broker: Any = None
        self.children: list[Any] = []  # beatlight.processes.Child, in start order
        self.feed: Any = None
        self.probe: Any = None
        self.failed = False
        self.plan = plan
        self.zones = zones  # beatlight.geo.zones.Zones of options.zones, or None

    def main(self) -> int:
        from beatlight.runtime.broker import EmbeddedBroker
        from beatlight.runtime.topics import ensure_topics

        self.broker = EmbeddedBroker().start()
        ensure_topics(self.broker.bootstrap, self.settings.kafka_partitions)
        store = f"sqlite:///{self.data_dir / 'beatlight.db'}"
        keys = _create_keys(store)
        self._start_children(store)
        if not self._wait_for_api():
            return self._exit_code()
        self._print_banner(keys)
        from beatlight.demo_status import Probe

        self.probe = Probe(self.base, f"http://{HOST}:{self.web_port}/metrics", keys,
                           self.plan.start)  # fmt: skip
        self._start_feed()
        return self._watch()

    def shutdown(self) -> None:
        """Stop everything started, in the reverse order; a second Ctrl-C hurries it."""
        if self.feed is not None and self.feed.is_alive():
            self.stop.set()
            self.feed.join(10)
        for child in reversed(self.children):
            code = child.stop(hurry=self.hurry)
            log.info("stopped the %s (pid %d, exit code %d)", child.name, child.pid, code)
        if self.broker is not None:
            self.broker.stop()
            log.info("stopped the broker")
        if self.probe is not None:
            self.probe.close()
        log.info("demo stopped: no process left; logs and the store are in %s", self.data_dir)

    # -- starting ------------------------------------------------------------------------

    def _start_children(self, store: str) -> None:
        from beatlight.processes import spawn

        places = []
        if self.options.boundaries is not None:
            places += ["--boundaries", str(self.options.boundaries.resolve())]
        if self.options.attributes is not None:
            places += ["--attributes", str(self.options.attributes.resolve())]
        kafka = ["--bootstrap", self.broker.bootstrap]
        beatlight = [sys.executable, "-m", "beatlight"]
        env = self._child_env()
        self.children.append(spawn(
            "worker", [*beatlight, "worker", *kafka, *places, "--live-clock", "wall",
                       "--web-port", str(self.web_port)],
            log_path=self.data_dir / "worker.log", env=env, cwd=self.data_dir,
            stop_timeout_s=30,
        ))  # fmt: skip
        self.children.append(spawn(
            "API", [*beatlight, "api", *kafka, *places, "--database-url", store,
                    "--host", HOST, "--port", str(self.api_port)],
            log_path=self.data_dir / "api.log", env=env, cwd=self.data_dir, stop_timeout_s=15,
        ))  # fmt: skip

    def _child_env(self) -> dict[str, str]:
        mine = ("BEATLIGHT_DATABASE_URL", "BEATLIGHT_BOUNDARIES", "BEATLIGHT_ZONES")
        env = {k: v for k, v in os.environ.items() if k not in mine}
        # The zones go by the environment: a command that reads no zones ignores it.
        if self.options.zones is not None:
            env["BEATLIGHT_ZONES"] = str(self.options.zones)
        return env | {
            "BEATLIGHT_DATA_DIR": str(self.data_dir),
            "BEATLIGHT_KAFKA_PARTITIONS": str(self.settings.kafka_partitions),
            "BEATLIGHT_LIVE_SECONDS": f"{self.options.live_seconds:g}",
            "BEATLIGHT_LIVE_CLOCK": "wall",
            # The history ends today, so yesterday is published at once (README: the demo).
            "BEATLIGHT_PUBLISH_DELAY_HOURS": "0",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "160",  # log files: lines as wide as a terminal's
        }

    def _wait_for_api(self, timeout_s: float = 120.0) -> bool:
        import httpx

        log.info("waiting for the API on %s", self.base)
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set():
            if self._crashed():
                return False
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BeatlightError(f"the API did not answer within {timeout_s:.0f} s: see "
                                     f"{self.data_dir / 'api.log'}")  # fmt: skip
            self.stop.wait(0.25)
        return False

    def _start_feed(self) -> None:
        from beatlight.demo_feed import Feed
        from beatlight.geo.demo_zones import zone_points
        from beatlight.runtime.producers import PresenceProducer
        from beatlight.streams.simulate import SimulationConfig, simulate

        options, plan = self.options, self.plan
        # The simulated patrols visit a point inside each zone.
        hot_spots = () if self.zones is None else zone_points(self.zones.metric)
        running = (timedelta(minutes=options.duration_minutes + 5) if options.duration_minutes
                   else timedelta(days=7))  # fmt: skip
        config = SimulationConfig(
            seed=options.seed, start=plan.start, units=options.units,
            duration=(datetime.now(UTC) - plan.start) + running, hot_spots=hot_spots,
            **({} if options.faults else {f"{name}_rate": 0.0 for name in _FAULT_RATES}),
        )  # fmt: skip
        producer = PresenceProducer(
            self.broker.bootstrap, connect_timeout_s=self.settings.kafka_connect_timeout_s
        )
        self.feed = Feed(simulate(self.geography.wards, config), producer, plan,
                         self.probe.processed, self.stop)  # fmt: skip
        self.feed.start()

    def _print_banner(self, keys: dict[str, str]) -> None:
        base, wards = self.base, len(self.geography.wards.codes)
        where = (self.options.boundaries.name if self.options.boundaries
                 else "the SYNTHETIC demo wards")  # fmt: skip
        hours = (self.plan.live_from - self.plan.start) / timedelta(hours=1)
        self.out.print(
            f"\n[bold]Beatlight demo[/] over {wards} wards ({where}): {hours:.0f} hours of "
            f"history from {_local(self.plan.start)} sent at once (the worker takes a while "
            f"over them; the maps fill in as it goes), then the last "
            f"{self.options.catch_up_minutes:g} minutes at {self.plan.speed:g}× real time, then "
            "live. Ctrl-C stops everything.\n", highlight=False, soft_wrap=True,
        )  # fmt: skip
        rows = [
            # The maps' sign-in page takes the key from the fragment, which no browser sends.
            ("Live map (inspector)", f"{base}/maps/live#key={keys['inspector']}"),
            ("Coverage map (PCC)", f"{base}/maps/coverage#key={keys['pcc']}"),
            ("Public map (no key)", f"{base}/maps/public"),
            ("Ward pages (no key)", f"{base}/public/wards"),
            ("API docs", f"{base}/docs"),
            ("Inspector key", keys["inspector"]),
            ("PCC key", keys["pcc"]),
        ]
        if (zones := self.zones) is not None:
            names = ", ".join(map(str, zones.names))
            rows.append(("Zones", f"{self.options.zones} ({len(zones)}: {names}; patrolled)"))
        for label, value in rows:
            self.out.print(f"  {label + ':':<26} {value}", highlight=False, soft_wrap=True)
        worker, api = self.children
        self.out.print(
            f"  {'Processes:':<26} broker pid {self.broker.pid} ({self.broker.bootstrap}), "
            f"worker pid {worker.pid} (http://{HOST}:{self.web_port}/metrics), "
            f"api pid {api.pid}; logs in {self.data_dir}\n", highlight=False, soft_wrap=True,
        )  # fmt: skip

    # -- running -------------------------------------------------------------------------

    def _watch(self) -> int:
        from rich.live import Live

        from beatlight.demo_status import status_line, status_table

        until = (time.monotonic() + self.options.duration_minutes * 60
                 if self.options.duration_minutes else None)  # fmt: skip
        terminal = self.err.is_terminal
        live = Live(console=self.err, auto_refresh=False, transient=True)
        next_look = 0.0
        with live if terminal else _nothing():
            while not self.stop.wait(1.0):
                if self._crashed():
                    return 1
                if until is not None and time.monotonic() >= until:
                    log.info("ran for %g minutes (--duration): stopping",
                             self.options.duration_minutes)  # fmt: skip
                    return 0
                if time.monotonic() < next_look:
                    continue
                # A terminal gets a display refreshed every 2 s, a log file a line every 10 s.
                next_look = time.monotonic() + (2 if terminal else 10)
                status = self.probe.look(self.feed)
                if terminal:
                    live.update(status_table(status), refresh=True)
                else:
                    log.info("%s", status_line(status))
        log.info("stopping (Ctrl-C again to hurry)")
        return self._exit_code()

    def _crashed(self) -> bool:
        for child in self.children:
            if child.poll() is not None:
                log.error("the %s stopped unexpectedly (exit code %s); its last lines:\n%s\n"
                          "(whole log: %s)", child.name, child.poll(), child.log_tail(),
                          child.log_path)  # fmt: skip
                self.failed = True
                return True
        if self.broker is not None and self.broker.poll() is not None:
            log.error("the broker stopped unexpectedly: %s", self.broker.output_tail()[-500:])
            self.failed = True
            return True
        if self.feed is not None and self.feed.error is not None:
            log.error("the simulated feed failed: %s", self.feed.error)
            self.failed = True
            return True
        return False

    def _exit_code(self) -> int:
        return 1 if self.failed else 0


_FAULT_RATES = ("duplicate", "late", "out_of_order", "bad_coordinate", "missing_field",
                "inaccurate", "malformed", "identifying_field")  # fmt: skip


def _create_keys(store: str) -> dict[str, str]:
    """One inspector key and one PCC key, made in the demo's fresh store."""
    from sqlalchemy.orm import Session

    from beatlight.api.db import connect, create_engine_for, upgrade
    from beatlight.api.keys import create_key

    for noisy in ("alembic", "beatlight.store", "beatlight.auth"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    engine = create_engine_for(store)
    try:
        upgrade(engine)
        with connect(engine) as connection, Session(bind=connection) as session:
            keys = {role: create_key(session, role, f"beatlight demo ({role})")[1]
                    for role in ("inspector", "pcc")}  # fmt: skip
            session.commit()
    finally:
        engine.dispose()
    return keys


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%a %d %b %H:%M")
