"""The patrol simulator: seeded, realistic, faulty in the ways the SPEC expects, streaming.

Long because it pins one generator from every side (determinism, events, faults,
realism, streaming, configuration) over the same small wards and rosters defined at its
top.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import orjson
import pyproj
import pytest
import shapely

from beatlight.errors import BeatlightError
from beatlight.streams.simulate import (
    FAULTS,
    IDENTIFYING_FIELDS,
    SimulationConfig,
    SimulationError,
    plan_units,
    simulate,
    simulate_annotated,
    simulate_lines,
    write_ndjson,
)

pytestmark = pytest.mark.unit

SPEC_FIELDS = {"event_id", "unit", "ts", "lat", "lon", "mode", "accuracy_m"}
REQUIRED = ("event_id", "unit", "ts", "lat", "lon")
PSEUDONYM = re.compile(r"u-[0-9a-f]{8}")
START = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
DELAYED = {"late", "out_of_order", "duplicate"}


@dataclass(frozen=True)
class StandInWards:
    """The attributes of ``geo.boundaries.Wards`` that the simulator uses."""

    codes: np.ndarray
    geometry: gpd.GeoSeries
    metric: gpd.GeoSeries
    metric_crs: str
    area_km2: np.ndarray


def square_wards(columns: int = 4, rows: int = 3, side_m: float = 1500.0) -> StandInWards:
    """A grid of square wards in Stoke-on-Trent, in EPSG:27700."""
    x0, y0 = 388_000.0, 345_000.0
    squares = [
        shapely.box(x0 + i * side_m, y0 + j * side_m, x0 + (i + 1) * side_m, y0 + (j + 1) * side_m)
        for j in range(rows)
        for i in range(columns)
    ]
    metric = gpd.GeoSeries(squares, crs="EPSG:27700")
    codes = np.array([f"E0500{k:04d}" for k in range(len(squares))], dtype=object)
    return StandInWards(
        codes, metric.to_crs("EPSG:4326"), metric, "EPSG:27700", (metric.area / 1e6).to_numpy()
    )


WARDS = square_wards()
CONFIG = SimulationConfig(seed=11, start=START, duration=timedelta(days=2), units=24)
TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


@pytest.fixture(scope="module")
def run() -> list[tuple[dict | str, frozenset[str]]]:
    return list(simulate_annotated(WARDS, CONFIG))


@pytest.fixture(scope="module")
def clean(run) -> list[dict]:
    """Genuine pings delivered as they are, in event-time order."""
    return sorted(genuine(run), key=lambda e: (e["ts"], e["event_id"]))


def genuine(run: Iterable[tuple[dict | str, frozenset[str]]]) -> list[dict]:
    """The events delivered without any fault."""
    return [item for item, labels in run if not labels and isinstance(item, dict)]


def parse_ts(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def ward_of(events: list[dict]) -> np.ndarray:
    """Index of the stand-in ward holding each event (-1 for none)."""
    x, y = TO_METRIC.transform([e["lon"] for e in events], [e["lat"] for e in events])
    inside = shapely.contains_xy(WARDS.metric.to_numpy()[:, None], np.asarray(x), np.asarray(y))
    return np.where(inside.any(axis=0), inside.argmax(axis=0), -1)


def by_unit(events: list[dict]) -> dict[str, list[dict]]:
    units: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        units[event["unit"]].append(event)
    return units


def shifts(events: list[dict], gap_h: float = 3.0) -> list[list[dict]]:
    """Split one unit's time-ordered pings into shifts at gaps longer than any break."""
    out: list[list[dict]] = [[]]
    for event in events:
        if out[-1] and parse_ts(event["ts"]) - parse_ts(out[-1][-1]["ts"]) > timedelta(hours=gap_h):
            out.append([])
        out[-1].append(event)
    return out


# --- determinism ------------------------------------------------------------------


def test_same_seed_and_config_give_identical_output() -> None:
    config = SimulationConfig(seed=5, start=START, duration=timedelta(hours=12), units=10)
    first = list(simulate_lines(WARDS, config))
    assert len(first) > 1000
    assert list(simulate_lines(WARDS, config)) == first


