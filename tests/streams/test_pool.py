"""Work over several processes comes back in the order it went out (``streams/pool.py``)."""

from __future__ import annotations

import time

import pytest

from beatlight.streams.pool import available_cores, ordered_map, read_ahead

pytestmark = pytest.mark.unit


def slow_square(x: int) -> int:
    """Later items finish first: the order must come from the items, not the workers."""
    time.sleep(0.02 * (5 - x % 5))
    if x == 13:
        raise ValueError("thirteen")
    return x * x


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_in_the_items_order(workers):
    assert list(ordered_map(slow_square, range(12), workers=workers)) == [x * x for x in range(12)]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_workers_error_is_raised_at_its_items_turn(workers):
    got = []
    with pytest.raises(ValueError, match="thirteen"):
        for value in ordered_map(slow_square, range(20), workers=workers):
            got.append(value)
    assert got == [x * x for x in range(13)]


def test_items_are_taken_only_a_few_ahead():
    taken = []

    def items():
        for x in range(100):
            taken.append(x)
            yield x

    results = ordered_map(slow_square, (x for x in items() if x != 13), workers=2, ahead=2)
    assert next(results) == 0
    assert len(taken) <= 2 * 2 + 1
    results.close()


def test_read_ahead_keeps_order_and_errors():
    def items():
        yield from range(5)
        raise RuntimeError("broken")

    got = []
    with pytest.raises(RuntimeError, match="broken"):
        for x in read_ahead(items()):
            got.append(x)
    assert got == list(range(5))
    assert list(read_ahead(iter([]))) == []


def test_read_ahead_stops_its_thread_when_the_caller_stops():
    ahead = read_ahead(iter(range(1000)), depth=1)
    assert next(ahead) == 0
    ahead.close()  # joins the producer: it must not wait forever on a full queue


def test_there_is_at_least_one_core():
    assert available_cores() >= 1
