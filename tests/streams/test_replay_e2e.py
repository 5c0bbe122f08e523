"""A backfill of an export in any order gives the batch report's figures through the stream.

SPEC "Replays are in event-time order": ``beatlight replay FILE`` sorts by ``ts``, so a
file sorted by unit (as many database exports are) or shuffled reaches the worker as
a time-ordered feed, and every hour snapshot equals ``beatlight report --as-of H`` on
the same file (a complete record: SPEC "A file is a complete record"). Also: the batch
report's ``rejected`` counts and the stream's dead letters (the producer's and the
worker's together) agree, reason by reason.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.topics import PRESENCE_DLQ
from beatlight.streams.simulate import SimulationConfig
from tests.streams import e2e_support
from tests.streams.e2e_support import (
    START,
    expected,
    same_figures,
    start_worker,
    stop,
    wait_for_hour,
    write_simulation,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

kafka = e2e_support.kafka  # a fresh broker per test
HOURS = [START + timedelta(hours=h) for h in (3, 6, 8)]
SECRETS = (b"PC Alex Morgan", b"PC ", b"officer_name", b"collar_number", b"badge_id", b"radio_id")


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> tuple[Path, list[bytes]]:
    """Synthetic wards and ten hours of a feed with a real feed's faults, and worse lines."""
    folder = tmp_path_factory.mktemp("replay-e2e")
    boundaries = write_synthetic(folder / "wards.geojson")
    config = SimulationConfig(seed=14, start=START, duration=timedelta(hours=10), units=18,
                              duplicate_rate=0.03, late_rate=0.02, malformed_rate=0.005,
                              identifying_field_rate=0.05)  # fmt: skip
    lines = write_simulation(boundaries, folder / "sim.ndjson", config).read_bytes().splitlines()
    some = orjson.loads(next(line for line in lines if line.startswith(b'{"event_id"')))
    name = {"officer_name": "PC Alex Morgan"}
    deep = b"[" * 600 + b"]" * 600
    lines += [
        orjson.dumps({**some, "event_id": "big", "note": "x" * 9000, **name}),
        b'{"event_id":"nan","unit":"u-x","lat":NaN,"officer_name":"PC Alex Morgan"}',
        b'{"event_id":"bytes","unit":"u-\xff","collar_number":"4711"}',
        orjson.dumps({**some, "event_id": "deep", "unit": [[[[name]]]]}),
        orjson.dumps({**some, "event_id": "deeper"})[:-1] + b',"x":' + deep + b"}",
        b'{"event_id":"tail","unit":"u-1","officer_name":"PC Alex Mor',
    ]  # fmt: skip
    return boundaries, lines


def _by_unit(lines: list[bytes]) -> list[bytes]:
    """An export sorted by unit (then as it came); lines without one first."""

    def unit(line: bytes) -> str:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return ""
        found = value.get("unit") if isinstance(value, dict) else None
        return found if isinstance(found, str) else ""

    return sorted(lines, key=unit)


def _shuffled(lines: list[bytes]) -> list[bytes]:
    shuffled = list(lines)
    random.Random(3).shuffle(shuffled)
    return shuffled


@pytest.mark.parametrize("order", [_by_unit, _shuffled], ids=["sorted-by-unit", "shuffled"])
def test_a_replay_of_an_export_in_any_order_gives_the_batch_figures(
    kafka, feed, tmp_path, order, read_topic
):
    boundaries, lines = feed
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"\n".join(order(lines)) + b"\n")

    env = {"BEATLIGHT_KAFKA_BOOTSTRAP": kafka, "COLUMNS": "200", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "beatlight", "replay", str(export)],
                            capture_output=True, text=True, timeout=300,
                            env={**_clean_environment(), **env})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "in ts order" in " ".join(result.stderr.split())

    worker = start_worker(kafka, boundaries, tmp_path / "worker.log")
    try:
        documents = {}
        for hour in HOURS:
            documents[hour] = expected(boundaries, export, hour, partitions=None)
            same_figures(wait_for_hour(kafka, hour, 300, [worker]), documents[hour])
        # Every rejection is a dead letter, by the batch report's reasons.
        wanted = Counter(documents[HOURS[-1]]["rejected"])
        assert {"too_large", "malformed_json", "bad_unit"} <= set(wanted)
        assert "too_late" not in wanted
        deadline = time.monotonic() + 120
        while True:
            letters = read_topic(PRESENCE_DLQ, bootstrap=kafka)
            got = Counter(orjson.loads(r.value)["reason"] for r in letters)
            if got == wanted or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert got == wanted
        for spec in ("patrol.presence", PRESENCE_DLQ):
            records = read_topic(spec, bootstrap=kafka)
            blob = b"".join((r.key or b"") + r.value for r in records)
            assert not any(secret in blob for secret in SECRETS), spec
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]


def _clean_environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
