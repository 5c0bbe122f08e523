"""Zones through the real command line: ``report --zones``, ``--sessions-out``, ``returns``.

The worked examples of the issue (the zone oracle's own, tests/test_zone_oracle_selfcheck.py),
each pinned by hand and equal to the oracle; bad zones files refused in one line; the
returns CSV (Z6) against a naive computation from the oracle's figures.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import geopandas as gpd
import pytest
from shapely.geometry import box

from tests.conftest import run_cli
from tests.test_zone_oracle_selfcheck import A_ONLY, AB, NOW, ZONE_A, ZONE_B, ev, every_minute
from tests.zone_oracle import first_instant, reference_zones
from tests.zones_city import oracle_zones, synthetic_zones, write_zones

pytestmark = pytest.mark.integration

_COLUMNS = ("code", "name", "kind", "target_minutes_per_week", "schedule",
            "session_target_minutes", "max_gap_minutes")  # fmt: skip


def zones_file(path, zones) -> str:  # noqa: ANN001
    rows = [{c: z.get(c) for c in _COLUMNS} | {"geometry": z["geometry"]} for z in zones]
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")
    return str(write_zones(frame, path))


def run_report(tmp_path, lines, zones, as_of, *more) -> dict:  # noqa: ANN001
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(lines) + "\n")
    result = run_cli("report", "--events", str(events), "--zones",
                     zones_file(tmp_path / "zones.geojson", zones), "--as-of", as_of,
                     "--no-progress", *more)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout) if "--format" not in more else result.stdout
    oracle = reference_zones(lines, list(zones), as_of=as_of, now=NOW)
    if isinstance(document, dict):
        assert document["zones"] == oracle
    return document


def by_code(document: dict) -> dict:
    return {z["code"]: z for z in document["zones"]}


def session(zone: dict, start: str) -> dict:
    (found,) = [s for s in zone["sessions"] if s["start"] == start]
    return found


def test_a_session_over_midnight(tmp_path):
    lines = every_minute("u1", "2026-11-20T23:50:00Z", "2026-11-21T00:10:00Z", step_s=300)
    a = by_code(run_report(tmp_path, lines, [ZONE_A, ZONE_B], "2026-11-21T06:00:00Z"))["A"]
    night = session(a, "2026-11-20T20:00:00Z")
    assert night["end"] == "2026-11-21T02:00:00Z" and night["open"] is False
    assert (night["patrol_minutes"], night["visits"], night["koper_visits"]) == (21.0, 1, 1)
    assert night["longest_gap_minutes"] == 230.0 and night["met"] is False


def test_a_session_across_the_october_clock_change(tmp_path):
    zone = {**ZONE_A, "schedule": "Sat 20:00-02:00", "session_target_minutes": None,
            "max_gap_minutes": 400.0}  # fmt: skip
    lines = every_minute("u1", "2026-10-25T01:30:00Z", "2026-10-25T01:40:00Z")
    (doc,) = run_report(tmp_path, lines, [zone], "2026-10-25T06:00:00Z")["zones"]
    night = session(doc, "2026-10-24T19:00:00Z")
    assert night["end"] == "2026-10-25T02:00:00Z"  # 20:00 BST to 02:00 GMT: 7 hours
    assert night["patrol_minutes"] == 11.0 and night["longest_gap_minutes"] == 390.0
    assert night["met"] is True


def test_overlapping_zones_and_gap_fill_only_between_two_pings_in_the_zone(tmp_path):
    lines = [
        ev("e1", "u1", "2026-11-23T10:00:10Z", AB),
        ev("e2", "u1", "2026-11-23T10:03:10Z", A_ONLY),  # fills 10:01, 10:02 in A, not in B
        ev("e3", "u1", "2026-11-23T10:04:10Z", AB),
        ev("e4", "u2", "2026-11-23T10:00:30Z", AB, mode="vehicle"),
    ]
    zones = by_code(run_report(tmp_path, lines, [ZONE_A, ZONE_B], "2026-11-23T11:00:00Z"))
    a, b = zones["A"]["windows"]["1h"], zones["B"]["windows"]["1h"]
    assert (a["patrol_minutes"], a["unit_minutes"], a["visits"]) == (5.0, 6.0, 2)
    assert (b["patrol_minutes"], b["unit_minutes"], b["visits"]) == (2.0, 3.0, 3)
    assert "coverage" not in a


def test_a_visit_that_starts_before_a_session(tmp_path):
    lines = (
        every_minute("u1", "2026-11-20T19:50:00Z", "2026-11-20T20:20:00Z")
        + every_minute("u2", "2026-11-20T20:30:00Z", "2026-11-20T20:35:00Z")
        + every_minute("u3", "2026-11-21T01:55:00Z", "2026-11-21T02:10:00Z")
    )
    a = by_code(run_report(tmp_path, lines, [ZONE_A, ZONE_B], "2026-11-21T06:00:00Z"))["A"]
    night = session(a, "2026-11-20T20:00:00Z")
    assert (night["patrol_minutes"], night["visits"], night["koper_visits"]) == (32.0, 2, 1)


def test_an_open_session_and_the_sessions_csv(tmp_path):
    lines = every_minute("u1", "2026-11-20T21:50:00Z", "2026-11-20T21:59:00Z")
    out = tmp_path / "sessions.csv"
    a = by_code(run_report(tmp_path, lines, [ZONE_A, ZONE_B], "2026-11-20T22:00:00Z",
                           "--sessions-out", str(out)))["A"]  # fmt: skip
    now = a["sessions"][-1]
    assert now["open"] is True and now["met"] is None and now["patrol_minutes"] == 10.0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(a["sessions"]) == 5 and {r["code"] for r in rows} == {"A"}
    assert rows[-1] == {"code": "A", "name": "Town centre", "kind": "town_centre",
                        "start": "2026-11-20T20:00:00Z", "end": "2026-11-21T02:00:00Z",
                        "open": "true", "patrol_minutes": "10.0", "unit_minutes": "10.0",
                        "visits": "1", "koper_visits": "1", "longest_gap_minutes": "110.0",
                        "met": ""}  # fmt: skip


def test_a_zone_with_no_target_and_the_csv_rows_of_zones(tmp_path):
    lines = [ev("e1", "u1", "2026-11-23T10:00:00Z", AB)]
    b = by_code(run_report(tmp_path, lines, [ZONE_A, ZONE_B], "2026-11-23T11:00:00Z"))["B"]
    assert all(w["attainment"] is None and w["status"] is None for w in b["windows"].values())
    text = run_report(tmp_path, lines, [ZONE_A, ZONE_B], "2026-11-23T11:00:00Z",
                      "--format", "csv")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    zones = [r for r in rows if r["level"] == "zone"]
    assert len(zones) == 8 and len(rows) - len(zones) == 24 * 4  # the synthetic wards too
    hour = next(r for r in zones if r["code"] == "B" and r["window"] == "1h")
    assert hour["patrol_minutes"] == "1.0" and hour["status"] == hour["coverage"] == ""
    assert hour["target_minutes_per_week"] == "" and hour["area_km2"] == ""
    centre = next(r for r in zones if r["code"] == "A" and r["window"] == "7d")
    assert centre["target_minutes_per_week"] == "600.0" and centre["status"] == "red"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"schedule": "Fri 20:00-25:00"}, "zone A has a bad schedule"),
        ({"code": "B"}, "zone code B appears 2 times"),
        ({"max_gap_minutes": -5}, "zone A has max_gap_minutes '-5'"),
    ],
)
def test_a_bad_zones_file_is_refused_in_one_line_naming_the_zone(tmp_path, change, words):
    events = tmp_path / "events.ndjson"
    events.write_text(ev("e1", "u1", "2026-11-23T10:00:00Z") + "\n")
    path = zones_file(tmp_path / "zones.geojson", [{**ZONE_A, **change}, ZONE_B])
    for command in ("report", "returns"):
        result = run_cli(command, "--events", str(events), "--zones", path)
        assert result.returncode == 2, result.stderr
        message = result.stderr.strip()
        assert message.count("\n") == 0 and words in message, message
        assert "Traceback" not in result.stderr


def test_an_unknown_column_and_an_empty_geometry_are_refused(tmp_path):
    events = tmp_path / "events.ndjson"
    events.write_text(ev("e1", "u1", "2026-11-23T10:00:00Z") + "\n")
    frame = gpd.GeoDataFrame(
        {"code": ["A"], "name": ["x"], "colour": ["red"]},
        geometry=[box(400000, 300000, 400100, 300100)],
        crs="EPSG:27700",
    )
    path = write_zones(frame, tmp_path / "zones.geojson")
    result = run_cli("report", "--events", str(events), "--zones", str(path))
    assert result.returncode == 2 and "unknown column 'colour'" in result.stderr
    frame = gpd.GeoDataFrame({"code": ["A"], "name": ["x"]}, geometry=[box(0, 0, 0, 0)],
                             crs="EPSG:27700")  # fmt: skip
    path = write_zones(frame, tmp_path / "empty.geojson")
    result = run_cli("report", "--events", str(events), "--zones", str(path))
    assert result.returncode == 2 and "zone A has no" in result.stderr, result.stderr
    result = run_cli("report", "--events", str(events), "--sessions-out", "x.csv")
    assert result.returncode == 2 and "--sessions-out needs zones" in result.stderr


# ------------------------------------------------------------------- returns (Z6)


def naive_periods(period: str, first: date, as_of_us: int) -> list[tuple[str, int, int]]:
    """Local-midnight periods from the one holding ``first`` on, while they start before as_of."""
    tz = ZoneInfo("Europe/London")
    if period == "week":
        day = first - timedelta(days=first.weekday())
    elif period == "month":
        day = first.replace(day=1)
    else:
        day = date(first.year, (first.month - 1) // 3 * 3 + 1, 1)
    found = []
    while True:
        start = first_instant(datetime(day.year, day.month, day.day), tz)
        if start >= as_of_us:
            return found
        if period == "week":
            label, following = (
                f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}",
                day + timedelta(7),
            )
        else:
            months = 1 if period == "month" else 3
            m = day.month - 1 + months
            following = date(day.year + m // 12, m % 12 + 1, 1)
            label = (
                f"{day.year}-{day.month:02d}"
                if months == 1
                else f"{day.year}-Q{(day.month + 2) // 3}"
            )
        end = first_instant(datetime(following.year, following.month, following.day), tz)
        found.append((label, start, end))
        day = following


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_the_returns_csv_equals_a_naive_computation(tmp_path, period):
    from tests.streams.test_zones_batch import T0, messy

    frame = synthetic_zones()
    lines = [x.decode() for x in messy(frame, 5)]
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(lines) + "\n")
    path = write_zones(frame, tmp_path / "zones.geojson")
    as_of = "2026-10-26T06:00:00Z"
    result = run_cli("returns", "--events", str(events), "--zones", str(path), "--period",
                     period, "--as-of", as_of)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))

    as_of_us = (datetime.fromisoformat(as_of) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    first = (T0 + timedelta(minutes=1)).date()  # the feed's first ping is in its first hour
    spans = naive_periods(period, first, as_of_us)
    oracle = reference_zones(lines, oracle_zones(frame), as_of=as_of, now=NOW,
                             periods=[(a, b) for _, a, b in spans])  # fmt: skip
    expected = []
    for zone in oracle:
        for (label, a, b), f in zip(spans, zone["periods"], strict=True):
            held = [s for s in zone["all_sessions"] if a <= s["start_us"] < b and not s["open"]]
            expected.append({
                "code": zone["code"], "period": label,
                "complete": "true" if b <= as_of_us else "false",
                "patrol_hours": f["patrol_minutes"] / 60, "unit_hours": f["unit_minutes"] / 60,
                "visits": f["visits"], "koper_visits": f["koper_visits"],
                "sessions": len(held), "sessions_met": sum(bool(s["met"]) for s in held),
            })  # fmt: skip
    got = [
        {k: (float(v) if k.endswith("hours") else int(v) if k in ("visits", "koper_visits",
             "sessions", "sessions_met") else v) for k, v in r.items() if k in expected[0]}
        for r in rows
    ]  # fmt: skip
    assert len(got) == len(expected) and sum(r["sessions_met"] for r in got) > 0
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            want = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
            assert mine[key] == want, (theirs["code"], theirs["period"], key)
