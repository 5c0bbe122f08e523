"""reports.commitments from hand-made documents: a session's day, its latest figures, the
days no document lists, and the order of the zones furthest behind."""

from __future__ import annotations

from datetime import date

import pytest

from beatlight.reports.commitments import furthest_behind, zone_records
from tests.reports.conftest import ZONE

pytestmark = pytest.mark.unit


def _session(start: str, end: str, met: bool | None, patrol: float = 60.0) -> dict:
    return {"start": start, "end": end, "open": met is None, "patrol_minutes": patrol,
            "unit_minutes": patrol, "visits": 1, "koper_visits": 1,
            "longest_gap_minutes": 10.0, "met": met}  # fmt: skip


def _document(as_of: str, sessions: dict[str, list[dict]]) -> dict:
    return {"as_of": as_of, "zones": [
        {"code": code, "name": f"Zone {code}", "kind": "hotspot", "windows": {},
         "sessions": mine} for code, mine in sessions.items()]}  # fmt: skip


# Saturday 24 October 2026, 20:00 BST, to Sunday 25 October, 02:00 GMT: over the clock change.
NIGHT = ("2026-10-24T19:00:00Z", "2026-10-25T02:00:00Z")


def test_a_session_over_the_clock_change_belongs_to_the_day_it_starts_and_the_latest_figures_win():
    still_on = _document("2026-10-24T23:00:00Z", {"A": [_session(*NIGHT, None, 30.0)]})
    ended = _document("2026-10-27T00:00:00Z", {"A": [_session(*NIGHT, False, 45.0)]})
    (record,) = zone_records(ended, [still_on], 3, ZONE)
    assert [d.day for d in record.days] == [date(2026, 10, 24), date(2026, 10, 25),
                                            date(2026, 10, 26)]  # fmt: skip
    assert [d.state for d in record.days] == ["missed", "none", "none"]
    assert (record.met, record.missed, record.patrol_minutes) == (0, 1, 45.0)
    # Older figures never replace newer ones, whatever order the history comes in.
    (again,) = zone_records(ended, [ended, still_on], 3, ZONE)
    assert again.days == record.days


def test_a_day_no_document_lists_is_unknown_and_a_document_without_zones_lists_nothing():
    latest = _document("2026-11-29T00:00:00Z", {"A": []})
    (record,) = zone_records(latest, [{"as_of": "2026-10-31T00:00:00Z"}], 35, ZONE)
    known = [d.known for d in record.days]
    assert known == [False] * 7 + [True] * 28
    assert record.days[0].state == "unknown" and record.days[-1].state == "none"


def test_no_zones_no_records():
    assert zone_records({"as_of": "2026-11-29T00:00:00Z"}, [], 7, ZONE) == []
    assert zone_records({"as_of": "2026-11-29T00:00:00Z", "zones": []}, [], 7, ZONE) == []


def test_furthest_behind_lowest_share_met_then_most_missed_then_least_patrol():
    def nights(results: str, patrol: float = 60.0) -> list[dict]:
        return [_session(f"2026-11-{k + 2:02d}T20:00:00Z", f"2026-11-{k + 2:02d}T22:00:00Z",
                         r == "M", patrol) for k, r in enumerate(results)]  # fmt: skip

    document = _document("2026-11-29T00:00:00Z", {
        "A": nights("MMxx"),  # 50%, 2 missed
        "B": nights("Mx"),  # 50%, 1 missed
        "C": nights("xxx"),  # 0%
        "D": nights("MMMM"),  # nothing missed: not behind
        "E": nights("Mx", patrol=30.0),  # as B, with less patrol time
        "F": nights("x", patrol=0.0) + [_session("2026-11-28T20:00:00Z",
                                                 "2026-11-29T02:00:00Z", None)],  # fmt: skip
    })  # fmt: skip
    records = zone_records(document, [], 28, ZONE)
    assert [r.code for r in furthest_behind(records)] == ["C", "F", "A", "E", "B"]
    assert [r.code for r in furthest_behind(records, limit=2)] == ["C", "F"]
    f = next(r for r in records if r.code == "F")
    assert (f.met, f.missed, f.count("open"), f.share_met) == (0, 1, 1, 0.0)
