"""What a producer may send (``streams.outbound``): the SPEC's fields, written again as JSON.

SPEC "The presence event": fields outside the table never reach a topic, and a value
that cannot be valid travels as ``{}``, failing the check the value itself fails.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import numpy as np
import orjson
import pytest

from beatlight.streams.events import RawEvents, parse_lines, validate
from beatlight.streams.outbound import Outbound, Rejection, encode_event, encode_line

pytestmark = pytest.mark.unit

NOW_US = int(datetime(2026, 11, 24, tzinfo=UTC).timestamp()) * 1_000_000
GOOD = {"event_id": "e1", "unit": "u-1", "ts": "2026-11-23T06:00:00Z", "lat": 52.9,
        "lon": -2.1, "mode": "foot", "accuracy_m": 8.0}  # fmt: skip


def _reason(event: dict) -> str | None:
    return validate(RawEvents.from_records([event]), now_us=NOW_US).reason[0]


def _sent(event: dict) -> dict:
    outcome = encode_event(event, max_event_bytes=8192)
    assert isinstance(outcome, Outbound)
    return orjson.loads(outcome.value)


NEVER_VALID = [
    ("unit", {"officer_name": "PC Alex Morgan"}),
    ("unit", [["PC Alex Morgan"]]),
    ("event_id", "e" * 129),
    ("unit", "u" * 65),
    ("mode", "foot" * 20),
    ("lat", math.nan),
    ("lon", -math.inf),
    ("accuracy_m", math.inf),
    ("lat", 2**70),
    ("event_id", {1, 2}),
    ("unit", b"u-1"),
    ("ts", object()),
]


@pytest.mark.parametrize(("name", "value"), NEVER_VALID)
def test_a_value_no_check_accepts_travels_as_an_empty_object_and_fails_the_same_check(name, value):
    event = {**GOOD, name: value, "officer_name": "PC Alex Morgan"}
    sent = _sent(event)
    assert sent == {**GOOD, name: {}}
    assert _reason(sent) == _reason(event) is not None


def test_values_as_python_and_numpy_hold_them_travel_as_json_numbers_and_text():
    class Mode(str, Enum):  # noqa: UP042 - the mixin whose str() is not its value
        FOOT = "foot"

    event = {**GOOD, "lat": np.float64(52.9), "lon": Decimal("-2.1"), "mode": Mode.FOOT,
             "unit": np.str_("u-1"), "accuracy_m": np.int64(8),
             "ts": datetime(2026, 11, 23, 6, tzinfo=UTC)}  # fmt: skip
    assert _sent(event) == {**GOOD, "accuracy_m": 8, "ts": "2026-11-23T06:00:00+00:00"}
    assert _reason(_sent(event)) is None


def test_only_the_spec_fields_travel_keyed_by_the_unit():
    outcome = encode_event({**GOOD, "officer_name": "PC Alex Morgan", "collar": 4711},
                           max_event_bytes=8192)  # fmt: skip
    assert isinstance(outcome, Outbound)
    assert orjson.loads(outcome.value) == GOOD and outcome.key == b"u-1"
    assert outcome.ts == GOOD["ts"]


def test_what_cannot_travel_is_rejected_with_the_batch_reports_reason():
    assert encode_event(["not", "a", "mapping"], max_event_bytes=8192) == Rejection(
        "malformed_json")  # fmt: skip
    assert encode_event({**GOOD, "ts": "t" * 300}, max_event_bytes=200) == Rejection("too_large")
    for line in (b'{"lat":NaN}', b'{"unit":"\xff"}', b'{"event_id":"e', b"[1]", b"x" * 9000):
        wanted = parse_lines([line], max_event_bytes=8192).reason[0]
        assert encode_line(line, max_event_bytes=8192) == Rejection(wanted)
    assert encode_line(b"  \r\n", max_event_bytes=8192) is None  # blank: not an event
