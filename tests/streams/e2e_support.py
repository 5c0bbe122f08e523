"""Helpers of the stream's end-to-end tests: a broker per test, replays, worker processes,
and the batch report to compare their hour snapshots with, figure for figure.

Used by ``tests/streams/test_stream_e2e.py`` and the fault suite in ``tests/faults/``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography, load_geography
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.history import read_history
from beatlight.runtime.producers import PresenceProducer
from beatlight.streams.batch import Zoning, batch_report
from beatlight.streams.files import open_events
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.streams.test_report_vs_oracle import assert_same

__all__ = [
    "PARTITIONS",
    "REVISION_KEYS",
    "STREAM_ONLY",
    "START",
    "expected",
    "kafka",
    "replay",
    "replay_lines",
    "same_figures",
    "same_zones",
    "scrape_metrics",
    "start_worker",
    "stop",
    "wait_for_hour",
    "write_simulation",
]

START = datetime(2026, 11, 20, tzinfo=UTC)
#: Partitions of ``patrol.presence`` in these tests (the batch report splits events alike).
PARTITIONS = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def kafka() -> Iterator[str]:
    """A fresh broker per test (Beatlight's topic names are fixed), its topics created."""
    from beatlight.runtime.topics import ensure_topics

    with EmbeddedBroker() as running:
        ensure_topics(running.bootstrap, PARTITIONS)
        yield running.bootstrap


def write_simulation(wards: Geography | Path, path: Path, config: SimulationConfig) -> Path:
    """A simulated feed (with a real feed's faults) as an NDJSON file."""
    geography = wards if isinstance(wards, Geography) else load_geography(wards)
    path.write_text("".join(line + "\n" for line in simulate_lines(geography.wards, config)))
    return path


def replay(bootstrap: str, path: Path, *, skip: int = 0, limit: int | None = None) -> int:
    """Send lines ``skip`` to ``skip + limit`` of an NDJSON file, in file order."""
    lines = path.read_bytes().splitlines()[skip : None if limit is None else skip + limit]
    return replay_lines(bootstrap, lines)


def replay_lines(bootstrap: str, lines: Sequence[bytes], **options) -> int:  # noqa: ANN003
    """Send NDJSON lines as a feed would: objects keyed by unit, anything else as it is."""
    with PresenceProducer(bootstrap, **options) as producer:
        for line in lines:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                producer.send_raw(line, None)
                continue
            producer.send(event)
    return len(lines)


def start_worker(
    bootstrap: str, boundaries: Path, log: Path, *, web_port: int = 0, **settings: str
) -> subprocess.Popen:
    """``beatlight worker`` in a process of its own; ``settings`` become ``BEATLIGHT_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    env |= {"BEATLIGHT_LIVE_SECONDS": "1", "BEATLIGHT_KAFKA_PARTITIONS": str(PARTITIONS)}
    env |= {f"BEATLIGHT_{name.upper()}": value for name, value in settings.items()}
    return subprocess.Popen(
        [sys.executable, "-m", "beatlight", "worker", "--bootstrap", bootstrap,
         "--boundaries", str(boundaries), "--live-clock", "event",
         "--web-port", str(web_port)],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env,
    )  # fmt: skip


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Signal a worker and wait for it (killing it if it does not stop in 30 s)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=10)
    return process.returncode


def wait_for_hour(
    bootstrap: str, hour: datetime, timeout_s: float, workers: Iterable[subprocess.Popen] = ()
) -> dict:
    """The stream's snapshot for ``hour`` from ``visibility.history``, once it is whole."""
    workers = list(workers)
    deadline = time.monotonic() + timeout_s
    while True:
        for process in workers:
            assert process.poll() is None, f"a worker died (exit {process.returncode})"
        try:
            return read_history(bootstrap, hour, timeout_s=20)
        except BeatlightError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def expected(
    boundaries: Geography | Path,
    events: Path,
    hour: datetime,
    *,
    now: datetime | None = None,
    partitions: int | None = PARTITIONS,
    zoning: Zoning | None = None,
) -> dict:
    """The batch report as of ``hour`` on an events file, split into the stream's partitions
    (arrival order, so lateness applies), or with ``partitions=None`` as a complete record.

    ``now`` is the wall clock of the future rule (default: now). With a ``zoning``, the
    report has the zones' figures (``beatlight report --zones``).
    """
    geography = boundaries if isinstance(boundaries, Geography) else load_geography(boundaries)
    now_us = ((now or datetime.now(UTC)) - _EPOCH) // _MICROSECOND
    as_of_us = (hour - _EPOCH) // _MICROSECOND
    batches = (raw for raw, _ in open_events(events).chunks(keep_text=partitions is None))
    return batch_report(geography, batches, lane_config(), now_us=now_us, as_of_us=as_of_us,
                        partitions=partitions, zoning=zoning)  # fmt: skip


def same_figures(stream_doc: dict, batch_doc: dict) -> None:
    """Every figure of the batch report's document, in the stream's."""
    got, wanted = dict(stream_doc), dict(batch_doc)
    # A snapshot's rejections and duplicates are those counted by then, not the whole file's;
    # the events a file holds at or after as_of are the file's.
    for key in ("rejected", "duplicates", "after_as_of"):
        got.pop(key, None), wanted.pop(key, None)
    # Which publication of an hour a document (or an area's figures) is, and when, are not
    # figures.
    got, wanted = _without_revisions(got), _without_revisions(wanted)
    assert_same(got, wanted)


def same_zones(stream_doc: dict, batch_doc: dict) -> None:
    """The stream's ``zones`` equal the batch report's: zone by zone, window by window,
    session by session (the first difference named)."""
    got, wanted = stream_doc.get("zones"), batch_doc["zones"]
    assert got is not None, "the snapshot has no zones"
    assert [z["code"] for z in got] == [z["code"] for z in wanted]
    for ours, theirs in zip(got, wanted, strict=True):
        ours = {k: v for k, v in ours.items() if k not in STREAM_ONLY}
        code = theirs["code"]
        assert list(ours["windows"]) == list(theirs["windows"]), code
        for window, figures in theirs["windows"].items():
            assert ours["windows"][window] == figures, f"zone {code}, window {window}"
        assert len(ours["sessions"]) == len(theirs["sessions"]), f"zone {code}: sessions"
        for mine, session in zip(ours["sessions"], theirs["sessions"], strict=True):
            assert mine == session, f"zone {code}, session {session.get('start')}"
        assert ours == theirs, f"zone {code}"


def _without_revisions(document: dict) -> dict:
    document = {k: v for k, v in document.items() if k not in REVISION_KEYS}
    for key in ("wards", "neighbourhoods", "districts"):
        document[key] = [{k: v for k, v in area.items() if k not in REVISION_KEYS}
                         for area in document[key]]  # fmt: skip
    if document.get("force"):
        document["force"] = {k: v for k, v in document["force"].items()
                             if k not in REVISION_KEYS}  # fmt: skip
    if "zones" in document:
        document["zones"] = [{k: v for k, v in zone.items() if k not in STREAM_ONLY}
                             for zone in document["zones"]]  # fmt: skip
    return document


#: What says which publication of an hour a document (or an area in it) is.
REVISION_KEYS = ("revision", "revised_at")
#: What an hour snapshot's zone has that no batch report has: the figures of an earlier,
#: settled hour for the funders' returns (checked in tests/streams/test_zones_stream.py).
STREAM_ONLY = ("returns_hour",)


def scrape_metrics(port: int, timeout_s: float = 2.0) -> dict[str, float] | None:
    """A worker's /metrics as ``{'name{labels}': value}``, or None while it does not answer."""
    import httpx

    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s).text
    except httpx.HTTPError:
        return None
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples
