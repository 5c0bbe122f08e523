"""The zones as GeoJSON for the maps (api.zone_maps): each zone's current session state
and share of sessions met agree with its sessions in /zones/{code}; the public GeoJSON
holds the public zones only, with the published figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import shape

from beatlight.api.zone_maps import session_state, zone_outlines
from beatlight.times import parse_time
from tests.api.test_zones import api, client, fill, zoned  # noqa: F401 (fixtures)

_AS_OF = datetime(2026, 10, 24, 21, tzinfo=UTC)


def _session(open_: bool, gap: float, met: bool | None = None, ends: int = 1) -> dict:
    """A session ending ``ends`` hours after ``_AS_OF`` (open) or before it (ended)."""
    end = _AS_OF + timedelta(hours=ends if open_ else -ends)
    return {"start": end - timedelta(hours=6), "end": end, "open": open_,
            "longest_gap_minutes": gap, "patrol_minutes": 5.0, "met": met}  # fmt: skip


@pytest.mark.parametrize("sessions, max_gap, state", [
    ([], 60.0, "none"),
    ([_session(False, 90.0, False)], 60.0, "none"),
    ([_session(True, 59.0)], 60.0, "on_track"),
    ([_session(True, 60.0)], 60.0, "unattended"),  # nobody for max_gap_minutes (Z5)
    ([_session(True, 500.0)], None, "on_track"),  # no gap owed
])  # fmt: skip
def test_session_state(sessions, max_gap, state):
    assert session_state(sessions, max_gap, _AS_OF)["state"] == state


def test_share_met_counts_ended_sessions_only():
    got = session_state([_session(False, 1, True), _session(False, 1, False),
                         _session(False, 1, True), _session(True, 1)], 60.0, _AS_OF)  # fmt: skip
    assert (got["sessions_ended"], got["sessions_met"]) == (3, 2)
    assert got["share_met"] == pytest.approx(2 / 3)
    assert session_state([_session(True, 1)], 60.0, _AS_OF)["share_met"] is None
    # A session stored as ended, but ending after as_of, is neither current nor ended then.
    later = session_state([_session(False, 1, True, ends=-2)], 60.0, _AS_OF)
    assert (later["state"], later["sessions_ended"]) == ("none", 0)
    assert zone_outlines(None) == {}


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_zones_geojson_agrees_with_each_zones_sessions(engine, zoned):  # noqa: F811
    """At hours through the Friday and Saturday nights, with the store as the worker had
    it then (live = that hour), each zone's state follows its sessions in /zones/{code}."""
    geography, zones, documents = zoned
    states = set()
    for hours in (6, 8, 10, 29, 31, 33):
        hour = sorted(documents)[hours]
        fill(engine, {h: d for h, d in documents.items() if h <= hour}, live=documents[hour])
        with client(engine, geography, zones, hour) as keyed:
            states |= _check_states(keyed, zones)
    assert {"on_track", "unattended", "none"} <= states  # the feed gives every state


def _check_states(keyed, zones) -> set[str]:
    answer = keyed.get("/api/v1/zones", params={"format": "geojson"}, headers=keyed.as_role("pcc"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/geo+json"
    body = answer.json()
    assert [f["id"] for f in body["features"]] == [str(c) for c in zones.codes]
    states = set()
    for feature in body["features"]:
        p = feature["properties"]
        index = list(zones.codes).index(p["code"])
        assert shape(feature["geometry"]).intersects(zones.geometry.iloc[index])
        detail = keyed.get(f"/api/v1/zones/{p['code']}", headers=keyed.as_role("pcc")).json()
        current = [s for s in detail["sessions"] if s["open"]]
        ended = [s for s in detail["sessions"] if not s["open"]]
        if not current:
            assert p["state"] == "none" and p["session"] is None
        else:
            gap, allowed = current[-1]["longest_gap_minutes"], detail["max_gap_minutes"]
            late = allowed is not None and gap >= allowed
            assert p["state"] == ("unattended" if late else "on_track")
        assert p["sessions_ended"] == len(ended)
        assert p["sessions_met"] == sum(bool(s["met"]) for s in ended)
        states.add(p["state"])
    assert keyed.get("/api/v1/zones", params={"format": "geojson"}).status_code == 401
    return states


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_zones_geojson_at_an_hour(api, zoned):  # noqa: F811
    _, _, documents = zoned
    hour = sorted(documents)[30]
    at = api.get("/api/v1/zones", params={"format": "geojson", "as_of": hour.isoformat()},
                 headers=api.as_role("inspector")).json()  # fmt: skip
    assert parse_time(at["as_of"]) == hour and at["features"]
    late = hour + timedelta(days=365)
    missing = api.get("/api/v1/zones", params={"format": "geojson", "as_of": late.isoformat()},
                      headers=api.as_role("pcc"))  # fmt: skip
    assert missing.status_code == 200 and missing.json()["features"] == []  # a map, no 404


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_public_zones_geojson_holds_public_zones_only(engine, zoned):  # noqa: F811
    geography, zones, documents = zoned
    fill(engine, documents, live=documents[max(documents)])
    public = {str(c) for c, p in zip(zones.codes, zones.public, strict=True) if p}
    end = max(documents)
    with client(engine, geography, zones, end + timedelta(days=3)) as test:
        plain = test.get("/api/v1/public/zones", params={"date": "2026-10-24"}).json()
        body = test.get("/api/v1/public/zones/geojson", params={"date": "2026-10-24"}).json()
        assert {f["id"] for f in body["features"]} == public
        assert [f["properties"] for f in body["features"]] == plain["zones"]
        assert body["end"] == plain["end"]
    with client(engine, geography, None, end + timedelta(days=3)) as no_file:
        body = no_file.get("/api/v1/public/zones/geojson", params={"date": "2026-10-24"}).json()
        assert body["features"] == []
