"""What the stream benchmarks share: their common options and start, the simulated feed,
producing it into a fresh embedded broker, and the worker as a child process watched
through its /metrics page.

Record counts come from what was produced (every send acknowledged), never from
``end_offsets`` (Tansu 0.6 answers ListOffsets(latest) with the last batch's base
offset + 1).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.topics import ensure_topics
from beatlight.streams.simulate import SimulationConfig, simulate
from bench._run import REPO, code_version, stop_on_signals, stop_process, work_dir
from bench._zones import hot_spot_file, share_in_zones

__all__ = [
    "catch_up_summary",
    "child",
    "fresh_broker",
    "lane_sum",
    "load_average",
    "midnight_days_ago",
    "parser",
    "partition_sum",
    "produce",
    "say",
    "scrape",
    "simulated",
    "start",
    "worker_command",
    "worker_env",
]

DEFAULT_BOUNDARIES = REPO.parent / "shared" / "data" / "staffordshire-wards.geojson"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_CATCH_UP = re.compile(r"lane\s+(\d+):\s+read\s+(\d+)\s+records\s+from\s+Kafka\s+in\s+([\d.]+)\s+s")
_NO_FAULTS = {f"{name}_rate": 0.0 for name in (
    "duplicate", "late", "out_of_order", "bad_coordinate", "missing_field", "inaccurate",
    "malformed", "identifying_field")}  # fmt: skip


def say(text: str = "") -> None:
    print(text, flush=True)


# --- the run -----------------------------------------------------------------------------


def parser(doc: str, *, zones: bool = False) -> argparse.ArgumentParser:
    """A script's options, with the ones every stream benchmark has; ``doc`` is its
    docstring (its first paragraph the description, the rest shown after the options);
    ``zones``: with ``--zones N``."""
    description, _, details = doc.partition("\n\n")
    out = argparse.ArgumentParser(description=description, epilog=details,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    out.add_argument("--partitions", type=int, default=4,
                     help="partitions of patrol.presence (default 4)")  # fmt: skip
    out.add_argument("--boundaries", type=Path, default=DEFAULT_BOUNDARIES,
                     help="ward boundaries (default: the Staffordshire wards in "
                     "../shared/data beside the checkout)")  # fmt: skip
    out.add_argument("--workdir", type=Path, default=None, help="keep the processes' logs "
                     "here (default: a temporary directory)")  # fmt: skip
    if zones:
        out.add_argument("--zones", type=int, default=0, metavar="N",
                         help="N hot spots of 150 m where the simulated patrols go (they "
                         "are sent to them), given to the worker as BEATLIGHT_ZONES "
                         "(default 0: ward-only)")  # fmt: skip
    return out


def start(name: str, args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Any, Path]:
    """Say what runs where, load the wards; the wards and the folder for logs and Faust
    data (removed by ``stack`` unless ``--workdir``). Exits (0) when the boundaries are
    missing: the reference data lives beside the checkout, not in it."""
    stop_on_signals()
    if not args.boundaries.exists():
        say(f"SKIP: no ward boundaries at {args.boundaries} (the Staffordshire wards live in "
            "../shared/data/ beside the checkout; or pass --boundaries FILE)")  # fmt: skip
        raise SystemExit(0)
    args.boundaries = args.boundaries.resolve()
    from beatlight.geo.geography import load_geography

    say(f"{name}: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}")  # fmt: skip
    say(f"  $ {shlex.join([sys.executable, *sys.argv])}")
    say(f"  code: {code_version()}")
    geography = load_geography(args.boundaries)
    say(f"  wards: {len(geography.wards.codes)} from {args.boundaries}")
    work = work_dir(stack, args.workdir)
    say(f"  logs and Faust data in {work}{'' if args.workdir else ' (removed at the end)'}")
    return geography.wards, work


def load_average() -> str:
    return f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews rates)"


@contextlib.contextmanager
def fresh_broker(partitions: int) -> Iterator[EmbeddedBroker]:
    """An embedded Tansu broker (memory storage) with the worker's topics, said where."""
    with EmbeddedBroker() as broker:
        say(f"  broker: embedded Tansu at {broker.bootstrap} (pid {broker.pid})")
        ensure_topics(broker.bootstrap, partitions)
        yield broker


# --- the feed ------------------------------------------------------------------------------


def midnight_days_ago(days: float) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=math.ceil(days))


