"""Invariants of the presence model, by hypothesis: order and batching never change a figure."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beatlight.configs import model_params
from beatlight.streams.metrics import figures
from beatlight.streams.presence import PresenceLane
from tests.streams.fixtures import Ping, add_pings, as_of_us, tiny_areas

pytestmark = pytest.mark.unit

LATENESS = 3600
GAP = 300

ping = st.builds(
    Ping,
    unit=st.sampled_from(["u1", "u2", "u3"]),
    t=st.integers(0, 6 * 3600).map(float) | st.floats(0, 6 * 3600, allow_nan=False),
    ward=st.sampled_from([-1, 0, 1, 2]),
    mode=st.sampled_from(["foot", "vehicle", "unknown"]),
    cell=st.integers(-1, 11),
)
pings_strategy = st.lists(ping, min_size=1, max_size=120)


def _with_ids(pings: list[Ping]) -> list[Ping]:
    return [Ping(p.unit, p.t, p.ward, p.mode, p.cell, f"e{i:05d}") for i, p in enumerate(pings)]


def _snapshot(lane: PresenceLane, as_of: float):
    partial = lane.partial(as_of_us(as_of))
    figs = figures(partial, lane.areas, lane.params)
    return {
        name: {
            key: np.asarray(getattr(f, key)).tolist()
            for key in (
                "patrol_minutes",
                "foot_minutes",
                "unit_minutes",
                "longest_gap_minutes",
                "distinct_units",
                "visits",
                "koper_visits",
                "coverage",
                "last_seen_us",
            )
        }
        for name, f in figs.items()
    } | {"outside": partial.outside, "accepted": partial.accepted}


def _one_pass(pings: list[Ping], as_of: float) -> dict:
    lane = PresenceLane(tiny_areas(), model_params())
    add_pings(lane, pings)
    return _snapshot(lane, as_of)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pings_strategy, st.randoms(use_true_random=False))
def test_shuffling_never_changes_a_figure(pings, rnd):
    pings = _with_ids(pings)
    as_of = max(p.t for p in pings) + 60
    shuffled = pings[:]
    rnd.shuffle(shuffled)
    assert _one_pass(pings, as_of) == _one_pass(shuffled, as_of)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pings_strategy, st.integers(1, 40), st.randoms(use_true_random=False))
def test_batches_with_finalisation_equal_one_pass(pings, batch, rnd):
    """Arrival with disorder within the allowed lateness, finalised as a worker would."""
    pings = _with_ids(pings)
    as_of = max(p.t for p in pings) + 60
    # Deliver roughly in time order, each ping up to 40 minutes late.
    arrival = sorted(pings, key=lambda p: p.t + rnd.uniform(0, 2400))
    lane = PresenceLane(tiny_areas(), model_params())
    watermark = -np.inf
    delivered: list[Ping] = []
    for start in range(0, len(arrival), batch):
        chunk = [p for p in arrival[start : start + batch] if p.t >= watermark - LATENESS]
        delivered += chunk
        add_pings(lane, chunk)
        if chunk:
            watermark = max(watermark, max(p.t for p in chunk))
            lane.finalise(as_of_us(watermark - LATENESS - GAP))
    assert _snapshot(lane, as_of) == _one_pass(delivered, as_of)


@settings(max_examples=100, deadline=None)
@given(pings_strategy)
def test_rollups_are_never_larger_than_the_sum_of_their_wards(pings):
    pings = _with_ids(pings)
    lane = PresenceLane(tiny_areas(), model_params())
    add_pings(lane, pings)
    as_of = max(p.t for p in pings) + 60
    figs = figures(lane.partial(as_of_us(as_of)), lane.areas, lane.params)
    areas = lane.areas
    for f in figs.values():
        for area in range(areas.n_wards, len(areas)):
            members = areas.wards[area]
            for key in (
                "patrol_minutes",
                "foot_minutes",
                "unit_minutes",
                "distinct_units",
                "visits",
            ):
                values = getattr(f, key)
                assert values[area] <= values[members].sum() + 1e-9, (key, area)
                assert values[area] >= values[members].max() - 1e-9, (key, area)


def test_random_rotation_of_pseudonyms_keeps_state_bounded():
    """Units that vanish (pseudonyms rotated by the feed) are forgotten once their runs expire."""
    lane = PresenceLane(tiny_areas(), model_params())
    rnd = random.Random(3)
    day = 86_400
    for d in range(40):
        pings = [
            Ping(f"d{d}-u{k}", d * day + i * 30.0, rnd.choice([0, 1, 2]), "foot")
            for k in range(5)
            for i in range(0, 2880, 10)
        ]
        add_pings(lane, pings)
        lane.finalise(as_of_us((d + 1) * day - LATENESS - GAP))
        lane.expire(as_of_us((d + 1) * day - LATENESS - 28 * day - 60))
    size = lane.state_size()
    assert size["units"] <= 5 * 30  # about 28 days of rotated pseudonyms, not 40
    assert size["buffered_pings"] < 5 * 2880 / 10 / 4
