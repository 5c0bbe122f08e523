"""Hand-computed worked examples that pin the oracle (tests/oracle.py) itself.

Geometry: two 1 km squares in EPSG:27700 sharing the edge x = 401100,

    W1 (code E05000001): x 400100..401100, y 300100..301100
    W2 (code E05000002): x 401100..402100, y 300100..301100

transformed to EPSG:4326 for the oracle. Their edges lie mid-cell on the 200 m
grid, so each ward has 6 x 6 = 36 cells and the two share the column ix = 2005
(force: 11 x 6 = 66 cells). Times are on 2026-11-23 (slot = minute).

Long because every example is computed by hand on the two wards above, one section per
SPEC rule: they are checked against that one geometry, read once.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import box

from tests.oracle import parse_ts, reference_report

pytestmark = pytest.mark.unit

TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
W1, W2 = "E05000001", "E05000002"
WEEKLY = 600.0
TARGET = {
    "1h": WEEKLY * 3600 / 604800,
    "24h": WEEKLY * 86400 / 604800,
    "7d": WEEKLY,
    "28d": WEEKLY * 4,
}
WINDOW_MINUTES = {"1h": 60.0, "24h": 1440.0, "7d": 10080.0, "28d": 40320.0}

# interior points (EPSG:27700) and their 200 m cells
IN_W1 = (400150.0, 300150.0)  # cell (2000, 1500)
IN_W1_B = (400550.0, 300950.0)  # cell (2002, 1504)
IN_W2 = (401500.0, 300500.0)  # cell (2007, 1502)
OUTSIDE = (405000.0, 300500.0)


def square(x0: float, y0: float, size: float = 1000.0):
    metric = box(x0, y0, x0 + size, y0 + size)
    return shapely.transform(metric, lambda x, y: TO_LONLAT.transform(x, y), interleaved=False)


def make_wards(**attrs) -> list[dict]:
    # W2 first on purpose: nothing may depend on the input order of wards.
    wards = [
        {"code": W2, "name": "Two", "geometry": square(401100, 300100)},
        {"code": W1, "name": "One", "geometry": square(400100, 300100)},
    ]
    for w in wards:
        for key in (
            "neighbourhood",
            "district",
            "district_name",
            "population",
            "target_minutes_per_week",
        ):
            w[key] = attrs.get(key, {}).get(w["code"])
    return wards


def ev(event_id, unit, ts, xy=IN_W1, lonlat=None, **extra) -> str:
    lon, lat = lonlat if lonlat is not None else TO_LONLAT.transform(*xy)
    return json.dumps(
        {"event_id": event_id, "unit": unit, "ts": ts, "lat": lat, "lon": lon, **extra}
    )


def t(hh: int, mm: int, ss: int = 0) -> str:
    return f"2026-11-23T{hh:02d}:{mm:02d}:{ss:02d}Z"


def report(lines, wards=None, **kw):
    kw.setdefault("now", NOW)
    return reference_report(lines, make_wards() if wards is None else wards, **kw)


def ward(doc, code):
    (w,) = [w for w in doc["wards"] if w["code"] == code]
    return w


def hour(doc, code):
    return ward(doc, code)["windows"]["1h"]


# ------------------------------------------------------------------ basics


def test_two_pings_in_one_slot_count_one_minute_and_earliest_sets_mode():
    doc = report(
        [
            ev("e1", "u1", t(10, 0, 5), IN_W1, mode="foot"),
            ev("e2", "u1", t(10, 0, 30), IN_W1_B, mode="vehicle"),
        ]
    )
    assert doc["as_of"] == "2026-11-23T10:01:00Z"  # slot after the latest event's
    assert doc["slot_seconds"] == 60
    assert doc["accepted"] == 2 and doc["outside"] == 0
    assert doc["rejected"] == {} and doc["duplicates"] == 0
    m = hour(doc, W1)
    assert m["patrol_minutes"] == 1.0
    assert m["unit_minutes"] == 1.0
    assert m["foot_minutes"] == 1.0  # e1 is the earliest ping of the slot
    assert m["longest_gap_minutes"] == 59.0
    assert m["distinct_units"] == 1 and m["visits"] == 1 and m["koper_visits"] == 0
    assert m["coverage"] == 2 / 36
    assert m["last_seen"] == "2026-11-23T10:00:30Z"
    assert m["target_minutes"] == TARGET["1h"]
    assert m["attainment"] == 1.0 / TARGET["1h"]
    assert m["status"] == "red"
    assert ward(doc, W1)["windows"]["28d"]["longest_gap_minutes"] == 40319.0
    force = doc["force"]["windows"]["1h"]
    assert force["coverage"] == 2 / 66
    assert force["target_minutes"] == 2 * TARGET["1h"]


def test_mode_tie_on_ts_goes_to_smallest_event_id():
    doc = report(
        [
            ev("b", "u1", t(10, 0, 5), IN_W1, mode="foot"),
            ev("a", "u1", t(10, 0, 5), IN_W1_B, mode="vehicle"),
        ]
    )
    assert hour(doc, W1)["foot_minutes"] == 0.0
    assert hour(doc, W1)["patrol_minutes"] == 1.0


def test_ward_with_no_presence_has_whole_window_gap_and_status_none():
    doc = report([ev("e1", "u1", t(10, 0), IN_W1)])
    for window, minutes in WINDOW_MINUTES.items():
        m = ward(doc, W2)["windows"][window]
        assert m["longest_gap_minutes"] == minutes
        assert m["patrol_minutes"] == m["foot_minutes"] == m["unit_minutes"] == 0.0
        assert m["distinct_units"] == m["visits"] == m["koper_visits"] == 0
        assert m["coverage"] == 0.0
        assert m["last_seen"] is None
        assert m["attainment"] == 0.0
        assert m["status"] == "none"
        assert doc["fairness"][window]["share_wards_none"] == 0.5


def test_only_outside_pings_and_no_events():
    doc = report([ev("e1", "u1", t(10, 0), OUTSIDE)])
    assert doc["outside"] == 1 and doc["accepted"] == 1
    assert doc["force"]["windows"]["1h"]["status"] == "none"
    assert doc["force"]["windows"]["1h"]["longest_gap_minutes"] == 60.0
    assert doc["fairness"]["1h"]["gini_minutes_per_km2"] is None
    assert doc["fairness"]["1h"]["share_wards_none"] == 1.0
    assert doc["fairness"]["1h"]["share_residents_none"] is None  # no population known
    with pytest.raises(ValueError):
        report([])
    empty = report([], as_of=t(11, 0))
    assert empty["accepted"] == 0 and empty["as_of"] == "2026-11-23T11:00:00Z"


# ---------------------------------------------------------------- gap fill


def test_gap_of_exactly_g_is_filled_and_g_plus_one_second_is_not():
    doc = report(
        [
            ev("a1", "u1", t(10, 0), IN_W1, mode="foot"),
            ev("a2", "u1", t(10, 5), IN_W1, mode="vehicle"),
            ev("b1", "u2", t(10, 0), IN_W2),
            ev("b2", "u2", t(10, 5, 1), IN_W2),
        ],
        wards=make_wards(population={W1: 2000.0, W2: 1000.0}),
    )
    assert doc["as_of"] == "2026-11-23T10:06:00Z"
    one, two = hour(doc, W1), hour(doc, W2)
    assert one["patrol_minutes"] == 6.0  # 10:00 .. 10:05
    assert one["foot_minutes"] == 5.0  # filled slots take the earlier ping's mode
    assert one["visits"] == 1 and one["longest_gap_minutes"] == 54.0
    assert two["patrol_minutes"] == 2.0  # 10:00 and 10:05 only
    assert two["visits"] == 2 and two["longest_gap_minutes"] == 54.0
    assert one["status"] == "green" and two["status"] == "red"
    # fairness: per km2 [6, 2] -> Gini 0.25; per 1000 residents [3, 2] -> 0.1
    f = doc["fairness"]["1h"]
    assert f["gini_minutes_per_km2"] == pytest.approx(0.25, rel=1e-6)
    assert f["gini_minutes_per_1000_residents"] == pytest.approx(0.1)
    assert f["share_wards_red"] == 0.5 and f["share_residents_red"] == 1000 / 3000
    assert f["share_wards_none"] == 0.0 and f["share_residents_none"] == 0.0
    f24 = doc["fairness"]["24h"]
    assert f24["share_wards_red"] == 1.0 and f24["share_residents_red"] == 1.0


def test_gap_fill_needs_consecutive_pings_of_the_unit_in_the_same_ward():
    doc = report(
        [
            # u1: W1, outside, W1 -> the outside ping breaks the pair
            ev("a1", "u1", t(10, 0), IN_W1),
            ev("a2", "u1", t(10, 1), OUTSIDE),
            ev("a3", "u1", t(10, 2), IN_W1),
            # u2: W2, W1, W2 -> no pair in one ward
            ev("b1", "u2", t(10, 0), IN_W2),
            ev("b2", "u2", t(10, 2), IN_W1),
            ev("b3", "u2", t(10, 4), IN_W2),
            # u3 and u4 are different units: never paired
            ev("c1", "u3", t(10, 10), IN_W2),
            ev("d1", "u4", t(10, 13), IN_W2),
        ]
    )
    assert doc["outside"] == 1
    assert hour(doc, W1)["patrol_minutes"] == 2.0  # 10:00, 10:02
    assert hour(doc, W1)["unit_minutes"] == 3.0  # u1 x2, u2 x1
    assert hour(doc, W2)["patrol_minutes"] == 4.0  # 10:00, 10:04, 10:10, 10:13
    assert hour(doc, W2)["distinct_units"] == 3
    # Gap fill is per ward: u2 moving W2 -> W1 -> W2 fills nothing, not even in the
    # force roll-up, so the force has slots 10:00, 10:02, 10:04, 10:10, 10:13 only.
    assert doc["force"]["windows"]["1h"]["patrol_minutes"] == 5.0


def test_force_rollup_takes_the_union_of_ward_unit_slots():
    doc = report(
        [
            ev("a1", "u1", t(10, 0), IN_W1),
            ev("a3", "u1", t(10, 2), IN_W1),
            ev("b1", "u2", t(10, 4), IN_W2),
        ],
        as_of=t(11, 0),
    )
    # u1 10:00 + filled 10:01 + 10:02 in W1; u2 10:04 in W2
    assert doc["force"]["windows"]["1h"]["patrol_minutes"] == 4.0
    assert doc["force"]["windows"]["1h"]["visits"] == 2
    assert doc["force"]["windows"]["1h"]["longest_gap_minutes"] == 55.0  # 10:05 .. 10:59


# --------------------------------------------------------- ward assignment


def test_ping_on_shared_boundary_vertex_goes_to_lowest_code():
    wards = make_wards()
    w1_geometry = [w for w in wards if w["code"] == W1][0]["geometry"]
    # W1's exterior starts at its lower-right corner (401100, 300100), a vertex of W2 too
    vertex = [
        c
        for c in w1_geometry.exterior.coords
        if c in set(w2c for w in wards if w["code"] == W2 for w2c in w["geometry"].exterior.coords)
    ]
    assert len(set(vertex)) == 2
    lon, lat = vertex[0]
    doc = report([ev("e1", "u1", t(10, 0), lonlat=(lon, lat))], wards=wards)
    assert doc["outside"] == 0
    assert hour(doc, W1)["patrol_minutes"] == 1.0
    assert hour(doc, W2)["patrol_minutes"] == 0.0
    assert hour(doc, W1)["last_seen"] == "2026-11-23T10:00:00Z"


# ---------------------------------------------------------------- idempotency


def test_duplicate_event_id_is_ignored_silently():
    doc = report(
        [
            ev("e1", "u1", t(10, 0), IN_W1),
            ev("e1", "u9", t(10, 30), IN_W2),  # same id, different content: ignored
            ev("e2", "u1", t(10, 0), IN_W1, lat=91),  # rejected...
            ev("e2", "u1", t(10, 1), IN_W1),  # ...so this is not a duplicate
        ]
    )
    assert doc["duplicates"] == 1
    assert doc["rejected"] == {"bad_coordinates": 1}
    assert doc["accepted"] == 2
    assert hour(doc, W2)["patrol_minutes"] == 0.0
    assert hour(doc, W1)["patrol_minutes"] == 2.0
    assert doc["as_of"] == "2026-11-23T10:02:00Z"


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=5))
def test_arrival_order_and_replays_change_no_figure(rnd: random.Random, replays: int):
    lines = [
        ev("a1", "u1", t(10, 0), IN_W1, mode="foot"),
        ev("a2", "u1", t(10, 4), IN_W1),
        ev("a3", "u1", t(10, 6), IN_W2),
        ev("b1", "u2", t(10, 1), IN_W2, mode="cycle"),
        ev("b2", "u2", t(10, 1, 30), IN_W1_B),
        ev("b3", "u2", t(10, 3), OUTSIDE),
        ev("c1", "u3", t(10, 59), IN_W2),
    ]
    baseline = report(lines, as_of=t(11, 0))
    shuffled = lines + [rnd.choice(lines) for _ in range(replays)]
    rnd.shuffle(shuffled)
    doc = report(shuffled, as_of=t(11, 0))
    assert doc["duplicates"] == replays
    doc["duplicates"] = 0
    assert doc == baseline


# ------------------------------------------------------------------ roll-ups


def test_unit_in_two_wards_of_one_neighbourhood_in_one_slot_counts_once():
    wards = make_wards(
        neighbourhood={W1: "N1", W2: "N1"},
        district={W1: "D1", W2: "D1"},
        district_name={W2: "North"},
        population={W1: 1000.0},
        target_minutes_per_week={W2: 300.0},
    )
    doc = report(
        [
            ev("e1", "u1", t(10, 0, 10), IN_W1),
            ev("e2", "u1", t(10, 0, 40), IN_W2),
        ],
        wards=wards,
    )
    assert hour(doc, W1)["unit_minutes"] == 1.0 and hour(doc, W2)["unit_minutes"] == 1.0
    (n,) = doc["neighbourhoods"]
    assert n["code"] == n["name"] == "N1" and n["wards"] == [W1, W2]
    assert n["population"] is None  # W2's is unknown
    assert n["target_minutes_per_week"] == 900.0
    assert n["area_km2"] == pytest.approx(2.0, rel=1e-6)
    nm = n["windows"]["1h"]
    assert nm["patrol_minutes"] == 1.0 and nm["unit_minutes"] == 1.0
    assert nm["distinct_units"] == 1 and nm["visits"] == 1
    assert nm["target_minutes"] == 900.0 * 3600 / 604800
    (d,) = doc["districts"]
    assert d["code"] == "D1" and d["name"] == "North" and d["wards"] == [W1, W2]
    assert d["windows"]["1h"]["unit_minutes"] == 1.0
    assert doc["force"]["code"] == "force" and doc["force"]["name"] == "Force area"
    assert doc["force"]["windows"]["1h"]["unit_minutes"] == 1.0
    assert ward(doc, W1)["neighbourhood"] == "N1" and ward(doc, W1)["district"] == "D1"
    assert ward(doc, W2)["target_minutes_per_week"] == 300.0
    assert ward(doc, W1)["population"] == 1000.0


def test_defaults_each_ward_its_own_neighbourhood_and_no_districts():
    doc = report([ev("e1", "u1", t(10, 0), IN_W1), ev("e2", "u2", t(10, 0), IN_W2)])
    assert [n["code"] for n in doc["neighbourhoods"]] == [W1, W2]
    assert [w["code"] for w in doc["wards"]] == [W1, W2]
    assert doc["districts"] == []
    assert ward(doc, W2)["neighbourhood"] == W2 and ward(doc, W2)["district"] is None
    assert ward(doc, W1)["area_km2"] == pytest.approx(1.0, rel=1e-6)
    assert doc["force"]["windows"]["1h"]["unit_minutes"] == 2.0
    assert doc["force"]["windows"]["1h"]["patrol_minutes"] == 1.0


# -------------------------------------------------------------------- windows


def test_event_exactly_at_as_of_is_ignored():
    doc = report(
        [
            ev("e6", "u5", "2026-11-23T09:59:59Z", IN_W1),  # slot 09:59: 24h window only
            ev("e1", "u1", "2026-11-23T10:59:59.999999Z", IN_W1),
            ev("e2", "u2", t(11, 0), IN_W2),
            ev("e3", "u3", t(11, 0), OUTSIDE),
            ev("e4", "u4", t(10, 58), IN_W1),
            ev("e5", "u4", t(11, 1), IN_W1),  # no fill past as_of
        ],
        as_of=t(11, 0),
    )
    assert doc["accepted"] == 3  # e1, e4, e6
    assert doc["outside"] == 0
    assert hour(doc, W2)["status"] == "none"
    one = hour(doc, W1)
    assert one["patrol_minutes"] == 2.0  # 10:58, 10:59
    assert one["last_seen"] == "2026-11-23T10:59:59.999999Z"
    assert ward(doc, W1)["windows"]["24h"]["patrol_minutes"] == 3.0
    assert ward(doc, W1)["windows"]["24h"]["distinct_units"] == 3


def test_visit_belongs_to_the_window_of_its_first_slot():
    doc = report(
        [
            ev("a1", "u1", t(9, 58), IN_W1),
            ev("a2", "u1", t(10, 2), IN_W1),  # visit 09:58 .. 10:02 starts before the 1h window
            ev("b1", "u2", t(10, 59, 59), IN_W1),  # visit in the last slot
        ],
        as_of=t(11, 0),
    )
    one = hour(doc, W1)
    assert one["patrol_minutes"] == 4.0  # 10:00, 10:01, 10:02, 10:59
    assert one["visits"] == 1  # only u2's
    assert one["distinct_units"] == 2
    assert one["longest_gap_minutes"] == 56.0  # 10:03 .. 10:58
    day = ward(doc, W1)["windows"]["24h"]
    assert day["visits"] == 2 and day["patrol_minutes"] == 6.0


def test_koper_visit_threshold():
    doc = report(
        [
            # u1: 10:00 .. 10:09 through gap fill = 10 slots = 10 minutes -> Koper
            ev("a1", "u1", t(10, 0), IN_W1),
            ev("a2", "u1", t(10, 5), IN_W1),
            ev("a3", "u1", t(10, 9), IN_W1),
            # u2: 10:00 .. 10:08 = 9 minutes -> a visit, not Koper
            ev("b1", "u2", t(10, 0), IN_W2),
            ev("b2", "u2", t(10, 5), IN_W2),
            ev("b3", "u2", t(10, 8), IN_W2),
        ],
        as_of=t(11, 0),
    )
    assert hour(doc, W1)["visits"] == 1 and hour(doc, W1)["koper_visits"] == 1
    assert hour(doc, W1)["patrol_minutes"] == 10.0
    assert hour(doc, W2)["visits"] == 1 and hour(doc, W2)["koper_visits"] == 0
    assert hour(doc, W2)["patrol_minutes"] == 9.0
    assert doc["force"]["windows"]["1h"]["koper_visits"] == 1
    assert doc["force"]["windows"]["1h"]["unit_minutes"] == 19.0
    assert doc["force"]["windows"]["1h"]["visits"] == 2
    lines = [
        ev("b1", "u2", t(10, 0), IN_W2),
        ev("b2", "u2", t(10, 5), IN_W2),
        ev("b3", "u2", t(10, 8), IN_W2),
    ]
    assert hour(report(lines, as_of=t(11, 0), koper_minutes=9), W2)["koper_visits"] == 1


def test_status_thresholds_and_pro_rata_target():
    # weekly target 60 min -> 1h target = 60 * 3600 / 604800 = 0.357142... minutes;
    # one slot = 1 min -> green. Weekly target 0 -> attainment None, status green.
    wards = make_wards(target_minutes_per_week={W1: 60.0, W2: 0.0})
    doc = report(
        [ev("e1", "u1", t(10, 0), IN_W1), ev("e2", "u1", t(10, 30), IN_W2)],
        wards=wards,
        as_of=t(11, 0),
    )
    assert hour(doc, W1)["target_minutes"] == 60.0 * 3600 / 604800
    assert hour(doc, W1)["status"] == "green"
    assert hour(doc, W2)["attainment"] is None and hour(doc, W2)["status"] == "green"
    # 7d: W1 target 60, patrol 1 -> red; 28d target 240 -> red
    assert ward(doc, W1)["windows"]["7d"]["status"] == "red"
    # amber boundary: 45 of 60 minutes in 7d -> attainment 0.75 -> amber
    lines = [ev(f"x{i}", "u1", f"2026-11-23T10:{i:02d}:00Z", IN_W1) for i in range(45)]
    doc = report(lines, wards=wards, as_of=t(11, 0))
    assert ward(doc, W1)["windows"]["7d"]["attainment"] == 0.75
    assert ward(doc, W1)["windows"]["7d"]["status"] == "amber"


# --------------------------------------------------------------- validation

GOOD = {"event_id": "g", "unit": "u1", "ts": t(10, 0)}


def line(**fields) -> str:
    lon, lat = TO_LONLAT.transform(*IN_W1)
    obj = {**GOOD, "lat": lat, "lon": lon, **fields}
    return json.dumps({k: v for k, v in obj.items() if v is not DROP}, ensure_ascii=False)


DROP = object()


def sized(n_bytes: int) -> str:
    """A valid event line of exactly n_bytes UTF-8 bytes (padded with 'é', 2 bytes)."""
    base = line(pad="")
    missing = n_bytes - len(base.encode())
    assert missing >= 0
    text = line(pad="é" * (missing // 2) + "x" * (missing % 2))
    assert len(text.encode()) == n_bytes
    return text


REJECTIONS = [
    # too_large (checked first, even before JSON parsing)
    (sized(8193), "too_large"),
    ("{" * 9000, "too_large"),
    # malformed_json
    ("not json", "malformed_json"),
    ("", "malformed_json"),
    ("[1, 2]", "malformed_json"),
    ('"a string"', "malformed_json"),
    (line()[:-1], "malformed_json"),
    (line().replace('"lat": ', '"lat": NaN, "x": '), "malformed_json"),  # NaN is not JSON
    # missing_field (absent or null), before any other check
    (line(unit=DROP), "missing_field"),
    (line(lat=None), "missing_field"),
    (line(ts=None, event_id=""), "missing_field"),
    (line(lon=DROP, lat="x"), "missing_field"),
    # bad_event_id
    (line(event_id=""), "bad_event_id"),
    (line(event_id="e" * 129), "bad_event_id"),
    (line(event_id=7), "bad_event_id"),
    (line(event_id="e" * 129, ts="yesterday"), "bad_event_id"),
    # bad_unit
    (line(unit=""), "bad_unit"),
    (line(unit="u" * 65), "bad_unit"),
    (line(unit=["u"]), "bad_unit"),
    # bad_timestamp
    (line(ts="2026-11-23T10:00:00"), "bad_timestamp"),  # no offset
    (line(ts="2026-11-23"), "bad_timestamp"),
    (line(ts="2026-02-30T10:00:00Z"), "bad_timestamp"),
    (line(ts="2026-11-23T24:00:00Z"), "bad_timestamp"),
    (line(ts="2026-11-23T10:00:60Z"), "bad_timestamp"),
    (line(ts="2026-11-23T10:00:00+24:00"), "bad_timestamp"),
    (line(ts="2026-11-23T10:00:00+0100"), "bad_timestamp"),
    (line(ts="2026-11-23T10:00:00.Z"), "bad_timestamp"),
    (line(ts="2026-11-23T10:00:00Z\n"), "bad_timestamp"),
    (line(ts="２０２６-11-23T10:00:00Z"), "bad_timestamp"),  # non-ASCII digits
    (line(ts=1795428000), "bad_timestamp"),
    (line(ts="2026-11-23T10:00:00", lat=91), "bad_timestamp"),
    # bad_coordinates
    (line(lat=91), "bad_coordinates"),
    (line(lat=-90.000001), "bad_coordinates"),
    (line(lon=180.5), "bad_coordinates"),
    (line(lat="52.9"), "bad_coordinates"),
    (line(lat=True), "bad_coordinates"),
    (line(lat=0, lon=0), "bad_coordinates"),
    (line(lat=0.0, lon=-0.0), "bad_coordinates"),
    (line().replace('"lat": ', '"lat": 1e999, "x": '), "bad_coordinates"),  # valid JSON, inf
    (line(lat=10**400), "bad_coordinates"),  # a valid JSON integer, out of range
    (line(lat=91, mode="walking"), "bad_coordinates"),
    # bad_mode
    (line(mode="walking"), "bad_mode"),
    (line(mode="Foot"), "bad_mode"),
    (line(mode=1), "bad_mode"),
    (line(mode="walking", accuracy_m=-1), "bad_mode"),
    # bad_accuracy
    (line(accuracy_m=-1), "bad_accuracy"),
    (line(accuracy_m="5"), "bad_accuracy"),
    (line(accuracy_m=True), "bad_accuracy"),
    (line().replace('"lat": ', '"accuracy_m": 1e999, "lat": '), "bad_accuracy"),
    # inaccurate (equal to the maximum is fine)
    (line(accuracy_m=100.000001), "inaccurate"),
    (line(accuracy_m=101, ts=t(13, 0)), "inaccurate"),  # before future
    (line(accuracy_m=10**400), "inaccurate"),
    # future: now = 12:00, tolerance 5 min
    (line(ts="2026-11-23T12:05:00.000001Z"), "future"),
    (line(ts="2026-11-23T14:05:01+02:00"), "future"),  # = 12:05:01Z
]

ACCEPTED_LINES = [
    sized(8192),
    line(event_id="e" * 128, unit="u" * 64),
    line(ts="2026-11-23 10:00:00+01:00"),
    line(ts="2026-11-23t10:00:00z"),
    line(ts="2026-11-23T10:00:00.1234567-00:00"),
    line(ts="2026-11-23T13:05:00+01:00"),  # = 12:05Z, not after now + 5 min
    line(lat=53, lon=-2),  # JSON integers are numbers (this point is in no ward)
    line(mode=None),
    line(mode="cycle", accuracy_m=100),
    line(accuracy_m=None),
    line(accuracy_m=0),
    line(extra_field={"anything": [1, 2]}),
]


@pytest.mark.parametrize("raw, reason", REJECTIONS)
def test_each_rejection_reason(raw, reason):
    doc = report([raw], as_of=t(13, 0))
    assert doc["rejected"] == {reason: 1}
    assert doc["accepted"] == 0 and doc["duplicates"] == 0


@pytest.mark.parametrize("raw", ACCEPTED_LINES)
def test_valid_lines_are_accepted(raw):
    doc = report([raw], as_of=t(13, 0))
    assert doc["rejected"] == {} and doc["accepted"] == 1


def test_a_file_is_a_complete_record_nothing_is_late_and_the_earliest_copy_counts():
    doc = report(
        [
            ev("late0", "u1", t(9, 0), IN_W1),
            ev("w", "u1", t(11, 0), IN_W1),  # a later copy of "w" (below) counts
            ev("eq", "u1", t(10, 0), IN_W1),
            ev("late", "u1", "2026-11-23T09:59:59.999999Z", IN_W1),  # 2 h behind: counts
            ev("bad", "u1", t(11, 30), IN_W1, lat=91),  # rejected
            ev("ok", "u1", "2026-11-23T10:00:00.5Z", IN_W1),
            ev("far", "u1", t(11, 59), IN_W1, accuracy_m=500),  # rejected
            ev("ok2", "u1", t(10, 10), IN_W1),
            ev("late0", "u1", t(10, 20), IN_W2),  # a copy of an earlier event: duplicate
            ev("dup-late", "u1", t(9, 0), IN_W1),
            ev("w", "u1", t(9, 0), IN_W1),  # the earliest copy of "w": this one counts
        ]
    )
    assert doc["rejected"] == {"bad_coordinates": 1, "inaccurate": 1}
    assert doc["duplicates"] == 2
    assert doc["accepted"] == 7
    assert doc["as_of"] == "2026-11-23T10:11:00Z"  # "w" at 11:00 was not the copy that counts
    assert hour(doc, W2)["patrol_minutes"] == 0.0


def test_differing_copies_at_one_time_the_smaller_line_text_counts():
    first = ev("x", "u1", t(10, 0), IN_W2)
    second = ev("x", "u1", t(10, 0), IN_W1)
    winner = min(first, second)
    ward = W2 if winner == first else W1
    for lines in ([first, second], [second, first]):
        doc = report(lines, as_of=t(11, 0))
        assert doc["duplicates"] == 1 and doc["accepted"] == 1
        assert hour(doc, ward)["patrol_minutes"] == 1.0


def test_a_unit_with_a_clock_over_the_lateness_ahead_does_not_move_the_default_as_of():
    lines = [ev(f"a{i}", f"u{i % 3}", t(10, i), IN_W1) for i in range(30)]
    lines.append(ev("fast", "u9", t(11, 50), IN_W2))  # 81 min ahead, within the wall clock
    doc = report(lines)
    assert doc["as_of"] == "2026-11-23T10:30:00Z"
    assert doc["after_as_of"] == 1 and doc["accepted"] == 30


def test_counts_of_repeated_reasons_and_mixed_input():
    doc = report(["", "x", ev("e1", "u1", t(10, 0), IN_W1), line(lat=91), line(lat=92)])
    assert doc["rejected"] == {"malformed_json": 2, "bad_coordinates": 2}
    assert doc["accepted"] == 1


def test_timestamps_normalise_to_utc_and_truncate_to_microseconds():
    assert parse_ts("2026-11-23T11:00:00+01:00") == parse_ts("2026-11-23T10:00:00Z")
    assert parse_ts("2026-11-23T09:30:00-00:30") == parse_ts("2026-11-23T10:00:00Z")
    assert parse_ts("2026-11-23T10:00:00.1234569Z") == parse_ts("2026-11-23T10:00:00.123456Z")
    assert parse_ts("2026-11-23T10:00:00.5Z") == parse_ts("2026-11-23T10:00:00.500000Z")
    doc = report([ev("e1", "u1", "2026-11-23T11:00:00.1234567+01:00", IN_W1)])
    assert hour(doc, W1)["last_seen"] == "2026-11-23T10:00:00.123456Z"
    assert doc["as_of"] == "2026-11-23T10:01:00Z"
    doc = report([ev("e1", "u1", t(10, 0), IN_W1)], as_of="2026-11-23T10:30:30.5Z")
    assert doc["as_of"] == "2026-11-23T10:30:30.500000Z"
    # window [09:30:30.5, 10:30:30.5): slots 09:31 .. 10:30 -> 60 slots
    assert hour(doc, W1)["longest_gap_minutes"] == 30.0  # 10:01 .. 10:30
    with pytest.raises(ValueError):
        report([ev("e1", "u1", t(10, 0), IN_W1)], as_of="tomorrow")
