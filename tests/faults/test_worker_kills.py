"""Workers SIGKILLed at random points and restarted: nothing lost, nothing counted twice.

Events keep arriving while workers die (a feeder thread sends the feed in chunks). Each
kill lands when the workers have processed a random share of the feed (seeded, the seed
printed); a killed worker leaves no last commit and no last checkpoint behind. At the
end every hour snapshot ever published, each re-publication included, must equal the
batch report on the same events (SPEC: "a restarted worker or a second worker must not
change any figure").
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

import pytest

from beatlight.streams.simulate import SimulationConfig
from tests.faults.workers import Feeder, Progress, Worker, assert_every_version, wait_for
from tests.streams.e2e_support import (
    PARTITIONS,
    START,
    expected,
    replay_lines,
    wait_for_hour,
    write_simulation,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FEED_START = START + timedelta(hours=7)  # a day shift: most units on the air
#: Hours the stream settles: each needs every lane's watermark an hour past it.
HOURS = [FEED_START + timedelta(hours=h) for h in (1, 2, 3)]
#: Checkpoints every second, so kills land before, between and after them.
CHECKPOINT_SECONDS = "1"


@pytest.fixture(scope="module")
def feed(geography, tmp_path_factory) -> Path:
    """Five hours of 30 units over the synthetic wards, with a real feed's faults
    (duplicates, late and out-of-order delivery, bad and broken lines)."""
    config = SimulationConfig(seed=8, start=FEED_START, duration=timedelta(hours=5), units=30)
    return write_simulation(geography, tmp_path_factory.mktemp("feed") / "events.ndjson", config)


def test_a_worker_killed_twice_while_events_arrive_loses_and_doubles_nothing(
    kafka, feed, geography, wards_file, tmp_path, fault_seed
):
    rng = random.Random(fault_seed)
    lines = feed.read_bytes().splitlines()
    log = tmp_path / "worker.log"
    progress = Progress()
    worker = Worker.start(kafka, wards_file, log, checkpoint_seconds=CHECKPOINT_SECONDS)
    try:
        feeder = _feed_while_working(kafka, lines, [worker], progress)
        for number, mark in enumerate((rng.uniform(0.3, 0.6), rng.uniform(0.65, 0.95)), 1):
            _kill_at(mark, [worker], 0, len(lines), progress, rng, f"kill {number}")
            worker = Worker.start(kafka, wards_file, log, checkpoint_seconds=CHECKPOINT_SECONDS)
        feeder.join()
        _assert_hours_equal_the_batch_report(kafka, feed, geography, [worker])
    finally:
        worker.stop()
    print(f"lanes restarted from a checkpoint: {log.read_text().count('from its checkpoint')}")


def test_two_workers_one_killed_at_a_time_lose_and_double_nothing(
    kafka, feed, geography, wards_file, tmp_path, fault_seed
):
    rng = random.Random(fault_seed)
    lines = feed.read_bytes().splitlines()
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    progress = Progress()
    workers = [Worker.start(kafka, wards_file, log, checkpoint_seconds=CHECKPOINT_SECONDS)
               for log in logs]  # fmt: skip
    try:
        feeder = _feed_while_working(kafka, lines, workers, progress)
        for number, mark in enumerate((rng.uniform(0.3, 0.6), rng.uniform(0.65, 0.95)), 1):
            victim = rng.randrange(2)
            _kill_at(mark, workers, victim, len(lines), progress, rng, f"kill {number}")
            # The survivor may take the victim's partitions over before it is back.
            time.sleep(rng.uniform(0, 4))
            workers[victim] = Worker.start(
                kafka, wards_file, logs[victim], checkpoint_seconds=CHECKPOINT_SECONDS
            )
        feeder.join()
        _assert_hours_equal_the_batch_report(kafka, feed, geography, workers)
        # Each worker says what it holds and what the rebalances of kills and restarts
        # cost it; once the group has settled, the two hold every partition between them.
        wait_for("the group settled", lambda: _held_by_each(workers), 60)
        for worker in workers:
            metrics = worker.metrics()
            assert metrics["beatlight_worker_rebalances_total"] >= 1, worker.tail()
            assert metrics["beatlight_worker_rebalance_seconds_total"] > 0, worker.tail()
    finally:
        for worker in workers:
            worker.stop()


def _held_by_each(workers: list[Worker]) -> list[int] | None:
    """Input partitions each worker holds, once together they hold every one."""
    held = [int(w.metrics().get("beatlight_worker_partitions", 0)) for w in workers]
    return held if sum(held) == PARTITIONS and 0 not in held else None


def _feed_while_working(
    kafka: str, lines: list[bytes], workers: list[Worker], progress: Progress
) -> Feeder:
    """A quarter of the feed first; the rest arrives in chunks once the workers are at it."""
    first = len(lines) // 4
    replay_lines(kafka, lines[:first])
    wait_for("the workers at work", lambda: progress(workers) >= first, 120)
    return Feeder(kafka, lines[first:], chunks=15, pause_s=1.5)


def _kill_at(
    mark: float,
    workers: list[Worker],
    victim: int,
    total: int,
    progress: Progress,
    rng: random.Random,
    what: str,
) -> None:
    """SIGKILL ``workers[victim]`` once ``mark`` of the feed has been processed."""
    target = int(mark * total)
    wait_for(f"{what}: {target} records processed", lambda: progress(workers) >= target, 120)
    time.sleep(rng.uniform(0, 0.5))  # not always right after a look at /metrics
    done = progress(workers)
    workers[victim].kill()
    print(f"{what}: worker {victim} SIGKILLed with {done} of {total} records processed")


def _assert_hours_equal_the_batch_report(kafka, feed, geography, workers) -> None:  # noqa: ANN001
    processes = [worker.process for worker in workers]
    wanted = {}
    for hour in HOURS:
        document = wait_for_hour(kafka, hour, 120, processes)
        assert document["force"]["windows"]["1h"]["patrol_minutes"] > 0
        wanted[hour] = expected(geography, feed, hour)
    versions = assert_every_version(kafka, wanted)
    print(f"hour records published: {sum(versions.values())} for {len(versions)} keys")