def test_another_seed_gives_another_patrol() -> None:
    config = SimulationConfig(seed=5, start=START, duration=timedelta(hours=3), units=10)
    other = SimulationConfig(seed=6, start=START, duration=timedelta(hours=3), units=10)
    assert list(simulate_lines(WARDS, config)) != list(simulate_lines(WARDS, other))


def test_changing_fault_rates_does_not_move_the_patrols() -> None:
    faulty = SimulationConfig(seed=5, start=START, duration=timedelta(hours=6), units=10)
    perfect = dataclasses.replace(
        faulty,
        duplicate_rate=0.0,
        late_rate=0.0,
        out_of_order_rate=0.0,
        bad_coordinate_rate=0.0,
        missing_field_rate=0.0,
        inaccurate_rate=0.0,
        malformed_rate=0.0,
        identifying_field_rate=0.0,
    )
    assert not any(perfect.fault_rates)
    truth = {e["event_id"]: e for e in genuine(simulate_annotated(WARDS, perfect))}
    seen = genuine(simulate_annotated(WARDS, faulty))
    assert len(seen) > 0.9 * len(truth)
    assert all(truth[e["event_id"]] == e for e in seen)


# --- the events ---------------------------------------------------------------------


def test_events_follow_the_spec_schema(clean) -> None:
    for event in clean:
        assert set(event) <= SPEC_FIELDS and set(REQUIRED) <= set(event)
        assert 1 <= len(event["event_id"]) <= 128 and 1 <= len(event["unit"]) <= 64
        assert event["ts"].endswith("Z")
        assert -90 <= event["lat"] <= 90 and -180 <= event["lon"] <= 180
        assert event.get("mode", "unknown") in {"foot", "cycle", "vehicle", "unknown"}
        assert 3.0 <= event["accuracy_m"] <= 30.0


def test_pings_lie_within_the_simulated_period(run) -> None:
    end = CONFIG.start + CONFIG.duration
    stamps = [parse_ts(e["ts"]) for e, _ in run if isinstance(e, dict) and "ts" in e]
    assert len(stamps) > 10_000
    assert all(CONFIG.start <= ts < end for ts in stamps)


def test_arrival_order_follows_event_time_except_delayed_faults(run) -> None:
    on_time = [
        e["ts"] for e, labels in run if isinstance(e, dict) and "ts" in e and not labels & DELAYED
    ]
    assert on_time == sorted(on_time)


def test_event_ids_are_unique_per_genuine_ping(run) -> None:
    ids = Counter(e["event_id"] for e, labels in run if isinstance(e, dict) and "event_id" in e)
    repeated = {i for i, n in ids.items() if n > 1}
    resent = {
        e.get("event_id") for e, labels in run if isinstance(e, dict) and "duplicate" in labels
    }
    assert repeated <= resent


def test_a_duplicate_re_sends_the_identical_event(run) -> None:
    firsts = {}
    resends = []
    for item, labels in run:
        if "duplicate" in labels:
            resends.append(item)
        elif isinstance(item, dict) and "event_id" in item:
            firsts[item["event_id"]] = item
    assert resends
    for item in resends:
        if isinstance(item, dict) and "event_id" in item:
            assert firsts[item["event_id"]] == item


def test_units_are_opaque_pseudonyms(run) -> None:
    units = {e["unit"] for e, _ in run if isinstance(e, dict) and "unit" in e}
    assert len(units) > 10
    assert all(PSEUDONYM.fullmatch(unit) for unit in units)
    assert {p.unit for p in plan_units(WARDS, CONFIG)} >= units
    for item, _ in run:
        if isinstance(item, str):  # even a broken line carries only a pseudonym
            assert all(PSEUDONYM.fullmatch(u) for u in re.findall(r'"unit":"(u-[^"]*)"', item))


def test_modes_are_mostly_given(clean) -> None:
    modes = Counter(e.get("mode") for e in clean)
    assert (modes[None] + modes["unknown"]) / len(clean) == pytest.approx(0.02, abs=0.01)
    assert modes["foot"] and modes["cycle"] and modes["vehicle"]


def test_ping_intervals_are_jittered_around_the_nominal(clean) -> None:
    gaps = [
        (parse_ts(b["ts"]) - parse_ts(a["ts"])).total_seconds()
        for events in by_unit(clean).values()
        for a, b in itertools.pairwise(events)
    ]
    assert np.median(gaps) == pytest.approx(30.0, abs=3.0)
    assert np.mean((np.array(gaps) >= 23) & (np.array(gaps) <= 37)) > 0.8


