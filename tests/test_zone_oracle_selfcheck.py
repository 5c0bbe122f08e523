"""Hand-computed worked examples that pin the zone oracle (tests/zone_oracle.py) itself.

Zones in EPSG:27700 (slot = minute):

    A "Town centre": x 400000..400600, y 300000..300600; schedule Fri 20:00-02:00,
      session target 30 min, max gap 60 min, weekly target 600 min
    B "Bus station": x 400100..400250, y 300100..300250 (inside A); no target, no schedule

Points: AB in both, A_ONLY in A alone, OUT in neither. Europe/London in 2026:
clocks go back on Sunday 25 October (02:00 BST -> 01:00 GMT) and forward on
Sunday 29 March (01:00 GMT -> 02:00 BST). November is GMT, so local = UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Transformer
from shapely.geometry import Polygon, box

from tests.oracle import WEEK_SECONDS
from tests.zone_oracle import reference_report_with_zones, reference_zones

pytestmark = pytest.mark.unit

TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
AB = (400175.0, 300175.0)
A_ONLY = (400500.0, 300500.0)
OUT = (401000.0, 300500.0)
ZONE_A = {
    "code": "A",
    "name": "Town centre",
    "kind": "town_centre",
    "geometry": box(400000, 300000, 400600, 300600),
    "crs": "EPSG:27700",
    "target_minutes_per_week": 600.0,
    "schedule": "Fri 20:00-02:00",
    "session_target_minutes": 30.0,
    "max_gap_minutes": 60.0,
}
ZONE_B = {
    "code": "B",
    "name": "Bus station",
    "geometry": box(400100, 300100, 400250, 300250),
    "crs": "EPSG:27700",
}
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def ev(event_id: str, unit: str, ts: str, xy=A_ONLY, mode: str = "foot") -> str:
    lon, lat = TO_LONLAT.transform(*xy)
    return json.dumps(
        {"event_id": event_id, "unit": unit, "ts": ts, "lat": lat, "lon": lon, "mode": mode}
    )


def every_minute(unit: str, first: str, last: str, xy=A_ONLY, step_s: int = 60) -> list[str]:
    """Pings of one unit from ``first`` to ``last`` (UTC, inclusive), every ``step_s`` seconds."""
    t = datetime.fromisoformat(first.replace("Z", "+00:00"))
    end = datetime.fromisoformat(last.replace("Z", "+00:00"))
    lines = []
    while t <= end:
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(ev(f"{unit}-{stamp}", unit, stamp, xy))
        t += timedelta(seconds=step_s)
    return lines


def zones_doc(lines, zones=(ZONE_A, ZONE_B), **kw):
    kw.setdefault("now", NOW)
    return {z["code"]: z for z in reference_zones(lines, list(zones), **kw)}


def session(doc_zone: dict, start: str) -> dict:
    (found,) = [s for s in doc_zone["sessions"] if s["start"] == start]
    return found


# ---------------------------------------------------------------- Z1, Z2: windows


def test_overlapping_zones_both_count_and_gap_fill_needs_both_pings_in_the_zone():
    lines = [
        ev("e1", "u1", "2026-11-23T10:00:10Z", AB),
        ev("e2", "u1", "2026-11-23T10:03:10Z", A_ONLY),  # A only: fills 10:01, 10:02 in A, not B
        ev("e3", "u1", "2026-11-23T10:04:10Z", AB),
        ev("e4", "u2", "2026-11-23T10:00:30Z", AB, mode="vehicle"),
    ]
    doc = zones_doc(lines, as_of="2026-11-23T11:00:00Z")
    a, b = doc["A"]["windows"]["1h"], doc["B"]["windows"]["1h"]
    target = 600.0 * 3600 / WEEK_SECONDS
    assert a == {
        "patrol_minutes": 5.0,  # 10:00-10:04
        "foot_minutes": 5.0,  # gap-filled slots take u1's foot
        "unit_minutes": 6.0,  # u2 adds 10:00
        "longest_gap_minutes": 55.0,  # 10:05-10:59
        "distinct_units": 2,
        "visits": 2,
        "koper_visits": 0,
        "last_seen": "2026-11-23T10:04:10Z",
        "target_minutes": target,
        "attainment": 5.0 / target,
        "status": "green",
    }
    assert b["patrol_minutes"] == 2.0  # 10:00 and 10:04: no fill through A-only e2
    assert b["unit_minutes"] == 3.0 and b["foot_minutes"] == 2.0
    assert b["visits"] == 3 and b["longest_gap_minutes"] == 55.0
    assert "coverage" not in a and "coverage" not in b


def test_a_zone_with_no_target_has_null_attainment_and_status():
    doc = zones_doc([ev("e1", "u1", "2026-11-23T10:00:00Z", AB)], as_of="2026-11-23T11:00:00Z")
    for window in doc["B"]["windows"].values():
        assert window["target_minutes"] is None
        assert window["attainment"] is None and window["status"] is None
    assert doc["B"]["windows"]["1h"]["patrol_minutes"] == 1.0
    assert doc["B"]["kind"] is None and doc["B"]["sessions"] == []
    assert doc["A"]["windows"]["28d"]["status"] == "red"  # 1 of 2,400 minutes


def test_an_outside_ping_between_breaks_the_fill_and_a_gap_of_exactly_g_is_filled():
    lines = [
        ev("e1", "u1", "2026-11-23T10:00:00Z"),
        ev("e2", "u1", "2026-11-23T10:02:00Z", OUT),
        ev("e3", "u1", "2026-11-23T10:04:00Z"),
        ev("e4", "u2", "2026-11-23T10:10:00Z"),
        ev("e5", "u2", "2026-11-23T10:15:00Z"),  # 300 s: 10:11-10:14 filled
        ev("e6", "u3", "2026-11-23T10:20:00Z"),
        ev("e7", "u3", "2026-11-23T10:25:01Z"),  # 301 s: not filled
    ]
    hour = zones_doc(lines, as_of="2026-11-23T11:00:00Z")["A"]["windows"]["1h"]
    assert hour["patrol_minutes"] == 2 + 6 + 2
    assert hour["visits"] == 2 + 1 + 2


def test_events_at_or_after_as_of_and_repeated_event_ids_do_not_count():
    lines = [
        ev("e1", "u1", "2026-11-23T10:00:00Z"),
        ev("e1", "u1", "2026-11-23T10:30:00Z"),  # a later copy of e1: a duplicate
        ev("e2", "u1", "2026-11-23T11:00:00Z"),  # at as_of
    ]
    hour = zones_doc(lines, as_of="2026-11-23T11:00:00Z")["A"]["windows"]["1h"]
    assert hour["patrol_minutes"] == 1.0 and hour["last_seen"] == "2026-11-23T10:00:00Z"


# ---------------------------------------------------------------- Z3: sessions


def test_a_session_over_midnight():
    lines = every_minute("u1", "2026-11-20T23:50:00Z", "2026-11-21T00:10:00Z", step_s=300)
    a = zones_doc(lines, as_of="2026-11-21T06:00:00Z")["A"]
    # Fridays whose session ends in the 28 days before Sat 21 Nov 06:00 (from Sat 24 Oct 06:00):
    # 23 Oct's ends at 01:00 on the 24th (BST), too early.
    assert [(s["start"], s["end"]) for s in a["sessions"]] == [
        ("2026-10-30T20:00:00Z", "2026-10-31T02:00:00Z"),
        ("2026-11-06T20:00:00Z", "2026-11-07T02:00:00Z"),
        ("2026-11-13T20:00:00Z", "2026-11-14T02:00:00Z"),
        ("2026-11-20T20:00:00Z", "2026-11-21T02:00:00Z"),
    ]
    assert session(a, "2026-11-20T20:00:00Z") == {
        "start": "2026-11-20T20:00:00Z",
        "end": "2026-11-21T02:00:00Z",
        "open": False,
        "patrol_minutes": 21.0,  # 23:50-00:10, filled every 5 minutes
        "unit_minutes": 21.0,
        "visits": 1,
        "koper_visits": 1,
        "longest_gap_minutes": 230.0,  # 20:00-23:49
        "met": False,  # 21 < 30
    }
    empty = session(a, "2026-11-13T20:00:00Z")
    assert empty["patrol_minutes"] == 0 and empty["longest_gap_minutes"] == 360.0
    assert empty["visits"] == 0 and empty["met"] is False


def test_a_session_across_the_october_clock_change_is_an_hour_longer():
    zone = {**ZONE_A, "schedule": "Sat 20:00-02:00", "session_target_minutes": None,
            "max_gap_minutes": 400.0}  # fmt: skip
    lines = every_minute("u1", "2026-10-25T01:30:00Z", "2026-10-25T01:40:00Z")
    (doc,) = zones_doc(lines, zones=[zone], as_of="2026-10-25T06:00:00Z").values()
    assert [(s["start"], s["end"]) for s in doc["sessions"]] == [
        ("2026-10-03T19:00:00Z", "2026-10-04T01:00:00Z"),
        ("2026-10-10T19:00:00Z", "2026-10-11T01:00:00Z"),
        ("2026-10-17T19:00:00Z", "2026-10-18T01:00:00Z"),
        ("2026-10-24T19:00:00Z", "2026-10-25T02:00:00Z"),  # 20:00 BST to 02:00 GMT: 7 h
    ]
    night = session(doc, "2026-10-24T19:00:00Z")
    assert night["patrol_minutes"] == 11.0  # 01:30-01:40 UTC, the second 01:30 local
    assert night["longest_gap_minutes"] == 390.0  # 19:00-01:29 UTC
    assert night["met"] is True  # 390 <= 400, no session target
    # Nobody at all: the gap is the whole session, 420 minutes > 400.
    (quiet,) = zones_doc([], zones=[zone], as_of="2026-10-25T06:00:00Z").values()
    assert session(quiet, "2026-10-24T19:00:00Z")["longest_gap_minutes"] == 420.0
    assert session(quiet, "2026-10-24T19:00:00Z")["met"] is False


def test_a_session_across_the_march_clock_change_is_an_hour_shorter():
    zone = {**ZONE_A, "schedule": "Sat 20:00-02:00"}
    (doc,) = zones_doc([], zones=[zone], as_of="2026-03-29T06:00:00Z").values()
    night = session(doc, "2026-03-28T20:00:00Z")
    assert night["end"] == "2026-03-29T01:00:00Z"  # 02:00 BST
    assert night["longest_gap_minutes"] == 300.0


def test_a_visit_that_starts_before_a_session_belongs_to_no_session():
    lines = (
        every_minute("u1", "2026-11-20T19:50:00Z", "2026-11-20T20:20:00Z")  # from before it
        + every_minute("u2", "2026-11-20T20:30:00Z", "2026-11-20T20:35:00Z")
        + every_minute("u3", "2026-11-21T01:55:00Z", "2026-11-21T02:10:00Z")  # past its end
    )
    a = zones_doc(lines, as_of="2026-11-21T06:00:00Z")["A"]
    night = session(a, "2026-11-20T20:00:00Z")
    assert night["patrol_minutes"] == 21 + 6 + 5  # u1's minutes inside still count
    assert night["unit_minutes"] == 32.0
    assert night["visits"] == 2  # u2's and u3's; u1's visit started at 19:50
    assert night["koper_visits"] == 1  # u3's, measured over its whole 16-minute run
    assert night["longest_gap_minutes"] == 319.0  # 20:36-01:54
    assert night["met"] is False  # 32 >= 30 but 319 > 60
    day = a["windows"]["24h"]
    assert day["visits"] == 3 and day["koper_visits"] == 2  # u1's 31 minutes, u3's 16


def test_an_open_session_has_its_figures_so_far_and_no_met():
    lines = every_minute("u1", "2026-11-20T21:50:00Z", "2026-11-20T21:59:00Z")
    a = zones_doc(lines, as_of="2026-11-20T22:00:00Z")["A"]
    assert [s["start"] for s in a["sessions"]] == [
        "2026-10-23T19:00:00Z",  # ends 24 Oct 01:00, after 23 Oct 22:00: within 28 days
        "2026-10-30T20:00:00Z",
        "2026-11-06T20:00:00Z",
        "2026-11-13T20:00:00Z",
        "2026-11-20T20:00:00Z",
    ]
    assert [s["open"] for s in a["sessions"]] == [False, False, False, False, True]
    assert session(a, "2026-11-20T20:00:00Z") == {
        "start": "2026-11-20T20:00:00Z",
        "end": "2026-11-21T02:00:00Z",
        "open": True,
        "patrol_minutes": 10.0,
        "unit_minutes": 10.0,
        "visits": 1,
        "koper_visits": 1,  # the run so far is 10 minutes
        "longest_gap_minutes": 110.0,  # 20:00-21:49, so far
        "met": None,
    }


def test_a_session_ending_at_as_of_is_ended_and_one_starting_at_as_of_is_not_listed():
    a = zones_doc([], as_of="2026-11-21T02:00:00Z")["A"]
    assert a["sessions"][-1]["start"] == "2026-11-20T20:00:00Z"
    assert a["sessions"][-1]["open"] is False and a["sessions"][-1]["met"] is False
    a = zones_doc([], as_of="2026-11-20T20:00:00Z")["A"]
    assert a["sessions"][-1]["start"] == "2026-11-13T20:00:00Z"


def test_met_needs_every_condition_that_is_set_and_holds_when_none_is():
    lines = every_minute("u1", "2026-11-20T20:00:00Z", "2026-11-21T01:59:00Z", step_s=300)
    target_only = {**ZONE_A, "max_gap_minutes": None, "session_target_minutes": 360.0}
    gap_only = {**ZONE_A, "code": "G", "session_target_minutes": None, "max_gap_minutes": 1.0}
    neither = {**ZONE_A, "code": "N", "session_target_minutes": None, "max_gap_minutes": None}
    doc = zones_doc(lines, zones=[target_only, gap_only, neither], as_of="2026-11-21T06:00:00Z")
    start = "2026-11-20T20:00:00Z"
    assert session(doc["A"], start)["patrol_minutes"] == 356.0  # 20:00-01:55
    assert session(doc["A"], start)["longest_gap_minutes"] == 4.0  # 01:56-01:59
    assert session(doc["A"], start)["met"] is False  # 356 < 360
    assert session(doc["G"], start)["met"] is False  # 4 > 1
    assert session(doc["N"], start)["met"] is True
    assert session(doc["N"], "2026-11-13T20:00:00Z")["met"] is True  # vacuous


def test_the_document_gets_zones_at_the_ward_reports_as_of():
    corners = [(399000, 299000), (402000, 299000), (402000, 302000), (399000, 302000)]
    ward = Polygon([TO_LONLAT.transform(x, y) for x, y in corners])
    wards = [{"code": "W1", "name": "Ward", "geometry": ward}]
    lines = [ev("e1", "u1", "2026-11-23T10:00:10Z", AB)]
    doc = reference_report_with_zones(lines, wards, [ZONE_A, ZONE_B], now=NOW)
    assert doc["as_of"] == "2026-11-23T10:01:00Z"
    assert [z["code"] for z in doc["zones"]] == ["A", "B"]
    assert set(doc["zones"][0]) == {"code", "name", "kind", "windows", "sessions"}
    assert doc["zones"][1]["windows"]["1h"]["patrol_minutes"] == 1.0
    assert doc["wards"][0]["windows"]["1h"]["patrol_minutes"] == 1.0
