"""A simulated day over the real Staffordshire wards (skips without ../shared/data)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import islice

import orjson
import pytest

from beatlight.configs import lane_config
from beatlight.geo.geography import load_geography
from beatlight.streams.batch import batch_report
from beatlight.streams.events import parse_lines
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.oracle import reference_report
from tests.streams.test_report_vs_oracle import assert_same

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 23, tzinfo=UTC)
NOW_US = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.fixture(scope="module")
def geography(staffordshire):
    return load_geography(staffordshire)


@pytest.fixture(scope="module")
def day(geography):
    config = SimulationConfig(seed=11, start=START, duration=timedelta(days=1))
    return list(simulate_lines(geography.wards, config))


def _report(geography, lines, **kwargs):
    batches = [
        parse_lines(lines[i : i + 20_000], max_event_bytes=8192)
        for i in range(0, len(lines), 20_000)
    ]
    return batch_report(geography, batches, lane_config(), now_us=NOW_US, **kwargs)


def test_all_wards_load_with_their_districts(geography):
    assert len(geography.wards) == 211
    assert geography.wards.area_km2.sum() == pytest.approx(2717, rel=0.01)
    assert len(geography.areas.of_level("district")) == 9


def test_a_simulated_day_reports_sensible_figures(geography, day):
    document = _report(geography, day)
    wards = document["wards"]
    assert len(wards) == 211
    force = document["force"]["windows"]["24h"]
    # Someone is on patrol somewhere in the force area nearly all day.
    assert force["patrol_minutes"] > 0.9 * 24 * 60
    assert force["unit_minutes"] > force["patrol_minutes"]
    assert 0 < force["foot_minutes"] < force["patrol_minutes"]
    statuses = [w["windows"]["24h"]["status"] for w in wards]
    assert statuses.count("green") > 10 and statuses.count("none") + statuses.count("red") > 10
    for ward in wards:
        m = ward["windows"]["24h"]
        assert 0 <= m["patrol_minutes"] <= 24 * 60
        assert m["foot_minutes"] <= m["patrol_minutes"] <= m["unit_minutes"]
        assert 0 <= m["coverage"] <= 1
        assert m["koper_visits"] <= m["visits"]
        assert m["patrol_minutes"] + m["longest_gap_minutes"] <= 24 * 60
    # The feed's faults were caught, and nearly everything else was accepted.
    assert document["accepted"] > 0.95 * len(day)
    assert {"inaccurate", "bad_coordinates", "missing_field", "malformed_json"} <= set(
        document["rejected"]
    )
    assert document["duplicates"] > 0
    fairness = document["fairness"]["24h"]
    assert 0 < fairness["gini_minutes_per_km2"] < 1


def test_no_pseudonym_or_identifying_field_reaches_the_report(geography, day):
    units = set()
    for line in day:
        try:
            units.add(orjson.loads(line)["unit"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
    text = orjson.dumps(_report(geography, day)).decode()
    assert not [u for u in units if isinstance(u, str) and u in text]
    assert "officer" not in text and "collar" not in text and "badge" not in text


def test_six_hours_over_real_wards_match_the_oracle(geography):
    config = SimulationConfig(seed=5, start=START, duration=timedelta(hours=6), units=40)
    lines = list(islice(simulate_lines(geography.wards, config), 6000))
    attributes = geography.attributes
    wards = [
        {
            "code": code,
            "name": geography.wards.names[i],
            "geometry": geography.wards.geometry.iloc[i],
            "neighbourhood": attributes.neighbourhood[i],
            "district": attributes.district[i],
            "district_name": attributes.district_name[i],
            "population": None
            if math.isnan(attributes.population[i])
            else attributes.population[i],
            "target_minutes_per_week": float(attributes.target_minutes_per_week[i]),
        }
        for i, code in enumerate(geography.wards.codes)
    ]
    as_of = (START + timedelta(hours=4)).isoformat()
    as_of_us = (START + timedelta(hours=4) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    oracle = reference_report(lines, wards, as_of=as_of, now=NOW)
    assert oracle["force"]["windows"]["1h"]["patrol_minutes"] > 30
    assert_same(_report(geography, lines, as_of_us=as_of_us), oracle)