# --- faults -------------------------------------------------------------------------


def test_fault_rates_are_roughly_honoured(run) -> None:
    genuine = sum(1 for _, labels in run if "duplicate" not in labels)
    counts = Counter(label for _, labels in run for label in labels)
    for name, rate in zip(FAULTS, CONFIG.fault_rates, strict=True):
        expected = rate * genuine
        assert 0.5 * expected <= counts[name] <= 1.6 * expected + 10, (name, counts[name], expected)


def test_faults_show_in_the_events(run) -> None:
    for item, labels in run:
        if "malformed" in labels:
            assert isinstance(item, str)
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(item)
            continue
        assert isinstance(item, dict)
        if "missing_field" in labels:
            assert not set(REQUIRED) <= set(item)
        if "inaccurate" in labels:
            assert 150 <= item["accuracy_m"] <= 2000
        if "bad_coordinates" in labels and {"lat", "lon"} <= set(item):
            lat, lon = item["lat"], item["lon"]
            broken = isinstance(lat, str) or (lat, lon) == (0.0, 0.0) or abs(lat) > 90
            assert broken or abs(lat) < 10  # or swapped: lat ~ -2, far from Stoke
        if not labels - {"duplicate"}:
            assert set(REQUIRED) <= set(item) and item["accuracy_m"] <= 30


def test_identifying_fields_appear_only_in_identifying_fault_events(run) -> None:
    leaks = 0
    for item, labels in run:
        if not isinstance(item, dict):
            continue
        extra = set(item) - SPEC_FIELDS
        if "identifying" in labels:
            assert extra and extra <= set(IDENTIFYING_FIELDS)
            leaks += 1
        else:
            assert not extra
    assert leaks > 100


def test_late_events_straddle_the_allowed_lateness(run) -> None:
    # Lateness as a worker sees it: how far behind its watermark an event arrives.
    watermark = None
    lateness = []
    for item, labels in run:
        if not isinstance(item, dict) or "ts" not in item:
            continue
        ts = parse_ts(item["ts"])
        if "late" in labels and watermark is not None:
            lateness.append((watermark - ts).total_seconds())
        watermark = ts if watermark is None else max(watermark, ts)
    assert lateness
    assert min(lateness) < 3600 < max(lateness) <= 150 * 60 + 2  # whole-second stamps
    # Lags only in quiet spells and at the end, when the watermark stands still.
    assert np.median(lateness) >= 5 * 60


def test_out_of_order_events_arrive_seconds_to_minutes_late(run) -> None:
    watermark = None
    lateness = []
    for item, labels in run:
        if not isinstance(item, dict) or "ts" not in item:
            continue
        ts = parse_ts(item["ts"])
        if labels == {"out_of_order"} and watermark is not None:
            lateness.append((watermark - ts).total_seconds())
        watermark = ts if watermark is None else max(watermark, ts)
    assert 0 <= np.median(lateness) <= 120 and max(lateness) <= 301


# --- realism ------------------------------------------------------------------------


def test_foot_units_stay_mostly_in_their_assigned_ward(clean) -> None:
    beats = {p.unit: p.beat for p in plan_units(WARDS, CONFIG) if p.mode == "foot"}
    codes = list(WARDS.codes)
    foot = [e for e in clean if e["unit"] in beats]
    wards = dict(zip((e["event_id"] for e in foot), ward_of(foot).tolist(), strict=True))
    checked = 0
    for unit, events in by_unit(foot).items():
        for shift in shifts(events):
            if len(shift) < 100:
                continue
            held = Counter(wards[e["event_id"]] for e in shift)
            ward, count = held.most_common(1)[0]
            assert codes[ward] in beats[unit]
            assert count / len(shift) > 0.85
            checked += 1
    assert checked >= 5


def test_neglected_wards_get_almost_no_foot_presence(clean) -> None:
    plans = plan_units(WARDS, CONFIG)
    beaten = {code for p in plans if p.mode in ("foot", "cycle") for code in p.beat}
    neglected = [k for k, code in enumerate(WARDS.codes) if code not in beaten]
    assert len(neglected) == round(0.15 * len(WARDS.codes))
    foot = [e for e in clean if e.get("mode") == "foot"]
    assert np.isin(ward_of(foot), neglected).mean() < 0.03


def test_vehicles_cross_many_wards(clean) -> None:
    vehicles = {p.unit for p in plan_units(WARDS, CONFIG) if p.mode == "vehicle"}
    events = [e for e in clean if e["unit"] in vehicles]
    wards = ward_of(events)
    crossed = defaultdict(set)
    for event, ward in zip(events, wards.tolist(), strict=True):
        crossed[event["unit"]].add(ward)
    assert np.median([len(w) for w in crossed.values()]) >= 6


@pytest.mark.parametrize(
    ("mode", "moving", "low", "high"), [("foot", 0.5, 1.0, 1.8), ("vehicle", 3.0, 7.0, 15.0)]
)
def test_units_move_at_the_speed_of_their_mode(clean, mode, moving, low, high) -> None:
    units = {p.unit for p in plan_units(WARDS, CONFIG) if p.mode == mode}
    speeds = []
    for events in by_unit([e for e in clean if e["unit"] in units]).values():
        x, y = TO_METRIC.transform([e["lon"] for e in events], [e["lat"] for e in events])
        dt = np.diff([parse_ts(e["ts"]).timestamp() for e in events])
        ok = dt < 60  # consecutive pings, not across a break
        speeds.extend((np.hypot(np.diff(x), np.diff(y))[ok] / dt[ok]).tolist())
    going = np.array(speeds)
    assert low <= np.median(going[going > moving]) <= high  # moving, not pausing or parked


def test_small_hours_are_quieter_than_the_day(clean) -> None:
    hours = Counter(parse_ts(e["ts"]).hour for e in clean)
    small = sum(hours[h] for h in range(2, 5))
    day = sum(hours[h] for h in range(14, 17))
    assert small < 0.6 * day


def test_breaks_and_radio_silences_leave_gaps_on_duty(clean) -> None:
    longest = []
    for events in by_unit(clean).values():
        for shift in shifts(events):
            stamps = [parse_ts(e["ts"]) for e in shift]
            if stamps[-1] - stamps[0] > timedelta(hours=6):
                longest.append(max(b - a for a, b in itertools.pairwise(stamps)))
    assert longest
    assert all(gap >= timedelta(minutes=25) for gap in longest)
    assert max(longest) <= timedelta(hours=3)


# --- streaming and I/O --------------------------------------------------------------


def test_a_long_simulation_streams_its_first_events_quickly() -> None:
    config = SimulationConfig(seed=2, start=START, duration=timedelta(days=3650))
    began = time.perf_counter()
    first = list(itertools.islice(simulate(WARDS, config), 100))
    assert len(first) == 100
    assert time.perf_counter() - began < 5.0


def test_lines_are_ndjson_except_malformed_ones(run) -> None:
    lines = list(simulate_lines(WARDS, CONFIG))
    assert len(lines) == len(run)
    broken = 0
    for line, (item, _) in zip(lines, run, strict=True):
        assert "\n" not in line
        if isinstance(item, str):
            assert line == item
            broken += 1
        else:
            assert orjson.loads(line) == item
    assert broken > 0


def test_write_ndjson_writes_one_line_per_event(tmp_path) -> None:
    config = SimulationConfig(seed=3, start=START, duration=timedelta(hours=2), units=6)
    path = tmp_path / "events.ndjson"
    written = write_ndjson(path, simulate_lines(WARDS, config))
    text = path.read_text(encoding="utf-8")
    assert written == text.count("\n") == len(list(simulate_lines(WARDS, config)))
    buffer = io.StringIO()
    assert write_ndjson(buffer, simulate_lines(WARDS, config)) == written
    assert buffer.getvalue() == text


def test_write_ndjson_to_stdout(capsys) -> None:
    assert write_ndjson("-", ['{"a":1}', '{"b":2}']) == 2
    assert capsys.readouterr().out == '{"a":1}\n{"b":2}\n'


def test_a_single_ward_can_be_simulated() -> None:
    one = square_wards(1, 1)
    config = SimulationConfig(seed=1, start=START, duration=timedelta(hours=12))
    events = genuine(simulate_annotated(one, config))
    assert events
    assert (ward_of(events) == 0).mean() > 0.9


