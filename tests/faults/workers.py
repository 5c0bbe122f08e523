"""Worker processes the fault suite can watch (their /metrics page), kill and restart."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.reader import PartitionReader
from beatlight.runtime.topics import VISIBILITY_HISTORY, topic
from beatlight.streams.aggregate import snapshot_records
from tests.streams.e2e_support import PARTITIONS, STREAM_ONLY, scrape_metrics, start_worker, stop
from tests.streams.test_report_vs_oracle import assert_same
from tests.support import free_port

__all__ = ["Feeder", "Progress", "Worker", "assert_every_version", "wait_for"]


@dataclass
class Worker:
    """One ``beatlight worker`` process with its /metrics page on a port of its own."""

    process: subprocess.Popen
    port: int
    log: Path

    @classmethod
    def start(cls, bootstrap: str, boundaries: Path, log: Path, **settings: str) -> Worker:
        port = free_port()
        return cls(start_worker(bootstrap, boundaries, log, web_port=port, **settings), port, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def metrics(self) -> dict[str, float]:
        """Its metrics now ({} while the page does not answer); asserts it is alive."""
        assert self.process.poll() is None, f"worker died:\n{self.tail()}"
        return scrape_metrics(self.port) or {}

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last commit, no last checkpoint."""
        assert stop(self.process, signal.SIGKILL) == -signal.SIGKILL

    def stop(self) -> int:
        return stop(self.process)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


class Progress:
    """Records processed so far: per partition, the furthest next offset any worker reported.

    Remembered across calls, so a restarted worker (its lanes starting over from a
    checkpoint) or a partition moving to another worker does not set it back.
    """

    def __init__(self) -> None:
        self._furthest: dict[str, float] = {}

    def __call__(self, workers: Sequence[Worker]) -> int:
        for worker in workers:
            for name, value in worker.metrics().items():
                if name.startswith("beatlight_lane_offset{"):
                    self._furthest[name] = max(self._furthest.get(name, 0.0), value)
        return int(sum(self._furthest.values()))


def wait_for(what: str, check: Callable[[], object], timeout_s: float, every_s: float = 0.2):  # noqa: ANN201
    """``check()``'s first truthy answer, polled until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (answer := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(every_s)
    return answer


class Feeder:
    """Sends NDJSON lines from a thread, a chunk at a time with pauses: events keep arriving.

    Lines go as a feed delivered them (``PresenceProducer.send_line``: objects stripped
    and keyed by unit, anything else as it is), through one producer flushed per chunk.
    """

    def __init__(self, bootstrap: str, lines: Sequence[bytes], chunks: int, pause_s: float):
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(bootstrap, lines, chunks, pause_s), daemon=True
        )
        self._thread.start()

    def _run(self, bootstrap: str, lines: Sequence[bytes], chunks: int, pause_s: float) -> None:
        step = -(-len(lines) // chunks)
        try:
            with PresenceProducer(bootstrap) as producer:
                for start in range(0, len(lines), step):
                    for line in lines[start : start + step]:
                        producer.send_line(line)
                    producer.flush()
                    self.sent = min(start + step, len(lines))
                    time.sleep(pause_s)
        except BaseException as error:  # noqa: BLE001 - raised again by join()
            self.error = error

    def join(self, timeout_s: float = 120) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"the feeder did not finish in {timeout_s} s"
        if self.error is not None:
            raise self.error


def assert_every_version(bootstrap: str, expected: dict[datetime, dict]) -> Counter[str]:
    """Every record ever published to ``visibility.history`` for these hours equals the batch
    report's, not only the latest: a restart may publish an hour again, never differently.

    Returns how many versions of each record there were (more than one after a restart).
    """
    wanted: dict[str, dict] = {}
    for hour, document in expected.items():
        wanted |= dict(snapshot_records(document, prefix=hour.strftime("%Y-%m-%dT%H:%M:%SZ")))
    versions: Counter[str] = Counter()
    reader = PartitionReader(bootstrap, VISIBILITY_HISTORY)
    try:
        for partition in range(topic(VISIBILITY_HISTORY).partitions_for(PARTITIONS)):
            for chunk in reader.read(partition, 0, None, idle_ms=1500):
                for record in chunk:
                    key = (record.key or b"").decode()
                    if key in wanted:
                        got, theirs = orjson.loads(record.value), dict(wanted[key])
                        if key.endswith("|summary"):  # counted by then, not the whole file's
                            for name in ("rejected", "duplicates"):
                                got.pop(name), theirs.pop(name)
                        for name in STREAM_ONLY:  # a zone's figures of an earlier hour
                            got.pop(name, None)
                        assert_same(got, theirs, f"{key} (version {versions[key] + 1})")
                        versions[key] += 1
    finally:
        reader.close()
    assert set(versions) == set(wanted), f"never published: {sorted(set(wanted) - set(versions))}"
    return versions
