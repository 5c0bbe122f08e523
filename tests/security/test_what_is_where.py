"""Where a unit pseudonym can be found, and where it cannot (docs/security.md "What it holds").

A worker's lane sees pseudonyms; of what it writes, the dead letters and the
checkpoints carry them, and nothing else does: not the points, not the figures it
sends the aggregator. Checkpoints are compressed, so a scan of the raw bytes would not
see a pseudonym in them; these tests decompress what they look at.
"""

from __future__ import annotations

import zlib

import numpy as np
import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.streams.runner import LaneRunner, Record
from beatlight.streams.wire import decode
from tests.fuzz.events import NOW_US, good_event
from tests.fuzz.test_events_fuzz import geography

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

UNIT = "u-zq-4471"
EVENT_ID = "evt-zq-9902"


def _runner_after_pings() -> tuple[LaneRunner, list]:
    runner = LaneRunner(0, geography(), lane_config(), max_event_bytes=8192,
                        points_us=3_600_000_000)  # fmt: skip
    pings = [{**good_event(i, 3000 - 60 * i), "unit": UNIT, "event_id": f"{EVENT_ID}-{i}"}
             for i in range(40)]  # fmt: skip
    bad = {**pings[0], "event_id": f"{EVENT_ID}-bad", "mode": "horse"}
    records = [Record(i, orjson.dumps(p)) for i, p in enumerate([*pings, bad])]
    emissions = [runner.process(records, now_us=NOW_US)]
    return runner, emissions


def test_the_dead_letter_queue_carries_the_pseudonym_as_key_and_in_the_payload():
    _, (emission,) = _runner_after_pings()
    (key, value), = emission.dlq  # fmt: skip
    assert key == UNIT.encode()
    assert orjson.loads(value)["payload"]["unit"] == UNIT


def test_checkpoints_hold_pseudonyms_and_event_ids_compressed_not_encrypted():
    runner, _ = _runner_after_pings()
    runner.flush_final()
    blob = runner.dump()
    assert UNIT.encode() not in blob  # compressed: a scan of raw bytes finds nothing
    plain = zlib.decompress(blob)
    assert UNIT.encode() in plain and f"{EVENT_ID}-1".encode() in plain


def test_points_and_figures_for_the_aggregator_carry_no_pseudonym_or_event_id():
    runner, (emission,) = _runner_after_pings()
    messages = [*emission.partials, runner.live_tick(NOW_US), *runner.flush_final()]
    assert messages and emission.points
    for payload in messages:
        size = int.from_bytes(payload[:4], "big")
        header, body = payload[4 : 4 + size], zlib.decompress(payload[4 + size :])
        for text in (UNIT.encode(), EVENT_ID.encode()):
            assert text not in header and text not in body
        message = decode(payload)
        figures = message.partial if message.partial is not None else message.final
        for value in vars(figures).values():
            for array in value if isinstance(value, tuple) else [value]:
                if isinstance(array, np.ndarray):
                    assert array.dtype.kind in "biuf", array.dtype  # numbers, never text
    for key, value in emission.points:
        assert set(orjson.loads(value)) == {"ts", "lat", "lon", "ward", "mode"}
        assert UNIT.encode() not in key + value and EVENT_ID.encode() not in value
