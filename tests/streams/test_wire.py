"""The messages on ``beatlight.partials``: typed in the code, the same bytes on the wire."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from beatlight.streams.lane import SkippedSpan
from beatlight.streams.presence import FinalDelta
from beatlight.streams.runs import AreaRuns
from beatlight.streams.wire import Kind, LaneStatus, decode, encode_final, encode_reported

pytestmark = pytest.mark.unit

HOUR = 3_600_000_000


def _header(payload: bytes) -> dict:
    return orjson.loads(payload[4 : 4 + int.from_bytes(payload[:4], "big")])


def test_a_reported_message_carries_its_skipped_spans_as_lists_of_four_numbers():
    status = LaneStatus(lane=1, watermark_us=5 * HOUR, first_hour_us=HOUR, offset=41)
    payload = encode_reported(status, 4 * HOUR, [SkippedSpan(2 * HOUR, 4 * HOUR, 3, 17)])
    assert _header(payload) == {
        "kind": "reported",
        "status": {"lane": 1, "watermark_us": 5 * HOUR, "first_hour_us": HOUR, "offset": 41,
                   "caught_up": False, "rejected": {}, "duplicates": 0,
                   "reported_until_us": 4 * HOUR, "skipped": [[2 * HOUR, 4 * HOUR, 3, 17]]},
        "arrays": [],
    }  # fmt: skip
    message = decode(payload)
    assert message.kind is Kind.REPORTED
    assert message.status.skipped == [SkippedSpan(2 * HOUR, 4 * HOUR, 3, 17)]
    assert message.status.reported_until_us == 4 * HOUR


def test_a_final_message_names_its_kind_as_before():
    runs = AreaRuns(np.array([0, 2]), np.array([5, 7]), np.array([6, 9]))
    payload = encode_final(LaneStatus(0, None, None, -1), FinalDelta(None, 10, runs, runs))
    assert _header(payload)["kind"] == "final"
    message = decode(payload)
    assert message.kind is Kind.FINAL and message.final is not None
    assert [c.tolist() for c in message.final.present] == [[0, 2], [5, 7], [6, 9]]


def test_only_ticks_are_encoded_as_ticks():
    from beatlight.streams.wire import encode_tick

    assert {k for k in Kind if k.is_tick} == {Kind.HOUR, Kind.PROVISIONAL, Kind.LIVE}
    with pytest.raises(ValueError, match="not a tick"):
        encode_tick(Kind.FINAL, LaneStatus(0, None, None, -1), None)  # type: ignore[arg-type]