def test_an_empty_geography_is_refused_at_once() -> None:
    with pytest.raises(SimulationError, match="no wards"):
        simulate(square_wards(0, 0), CONFIG)


# --- configuration ------------------------------------------------------------------


def test_default_start_is_the_last_complete_utc_day() -> None:
    config = SimulationConfig()
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert config.start in (midnight - timedelta(days=1), midnight)  # unless at midnight
    assert config.duration == timedelta(days=1)


def test_start_is_normalised_to_utc() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 7, 1, 1, 0, tzinfo=ZoneInfo("Europe/London"))
    assert SimulationConfig(start=local).start == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad",
    [
        {"start": datetime(2026, 11, 16)},
        {"duration": timedelta(0)},
        {"units": 0},
        {"ping_seconds": 1.0},
        {"foot_share": 0.8, "cycle_share": 0.3},
        {"late_rate": 1.5},
        {"neglected_share": -0.1},
    ],
)
def test_config_refuses_what_cannot_be_simulated(bad) -> None:
    with pytest.raises(SimulationError) as error:
        SimulationConfig(**bad)
    assert isinstance(error.value, BeatlightError) and str(error.value)


def test_units_scale_with_the_geography() -> None:
    config = SimulationConfig(start=START)
    assert len(plan_units(WARDS, config)) == 6  # at least six
    assert len(plan_units(square_wards(10, 6), config)) == 30  # one per two wards
    modes = Counter(p.mode for p in plan_units(square_wards(10, 6), config))
    assert modes == {"foot": round(30 * 0.45), "cycle": 3, "vehicle": 30 - 14 - 3}
    assert math.isclose(sum(modes.values()), 30)


# -- hot spots ------------------------------------------------------------------------------

# The seeded output without hot spots, pinned: hot spots must not move anything else.
_NO_HOT_SPOTS_SHA256 = "94cfb6f583cb11e982ee8097cb6a5fddd62d7e28a184553dd38dc1d532633975"
FRIDAY = datetime(2026, 11, 20, 12, tzinfo=UTC)
SPOTS = ((389_100.0, 346_300.0), (392_600.0, 348_900.0), (390_500.0, 345_600.0))


def test_without_hot_spots_the_seeded_output_is_unchanged() -> None:
    config = SimulationConfig(seed=5, start=START, duration=timedelta(hours=6), units=10)
    lines = "\n".join(simulate_lines(WARDS, config)).encode()
    assert hashlib.sha256(lines).hexdigest() == _NO_HOT_SPOTS_SHA256


def minutes_near(config: SimulationConfig, radius_m: float = 75.0) -> np.ndarray:
    """Per hot spot and hour since the start: the minutes of pings within ``radius_m``."""
    pings = [e for e, _ in simulate_annotated(WARDS, config) if isinstance(e, dict)
             and not {"bad_coordinates", "inaccurate", "missing_field"} & _]  # fmt: skip
    x, y = TO_METRIC.transform([e["lon"] for e in pings], [e["lat"] for e in pings])
    hour = [(datetime.fromisoformat(e["ts"]) - config.start) // timedelta(hours=1) for e in pings]
    near = np.zeros((len(SPOTS), int(config.duration / timedelta(hours=1))))
    for k, (sx, sy) in enumerate(SPOTS):
        inside = np.hypot(np.asarray(x) - sx, np.asarray(y) - sy) <= radius_m
        np.add.at(near[k], np.asarray(hour)[inside], config.ping_seconds / 60)
    return near


def test_patrols_stay_a_while_at_hot_spots_more_on_friday_night() -> None:
    config = SimulationConfig(seed=3, start=FRIDAY, duration=timedelta(hours=18), units=24,
                              hot_spots=SPOTS)  # fmt: skip
    plain = minutes_near(dataclasses.replace(config, hot_spots=()))
    visited = minutes_near(config)
    assert visited.sum() > plain.sum() + 3 * 12  # several visits of 12-16 minutes
    # Friday 20:00-02:00 in London is hours 8-14 of a run from Friday noon (UTC = GMT).
    night, day = visited[:, 8:14].sum() / 6, visited[:, :8].sum() / 8
    assert night > 1.5 * day


def test_hot_spots_must_be_finite() -> None:
    with pytest.raises(SimulationError, match="hot spots"):
        SimulationConfig(hot_spots=((1.0, float("nan")),))
