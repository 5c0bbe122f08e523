"""The API's snapshot cache over a real store: what it keeps, for how long, and how much."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from beatlight.api.documents import report_document_at
from beatlight.api.snapshots import Snapshots
from tests.api.conftest import HOURS, fill


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stored(engine, documents):
    fill(engine, documents)
    return engine


def test_an_hour_is_read_once_then_served_from_memory_until_its_time_is_up(stored, documents):
    from sqlalchemy.orm import Session

    clock = Clock()
    snapshots = Snapshots(stored, hour_ttl=30.0, monotonic=clock)
    first = snapshots.at(HOURS[0])
    with Session(stored) as session:
        assert first.body == report_document_at(session, HOURS[0])
    assert first.figures == sum(len(e["windows"]) for e in first.entries.values()) > 0
    clock.now = 29.0
    assert snapshots.at(HOURS[0]) is first
    clock.now = 31.0  # a late event may have revised it: checked again, and unchanged
    assert snapshots.at(HOURS[0]) is first


def test_an_hour_revised_is_read_again_once_its_time_is_up(stored, documents):
    clock = Clock()
    snapshots = Snapshots(stored, hour_ttl=30.0, monotonic=clock)
    first = snapshots.at(HOURS[0])
    revised = copy.deepcopy(documents[HOURS[0]])
    revised["wards"][0]["windows"]["24h"]["patrol_minutes"] += 42.0
    fill(stored, {HOURS[0]: revised})
    clock.now = 29.0
    assert snapshots.at(HOURS[0]) is first
    clock.now = 31.0
    again = snapshots.at(HOURS[0])
    assert again.tag != first.tag
    assert again.body["wards"][0]["windows"]["24h"]["patrol_minutes"] == (
        first.body["wards"][0]["windows"]["24h"]["patrol_minutes"] + 42.0
    )


def test_the_cache_holds_at_most_its_figures_dropping_the_oldest_loaded(stored):
    clock = Clock()
    one = Snapshots(stored, monotonic=clock).at(HOURS[0]).figures
    snapshots = Snapshots(stored, hour_ttl=1e9, figures_kept=2 * one, monotonic=clock)
    kept = [snapshots.at(hour) for hour in HOURS[:3]]
    assert snapshots.at(HOURS[2]) is kept[2] and snapshots.at(HOURS[1]) is kept[1]
    assert snapshots.at(HOURS[0]) is not kept[0]  # dropped for the third, read again
    assert snapshots.at(HOURS[1]) is not kept[1]  # ... which dropped the second


def test_one_hour_is_kept_even_when_it_alone_is_over_the_limit(stored):
    snapshots = Snapshots(stored, hour_ttl=1e9, figures_kept=1)
    first = snapshots.at(HOURS[0])
    assert first.figures > 1 and snapshots.at(HOURS[0]) is first


def test_an_hour_not_stored_is_none_and_weighs_nothing(stored):
    snapshots = Snapshots(stored, hours_kept=1)
    assert snapshots.at(datetime(2020, 1, 1, tzinfo=UTC)) is None
    assert snapshots.at(HOURS[0]) is not None
