"""Clock skew and out-of-order delivery within the allowed lateness change no figure.

The same events go to two brokers, each with its worker: once in order of the time they
were made, once shuffled by up to 45 minutes (under the SPEC's allowed lateness of 1 h
behind the lane's watermark, ``streams.intake``). Some devices' clocks run up to 4
minutes fast or slow (under the future tolerance of 5 min ahead of the wall clock).

The future rule reads the wall clock (``validate(now_us=...)``), so the feed is moved to
end at the minute this test starts: the fast clocks stamp pings up to 4 minutes into the
future, and every later check (the workers, the batch report) sees a wall clock at least
as late, so they are always accepted. Twenty pings stamped 20-40 minutes ahead are always
rejected (``future``) while the test runs (its timeout is well under 15 minutes).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.topics import ensure_topics
from beatlight.streams.simulate import SimulationConfig, simulate_annotated
from tests.faults.workers import Worker
from tests.streams.e2e_support import (
    PARTITIONS,
    START,
    expected,
    replay_lines,
    same_figures,
    wait_for_hour,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SIMULATED = timedelta(hours=5)
SKEW = timedelta(minutes=4)  # device clocks off by up to this, either way (< 5 min)
DISORDER = timedelta(minutes=45)  # delivery up to this late; + 2 x SKEW < 1 h lateness
FUTURE = 20  # pings beyond the future tolerance
_HOUR = timedelta(hours=1)


def test_skewed_clocks_and_shuffled_delivery_change_no_figure(
    kafka, geography, wards_file, tmp_path, fault_seed
):
    rng = random.Random(fault_seed)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    made = _feed(geography, end, rng)
    in_order = _write(tmp_path / "in-order.ndjson", made, rng, disorder=timedelta(0))
    shuffled = _write(tmp_path / "shuffled.ndjson", made, rng, disorder=DISORDER)
    # Hours with an hour of the feed before them, and settled: every lane's watermark
    # (its latest ping, within minutes of the end) an hour past them.
    first = _ceil_hour(end - SIMULATED) + _HOUR
    hours = []
    while first <= end - _HOUR - timedelta(minutes=10):
        hours.append(first)
        first += _HOUR
    assert len(hours) >= 2, hours

    with EmbeddedBroker() as other:
        ensure_topics(other.bootstrap, PARTITIONS)
        replay_lines(kafka, shuffled.read_bytes().splitlines())
        replay_lines(other.bootstrap, in_order.read_bytes().splitlines())
        workers = [
            Worker.start(kafka, wards_file, tmp_path / "shuffled.log"),
            Worker.start(other.bootstrap, wards_file, tmp_path / "in-order.log"),
        ]
        try:
            for hour in hours:
                stream_shuffled = wait_for_hour(kafka, hour, 120, [workers[0].process])
                stream_in_order = wait_for_hour(other.bootstrap, hour, 60, [workers[1].process])
                batch_shuffled = expected(geography, shuffled, hour)
                batch_in_order = expected(geography, in_order, hour)
                # Nothing was too late, and the fast clocks' pings were all accepted.
                rejected = batch_shuffled["rejected"]
                assert rejected == batch_in_order["rejected"], (rejected, hour)
                assert "too_late" not in rejected and rejected["future"] == FUTURE, rejected
                assert stream_shuffled["force"]["windows"]["1h"]["patrol_minutes"] > 0
                same_figures(batch_shuffled, batch_in_order)
                same_figures(stream_shuffled, batch_shuffled)
                same_figures(stream_shuffled, stream_in_order)
        finally:
            for worker in workers:
                assert worker.stop() == 0, worker.tail()
    print(f"feed ends {end:%H:%M} UTC; hours compared: {[f'{h:%H:%M}' for h in hours]}")


def _feed(geography, end: datetime, rng: random.Random) -> list[tuple[datetime, object]]:  # noqa: ANN001
    """(time made, event or broken line): a simulated feed moved to end at ``end``,
    with skewed device clocks, and pings stamped beyond the future tolerance.

    No simulated late delivery: that is the shuffle's job here, within the lateness.
    """
    config = SimulationConfig(seed=5, start=START + timedelta(hours=7), duration=SIMULATED,
                              units=24, late_rate=0.0)  # fmt: skip
    shift = end - (config.start + SIMULATED)
    skews: dict[str, timedelta] = {}
    made: list[tuple[datetime, object]] = []
    at = end - SIMULATED
    clean: list[dict] = []
    for item, faults in simulate_annotated(geography.wards, config):
        if isinstance(item, dict) and isinstance(item.get("ts"), str):
            at = datetime.fromisoformat(item["ts"]) + shift
            unit = item.get("unit")
            if unit not in skews:  # a third fast, a third slow, a third right
                skews[unit] = rng.choice((1, -1, 0)) * rng.uniform(0, 1) * SKEW
            item = item | {"ts": _stamp(at + skews[unit])}
            if not faults:
                clean.append(item)
        made.append((at, item))  # a line without a time keeps the previous one's
    for i in range(FUTURE):
        event = rng.choice(clean) | {"event_id": f"ahead-{i}"}
        ahead = end + timedelta(minutes=rng.uniform(20, 40))
        made.append((end - timedelta(minutes=rng.uniform(0, 60)), event | {"ts": _stamp(ahead)}))
    assert sum(skew > timedelta(0) for skew in skews.values()) > 0
    return made


def _write(
    path: Path, made: list[tuple[datetime, object]], rng: random.Random, disorder: timedelta
) -> Path:
    """The feed in delivery order: by time made, each delayed by up to ``disorder``."""
    seconds = disorder.total_seconds()
    keyed = [(at + timedelta(seconds=rng.uniform(0, seconds)), i) for i, (at, _) in enumerate(made)]
    lines, overtaken, latest = [], 0, made[0][0]
    for _, i in sorted(keyed):
        at, item = made[i]
        lines.append(item.encode() if isinstance(item, str) else orjson.dumps(item))
        overtaken += at < latest
        latest = max(latest, at)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    print(f"{path.name}: {len(lines)} lines, {overtaken} delivered after a later one")
    return path


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + _HOUR