def simulated(
    wards: Any,
    n: int,
    *,
    seed: int,
    faults: bool = True,
    units: int = 200,
    zones: int = 0,
    work: Path | None = None,
) -> tuple[list[dict | str], Path | None]:
    """N simulated events, in arrival order, all of them in the past; with ``zones``, that
    many hot spots where the patrols go, in a zones file in ``work``, and the feed with
    units sent to them (``bench/_zones.py``): the events and the zones file (or None)."""
    days = n / (units * 600) + 1  # ~700 pings per unit-day for this roster; some to spare
    config = SimulationConfig(seed=seed, start=midnight_days_ago(days + 1),
                              duration=timedelta(days=days), units=units,
                              **({} if faults else _NO_FAULTS))  # fmt: skip
    path = None
    if zones:
        assert work is not None
        path = work / f"zones-{zones}.geojson"
        config, loaded = hot_spot_file(wards, config, zones, path)
    events = list(itertools.islice(simulate(wards, config), n))
    if len(events) < n:
        raise SystemExit(f"the simulation gave {len(events)} events, fewer than {n}")
    if path is not None:
        kinds = Counter(text or "a weekly target, or nothing" for text in loaded.schedule_texts)
        say(
            f"  zones: {len(loaded)} hot spots of 150 m in {path.name}, centred on pings of a "
            "pilot day of the simulation; units are sent to them for 12-16 minute visits"
        )
        say("  schedules: " + "; ".join(f"{k} {text}" for text, k in kinds.most_common()))
        points = [e for e in events if isinstance(e, dict)]
        lon = [e["lon"] if type(e.get("lon")) is float else math.nan for e in points]
        lat = [e["lat"] if type(e.get("lat")) is float else math.nan for e in points]
        say(f"  {share_in_zones(loaded, lon, lat)}")
    return events, path


def produce(bootstrap: str, events: Any) -> tuple[int, float]:
    """Send events (dicts, or raw lines for broken ones) and wait for every ack; the
    records now on the topic (events and raw lines; none dead-lettered) and the seconds
    it took."""
    started = time.perf_counter()
    with PresenceProducer(bootstrap) as producer:
        for item in events:
            if isinstance(item, str):
                producer.send_raw(item.encode(), None)
            else:
                producer.send(item)
        producer.flush()
        sent = producer.sent + producer.sent_raw
    return sent, time.perf_counter() - started


# --- the worker ----------------------------------------------------------------------------


@contextlib.contextmanager
def child(
    name: str,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path,
    log: Path,
    stdout: int | None = None,
) -> Iterator[subprocess.Popen]:
    """A child process, printed, logged to ``log``, stopped on the way out (SIGTERM, then
    SIGKILL)."""
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()
                     if k.startswith("BEATLIGHT_"))  # fmt: skip
    say(f"  $ {shown + ' ' if shown else ''}{shlex.join(command)}")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")  # Rich's log lines unwrapped in the logs
    with log.open("ab") as err:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else err,
            stderr=err,
        )
    try:
        yield process
    finally:
        stop_process(process, name)


def worker_command(bootstrap: str, boundaries: Path, clock: str, port: int) -> list[str]:
    """``beatlight worker`` with its live clock (``event`` or ``wall``) and web port."""
    return [sys.executable, "-m", "beatlight", "worker", "--bootstrap", bootstrap, "--boundaries",
            str(boundaries), "--live-clock", clock, "--web-port", str(port)]  # fmt: skip


def worker_env(app_id: str, partitions: int, **extra: str) -> dict[str, str]:
    return {"BEATLIGHT_APP_ID": app_id, "BEATLIGHT_KAFKA_PARTITIONS": str(partitions), **extra}


def scrape(port: int, timeout_s: float = 2.0) -> dict[str, dict[tuple, float]] | None:
    """The worker's /metrics page as {name: {labels: value}} (``None`` if not answering)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as r:
            text = r.read().decode()
    except OSError:
        return None
    metrics: dict[str, dict[tuple, float]] = defaultdict(dict)
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            name, labels, value = match.groups()
            metrics[name][tuple(sorted(_LABEL.findall(labels or "")))] = float(value)
    return metrics


def lane_sum(metrics: dict[str, dict[tuple, float]], name: str = "beatlight_lane_offset") -> int:
    """Records one worker has processed: its lanes' offsets, summed."""
    return int(sum(metrics.get(name, {}).values()))


def partition_sum(scraped: list[dict]) -> int:
    """Records a group of workers has processed: over partitions, the highest
    ``beatlight_lane_offset`` any worker shows (a worker that lost a lane in a rebalance
    keeps showing where it left it), summed."""
    best: dict[str, float] = {}
    for metrics in scraped:
        for labels, value in metrics.get("beatlight_lane_offset", {}).items():
            partition = dict(labels).get("partition", "")
            best[partition] = max(best.get(partition, 0.0), value)
    return int(sum(best.values()))


def catch_up_summary(*logs: Path) -> str:
    """What the worker's lanes read from Kafka themselves (idle-lane catch-up, gaps), not
    given them by the feed: they come twice (the feed gives them again, to be skipped).

    The worker logs each such read of over 1,000 records.
    """
    reads = [(int(p), int(n), float(s)) for log in logs for p, n, s in
             _CATCH_UP.findall(log.read_text(errors="replace"))]  # fmt: skip
    if not reads:
        return "no lane read Kafka itself (every record came through the feed)"
    records, seconds = sum(r[1] for r in reads), sum(r[2] for r in reads)
    lanes = sorted({r[0] for r in reads})
    return (
        f"lanes {lanes} read {records:,} records from Kafka themselves (idle-lane "
        f"catch-up, kafka-python) in {len(reads)} reads taking {seconds:.1f} s"
    )
