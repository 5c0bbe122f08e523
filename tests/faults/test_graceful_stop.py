"""SIGTERM stops a worker within 10 s under a full backlog, and loses nothing (issue 19,
finding 8).

A stopping worker stops reading Kafka between polls and takes no new records; every lane
it owns writes its checkpoint, the group's offsets are committed there, and it exits 0.
Whoever owns those lanes next resumes from the checkpoints, not from the start of the
topic (nor from the group's offsets, whatever they say), and every hour snapshot ever
published equals the batch
report on the same events (SPEC: "a restarted worker or a second worker must not change
any figure").

The backlog is several hundred thousand events, sent before the workers start, so that
they are busy reading when the signal comes. Periodic checkpoints are off (every 300 s):
any checkpoint found was written by the stop.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from beatlight.configs import lane_config
from beatlight.geo.geography import Geography
from beatlight.runtime.reader import PartitionReader
from beatlight.runtime.topics import CHECKPOINTS, PRESENCE
from beatlight.streams.checkpoint import latest_checkpoint, load_lane
from beatlight.streams.simulate import SimulationConfig
from tests.faults.workers import Progress, Worker, assert_every_version, wait_for
from tests.streams.e2e_support import (
    PARTITIONS,
    START,
    expected,
    replay_lines,
    wait_for_hour,
    write_simulation,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FEED_START = START + timedelta(hours=6)
#: Hours compared with the batch report: early, middle and late in the backlog.
HOURS = [FEED_START + timedelta(hours=h) for h in (3, 11, 19)]
STOP_WITHIN_S = 10.0
GROUP = "beatlight"  # BEATLIGHT_APP_ID's default: the workers' consumer group
SETTINGS = {"checkpoint_seconds": "300"}


@pytest.fixture(scope="module")
def backlog(geography, tmp_path_factory) -> Path:
    """26 hours of 60 units pinging every 5 s, with a real feed's faults: ~300,000 lines."""
    config = SimulationConfig(seed=19, start=FEED_START, duration=timedelta(hours=26), units=60,
                              ping_seconds=5)  # fmt: skip
    return write_simulation(geography, tmp_path_factory.mktemp("feed") / "events.ndjson", config)


def test_sigterm_mid_backlog_commits_checkpoints_and_exits_0_within_10_s(
    kafka, backlog, geography, wards_file, tmp_path
):
    lines = backlog.read_bytes().splitlines()
    assert len(lines) > 250_000
    replay_lines(kafka, lines)
    log = tmp_path / "worker.log"
    worker = Worker.start(kafka, wards_file, log, **SETTINGS)
    progress = Progress()

    def at_work() -> dict[int, int] | None:
        """Where each lane had got to, once a third of the backlog is processed and every
        lane has begun."""
        reached = _lane_offsets(worker)
        begun = all(reached.get(p, 0) > 0 for p in range(PARTITIONS))
        return reached if begun and progress([worker]) >= len(lines) // 3 else None

    reached = wait_for("a third of the backlog processed, every lane at work", at_work, 180)

    seconds, code = _sigterm(worker)
    assert code == 0, worker.tail()
    assert seconds < STOP_WITHIN_S, f"stopped in {seconds:.1f} s"
    assert sum(reached.values()) < len(lines) * 0.9, "not stopped under a backlog"

    checkpointed = _checkpointed(kafka, geography)
    committed = _committed(kafka)
    print(f"lanes seen at {reached}, checkpointed at {checkpointed}, committed at {committed}")
    for partition in range(PARTITIONS):
        # Lanes only move on: the stop's checkpoint is at least where the lane was seen.
        assert checkpointed[partition] is not None, f"lane {partition}: no checkpoint"
        assert checkpointed[partition] >= reached[partition] > 0, partition
        # The group's offsets are the checkpoints' (what Kafka's lag tools report).
        assert committed[partition] == checkpointed[partition], (partition, committed)

    restarted = Worker.start(kafka, wards_file, log, **SETTINGS)
    try:
        resumed = _resumed_from(log, wait_for_lanes=range(PARTITIONS), process=restarted)
        assert resumed == checkpointed, "the restart did not resume from the checkpoints"
        _assert_hours_equal_the_batch_report(kafka, backlog, geography, [restarted])
    finally:
        assert restarted.stop() == 0


def test_the_groups_offsets_do_not_move_the_lanes(kafka, backlog, geography, wards_file, tmp_path):
    """The group's offsets far ahead of any checkpoint (a worker killed before its first,
    or offsets reset by hand): each lane still reads its partition from its own offset,
    the log's start here, and counts every record once; the group's offsets then follow
    the lanes' checkpoints."""
    replay_lines(kafka, backlog.read_bytes().splitlines())
    _commit(kafka, share=0.95)
    log = tmp_path / "worker.log"
    worker = Worker.start(kafka, wards_file, log, **SETTINGS)
    try:
        _assert_hours_equal_the_batch_report(kafka, backlog, geography, [worker])
    finally:
        assert worker.stop() == 0
    text = _text(log)
    assert all(f"lane {p}: starting at offset 0" in text for p in range(PARTITIONS)), text
    assert "records from Kafka" not in text, "a lane read a gap: the feed skipped records"
    checkpointed = _checkpointed(kafka, geography)
    assert _committed(kafka) == checkpointed, checkpointed


