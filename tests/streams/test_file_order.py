"""A file is a complete record (SPEC "Event time, order and lateness").

``beatlight report`` gives the same document, byte for byte, whatever the order of a
file's lines: sorted by time, as delivered, by unit, or shuffled. Every valid event before
``as_of`` counts once per ``event_id``; a device whose clock ran days fast costs no other
unit's pings and cannot move the default ``as_of``. Checked against the naive oracle.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beatlight.configs import lane_config
from beatlight.streams.batch import batch_reports
from beatlight.streams.events import parse_lines
from tests.feeds import FastClock, by_time, by_unit, real_feed, shuffled
from tests.oracle import reference_report
from tests.streams.test_report_vs_oracle import (
    NOW,
    T0,
    _feed,
    _geography,
    _oracle_wards,
    assert_same,
)

pytestmark = pytest.mark.unit

_NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _messy(seed: int, wards, *, days: int = 1, units: int = 6) -> list[bytes]:  # noqa: ANN001
    """A real feed as delivered: the oracle tests' faulty lines, with jittered times,
    2 % re-sent up to 3 h later, and unit u1's clock two days fast for an 8-hour shift."""
    good: list[dict] = []
    broken: list[bytes] = []
    for line in _feed(seed, wards.geometry.to_frame(), days=days, units=units, late=False):
        try:
            event = orjson.loads(line)
            datetime.fromisoformat(event["ts"])
            assert isinstance(event["unit"], str)
        except Exception:  # noqa: BLE001 - every other fault travels as it was
            broken.append(line.encode())
            continue
        good.append(event)
    fast = FastClock("u1", timedelta(days=2), T0 + timedelta(hours=6), T0 + timedelta(hours=14))
    lines = real_feed(good, seed=seed, fast=[fast])
    rng = random.Random(seed)
    for line in broken:
        lines.insert(rng.randrange(len(lines) + 1), line)
    return lines


def _report(geography, lines: list[bytes], *, chunk: int = 700, **options) -> dict:  # noqa: ANN001
    batches = [
        parse_lines(lines[i : i + chunk], max_event_bytes=8192, first_position=i, keep_text=True)
        for i in range(0, len(lines), chunk)
    ]
    return batch_reports(geography, batches, lane_config(), now_us=_NOW_US, **options).document


@pytest.mark.parametrize("seed", range(3))
def test_every_order_of_a_real_feed_gives_the_oracles_figures(tmp_path, seed):
    wards, geography = _geography(tmp_path)
    lines = _messy(seed, wards)
    oracle = reference_report([x.decode() for x in lines], _oracle_wards(wards, geography),
                              now=NOW)  # fmt: skip
    assert oracle["duplicates"] > 0 and oracle["after_as_of"] > 0  # the fast clock's shift
    documents = {
        "as delivered": _report(geography, lines),
        "by time": _report(geography, by_time(lines)),
        "by unit": _report(geography, by_unit(lines)),
        "shuffled": _report(geography, shuffled(lines, seed), spill_rows=400),
    }
    for order, document in documents.items():
        assert "too_late" not in document["rejected"], order
        assert_same(document, oracle, f"{order}: report")
        assert orjson.dumps(document) == orjson.dumps(documents["as delivered"]), order


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    wards, geography = _geography(tmp_path_factory.mktemp("wards"))
    lines = _messy(11, wards, units=4)
    return geography, lines, orjson.dumps(_report(geography, lines))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), chunk=st.integers(1, 900), spill_rows=st.integers(50, 5000))
def test_any_permutation_of_the_lines_gives_the_identical_document(feed, data, chunk, spill_rows):
    geography, lines, expected = feed
    order = data.draw(st.permutations(range(len(lines))), label="order")
    document = _report(geography, [lines[i] for i in order], chunk=chunk, spill_rows=spill_rows)
    assert orjson.dumps(document) == expected


def test_an_explicit_as_of_counts_every_event_before_it_however_late_in_the_file(tmp_path):
    wards, geography = _geography(tmp_path)
    lines = _messy(4, wards)
    as_of = (T0 + timedelta(hours=20)).isoformat()
    oracle = reference_report([x.decode() for x in lines], _oracle_wards(wards, geography),
                              now=NOW, as_of=as_of)  # fmt: skip
    as_of_us = (T0 + timedelta(hours=20) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    ours = _report(geography, list(reversed(lines)), as_of_us=as_of_us)
    assert_same(ours, oracle)
    assert ours["after_as_of"] == oracle["after_as_of"] > 0


def test_partitions_replay_the_file_as_a_stream_receives_it(tmp_path):
    """--partitions N keeps the arrival-order decisions: a feed sorted by unit is late."""
    wards, geography = _geography(tmp_path)
    lines = by_unit(_messy(5, wards))
    as_stream = _report(geography, lines, partitions=4)
    as_record = _report(geography, lines)
    assert as_stream["rejected"].get("too_late", 0) > 100
    assert "too_late" not in as_record["rejected"]
    assert as_record["accepted"] > as_stream["accepted"]


@pytest.mark.parametrize("spill_rows", [50, 400_000])
def test_differing_copies_at_one_time_the_smaller_line_text_counts(tmp_path, spill_rows):
    wards, geography = _geography(tmp_path)
    lines = _messy(8, wards, units=3)
    events = []
    for line in lines[100:160]:
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    wards_frame = wards.geometry.to_frame()
    lon, lat = wards_frame.geometry.iloc[1].representative_point().coords[0]
    # Each copy moved to another ward: which one counts decides the figures.
    copies = [orjson.dumps(e | {"lon": lon, "lat": lat, "accuracy_m": 5}) for e in events
              if isinstance(e, dict) and isinstance(e.get("ts"), str)]  # fmt: skip
    oracle = reference_report([x.decode() for x in lines + copies],
                              _oracle_wards(wards, geography), now=NOW)  # fmt: skip
    assert oracle["duplicates"] >= len(copies)
    for order in (lines + copies, copies + lines, shuffled(lines + copies, 3)):
        assert_same(_report(geography, order, spill_rows=spill_rows), oracle)


def test_a_later_copy_of_an_event_does_not_move_the_default_as_of(tmp_path):
    wards, geography = _geography(tmp_path)
    lon, lat = wards.geometry.iloc[0].representative_point().coords[0]

    def line(event_id: str, unit: str, minute: int) -> bytes:
        ts = (T0 + timedelta(hours=10, minutes=minute)).isoformat()
        return orjson.dumps({"event_id": event_id, "unit": unit, "ts": ts, "lat": lat, "lon": lon})

    lines = [line("e1", "u1", 0), line("e2", "u1", 1), line("e1", "u9", 30)]
    for order in (lines, lines[::-1]):
        document = _report(geography, order)
        assert document["as_of"] == (T0 + timedelta(hours=10, minutes=2)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        assert document["duplicates"] == 1 and document["accepted"] == 2