def test_two_workers_one_gets_sigterm_the_other_resumes_its_lanes(
    kafka, backlog, geography, wards_file, tmp_path
):
    lines = backlog.read_bytes().splitlines()
    replay_lines(kafka, lines)
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [Worker.start(kafka, wards_file, log, **SETTINGS) for log in logs]
    try:
        progress = Progress()
        # Every lane each worker holds has begun: a lane still at its first offset has
        # nothing to checkpoint (its next owner starts there too).
        wait_for("both workers at work, every lane begun",
                 lambda: all(_lane_offsets(w) and all(_lane_offsets(w).values())
                             for w in workers), 180)  # fmt: skip
        wait_for("a quarter of the backlog processed",
                 lambda: progress(workers) >= len(lines) // 4, 180)  # fmt: skip
        victim, survivor = workers
        owned = set(_lane_offsets(victim))

        seconds, code = _sigterm(victim)
        assert code == 0, victim.tail()
        assert seconds < STOP_WITHIN_S, f"stopped in {seconds:.1f} s"
        checkpointed = _checkpointed(kafka, geography)
        assert all(checkpointed[p] for p in owned), (owned, checkpointed)

        # The survivor takes the victim's lanes over from the checkpoints it wrote.
        resumed = _resumed_from(logs[1], wait_for_lanes=owned, process=survivor)
        assert {p: resumed[p] for p in owned} == {p: checkpointed[p] for p in owned}
        _assert_hours_equal_the_batch_report(kafka, backlog, geography, [survivor])
    finally:
        for worker in workers:
            assert worker.stop() == 0


def _sigterm(worker: Worker) -> tuple[float, int]:
    """SIGTERM, then how long the worker took to exit, and its exit code."""
    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    code = worker.process.wait(timeout=60)
    seconds = time.monotonic() - started
    print(f"SIGTERM: exit {code} after {seconds:.1f} s")
    return seconds, code


def _lane_offsets(worker: Worker) -> dict[int, int]:
    """Each lane's next offset, from the worker's /metrics."""
    found = {}
    for name, value in worker.metrics().items():
        if match := re.fullmatch(r'beatlight_lane_offset\{partition="(\d+)"\}', name):
            found[int(match[1])] = int(value)
    return found


def _checkpointed(bootstrap: str, geography: Geography) -> dict[int, int | None]:
    """Where each lane's latest checkpoint resumes (None: no checkpoint)."""
    reader = PartitionReader(bootstrap, CHECKPOINTS)
    try:
        found: dict[int, int | None] = {}
        for partition in range(PARTITIONS):
            records = [r for chunk in reader.read(partition, 0, None, idle_ms=1000) for r in chunk]
            blob = latest_checkpoint(records, partition)
            found[partition] = (
                None if blob is None else load_lane(blob, geography, lane_config())[1]
            )
        return found
    finally:
        reader.close()


def _committed(bootstrap: str) -> dict[int, int]:
    """The workers' group's committed offsets in the input (0 where none)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP,
                             enable_auto_commit=False)  # fmt: skip
    try:
        return {p: consumer.committed(TopicPartition(PRESENCE, p)) or 0
                for p in range(PARTITIONS)}  # fmt: skip
    finally:
        consumer.close()


def _commit(bootstrap: str, share: float) -> None:
    """Commit the group's offsets ``share`` of the way into each input partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP,
                             enable_auto_commit=False)  # fmt: skip
    try:
        tps = [TopicPartition(PRESENCE, p) for p in range(PARTITIONS)]
        ends = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(int(ends[tp] * share), "", -1) for tp in tps})
    finally:
        consumer.close()
    assert all(_committed(bootstrap).values())


def _resumed_from(log: Path, wait_for_lanes, process: Worker) -> dict[int, int]:  # noqa: ANN001
    """Where the last start of each lane in ``log`` began from its checkpoint."""

    def resumed() -> dict[int, int] | None:
        process.metrics()  # alive
        found = {int(p): int(o) for p, o in
                 re.findall(r"lane (\d+): starting at offset (\d+) from its checkpoint",
                            _text(log))}  # fmt: skip
        return found if set(wait_for_lanes) <= set(found) else None

    return wait_for("the lanes resumed from their checkpoints", resumed, 120)


def _text(log: Path) -> str:
    return _joined(log.read_bytes())


def _joined(text: bytes) -> str:
    # Rich wraps long log lines: join them again.
    return re.sub(r"\s*\n\s+", " ", text.decode(errors="replace"))


def _assert_hours_equal_the_batch_report(kafka, feed, geography, workers) -> None:  # noqa: ANN001
    processes = [worker.process for worker in workers]
    wanted = {}
    for hour in HOURS:
        document = wait_for_hour(kafka, hour, 180, processes)
        assert document["force"]["windows"]["1h"]["patrol_minutes"] > 0
        wanted[hour] = expected(geography, feed, hour)
    versions = assert_every_version(kafka, wanted)
    print(f"hour records published: {sum(versions.values())} for {len(versions)} keys")
