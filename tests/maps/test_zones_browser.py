"""The zones layer in real headless Chromium (issue 15 item 5), offline: the live map
outlines each zone in the state of its current session, said in words too; the coverage
map by the share of sessions met; both list their zones in a table, in words; the public
map shows the public zones only, and none when the force publishes no zone."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from beatlight.api.zone_store import ZONE_METRICS
from beatlight.maps.palette import STATUS_COLOURS, STATUS_LABELS, ZONE_SHARE_BANDS, ZONE_STATES
from tests.conftest import json_keys
from tests.maps.conftest import LIVE
from tests.maps.test_browser import PUBLIC_KEYS, TIMEOUT_MS, _open
from tests.maps.test_residents_browser import assert_axe_clean

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: code: (public, max gap, open session's longest gap or None, ended sessions' met)
_ZONES = {
    "ZA": (True, 60.0, 10.0, [True, True]),  # on track, all met
    "ZB": (False, 60.0, 75.0, [True, False]),  # nobody for too long, half met
    "ZC": (False, 60.0, None, [False]),  # no session now, none met
}
_STATE = {"ZA": "on_track", "ZB": "unattended", "ZC": "none"}
_BAND = {"ZA": "high", "ZB": "middle", "ZC": "low"}


def _window(status: str | None) -> dict:
    figures = dict.fromkeys(ZONE_METRICS, 0)
    return figures | {"last_seen": None, "target_minutes": 120.0, "attainment": 0.5,
                      "status": status, "patrol_minutes": 60.0}  # fmt: skip


@pytest.fixture(scope="module")
def zoned_site(sites, documents, report_geography):
    """A site whose zones file has three 150 m zones (one public) over the first wards,
    and whose documents carry their figures: sessions in the live one."""
    import geopandas as gpd
    from shapely.geometry import Point

    from beatlight.geo.zones import zones_from_frame
    from beatlight.streams.schedule import parse_schedule

    metric = report_geography.wards.metric
    centres = [metric.iloc[i].representative_point() for i in range(len(_ZONES))]
    frame = gpd.GeoDataFrame({
        "code": list(_ZONES), "name": [f"Zone {c}" for c in _ZONES], "kind": "hotspot",
        "schedule": "Mon-Sun 17:00-23:00", "max_gap_minutes": [z[1] for z in _ZONES.values()],
        "public": [z[0] for z in _ZONES.values()],
    }, geometry=[Point(c.x, c.y).buffer(150.0) for c in centres], crs=metric.crs)  # fmt: skip
    zones = zones_from_frame(frame, parse_schedule=parse_schedule, source="map zones")
    stored = {}
    for hour, document in documents.items():
        document = copy.deepcopy(document)
        document["zones"] = [{"code": c, "name": f"Zone {c}", "kind": "hotspot",
                              "windows": {w: _window("amber") for w in ("1h", "24h", "7d")},
                              "sessions": _sessions(c, hour) if hour == LIVE else []}
                             for c in _ZONES]  # fmt: skip
        stored[hour] = document
    return sites(zones=(zones, stored))


def _sessions(code: str, as_of) -> list[dict]:
    _, _, gap, met = _ZONES[code]
    out = []
    for n, ok in enumerate(met):
        start = as_of - timedelta(days=n + 1, hours=1)
        out.append({"start": start, "end": start + timedelta(hours=6), "open": False,
                    "patrol_minutes": 30.0, "unit_minutes": 30.0, "visits": 1,
                    "koper_visits": 0, "longest_gap_minutes": 20.0, "met": ok})  # fmt: skip
    if gap is not None:
        start = as_of - timedelta(hours=1)
        out.append({"start": start, "end": start + timedelta(hours=6), "open": True,
                    "patrol_minutes": 20.0, "unit_minutes": 20.0, "visits": 1,
                    "koper_visits": 0, "longest_gap_minutes": gap, "met": None})  # fmt: skip
    return [s | {"start": s["start"].isoformat(), "end": s["end"].isoformat()} for s in out]


def _zone_paths(page, n: int) -> dict[str, list[str]]:
    page.page.wait_for_function(
        f"() => document.querySelectorAll('path.beatlight-zone[data-state]').length === {n}",
        timeout=TIMEOUT_MS,
    )
    return page.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('path.beatlight-zone')].map(
            p => [p.getAttribute('data-zone'), [p.getAttribute('data-state'),
                                                p.getAttribute('stroke')]]))""")


def _zone_tip(page, code: str) -> str:
    box = page.page.locator(f'path.beatlight-zone[data-zone="{code}"]').bounding_box()
    page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.page.locator(".beatlight-zone-tip", has_text=f"Zone {code}")
    tip.wait_for(timeout=TIMEOUT_MS)
    return tip.inner_text()


def _zone_rows(page, n: int = len(_ZONES)) -> dict[str, list[str]]:
    """``{code: [the cells' words]}`` of the table of zones after the map, once it has ``n``."""
    page.page.wait_for_function(
        f"() => document.querySelectorAll('#beatlight-zones tbody tr').length === {n}",
        timeout=TIMEOUT_MS,
    )
    return page.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('#beatlight-zones tbody tr')].map(tr => [tr.dataset.code,
            [...tr.querySelectorAll('th, td')].map(c => c.innerText)]))""")


def test_live_map_outlines_zones_by_their_current_session(watch, zoned_site):
    page = _open(watch, zoned_site, "/maps/live", "inspector")
    colours = {state: colour for state, colour, _ in ZONE_STATES}
    shown = _zone_paths(page, len(_ZONES))
    assert shown == {c: [s, colours[s]] for c, s in _STATE.items()}
    legend = page.page.locator(".beatlight-legend").inner_text()
    for _, _, words in ZONE_STATES:
        assert words in legend  # the state in words, not only in colour
    assert "Nobody for too long" in _zone_tip(page, "ZB")
    assert "on track: longest gap so far 10 min" in _zone_tip(page, "ZA")
    # The zones are drawn above the wards, and the layer control turns them off.
    above = page.page.evaluate("""() => {
        const zone = document.querySelector('path.beatlight-zone');
        const ward = document.querySelector('path.beatlight-ward');
        const z = el => Number(getComputedStyle(el.closest('.leaflet-pane')).zIndex);
        return z(zone) > z(ward);
    }""")
    assert above
    # The zones' table says each zone's state in words.
    rows = _zone_rows(page)
    words = {state: w.removeprefix("Zone: ") for state, _, w in ZONE_STATES}
    assert {c: cells[1] for c, cells in rows.items()} == {c: words[s] for c, s in _STATE.items()}
    assert rows["ZC"][3] == "0 of 1"  # sessions met in the last 28 days
    page.page.get_by_label("Zones (hot spots, town centres)").uncheck()
    page.page.wait_for_function("() => !document.querySelector('path.beatlight-zone')",
                                timeout=TIMEOUT_MS)  # fmt: skip
    page.screenshot("live-zones")
    page.assert_clean()


def test_coverage_map_outlines_zones_by_the_share_of_sessions_met(watch, zoned_site):
    page = _open(watch, zoned_site, "/maps/coverage", "pcc")
    colours = {band: colour for band, _, colour, _ in ZONE_SHARE_BANDS}
    shown = _zone_paths(page, len(_ZONES))
    assert shown == {c: [b, colours[b]] for c, b in _BAND.items()}
    assert "1 of 2 sessions met over the last 28 days (50%)" in _zone_tip(page, "ZB")
    legend = page.page.locator(".beatlight-legend").inner_text()
    assert all(words in legend for *_, words in ZONE_SHARE_BANDS)
    words = {band: w.removeprefix("Zone: ") for band, _, _, w in ZONE_SHARE_BANDS}
    rows = _zone_rows(page)
    assert {c: cells[1] for c, cells in rows.items()} == {c: words[b] for c, b in _BAND.items()}
    assert rows["ZB"][2] == "1 of 2 met"
    page.assert_clean()


def test_axe_finds_no_violation_on_the_live_map_with_zones(watch, zoned_site, axe):
    page = _open(watch, zoned_site, "/maps/live", "inspector")
    _zone_rows(page)
    # "Show" in the zones' table brings the zone into view with its figures.
    page.page.locator("#beatlight-zones tr[data-code='ZB'] button").click()
    page.page.locator(".beatlight-zone-tip", has_text="Zone ZB").wait_for(timeout=TIMEOUT_MS)
    assert_axe_clean(page.page, axe)


def test_public_map_shows_public_zones_only(watch, zoned_site, site):
    page = _open(watch, zoned_site, "/maps/public")
    public = [c for c, z in _ZONES.items() if z[0]]
    assert _zone_paths(page, len(public)) == {c: ["amber", STATUS_COLOURS["amber"]]
                                              for c in public}  # fmt: skip
    assert "Published place" in page.page.locator(".beatlight-legend").inner_text()
    rows = _zone_rows(page, len(public))
    assert {c: cells[3] for c, cells in rows.items()} == {
        c: dict(STATUS_LABELS["public"])["amber"] for c in public}  # fmt: skip
    assert all("/api/v1/public/" in u or "/api/v1/" not in u for u in page.requests)
    zone_answers = [r for r in page.responses if "/api/v1/public/zones/geojson" in r.url]
    assert zone_answers and all(r.status == 200 for r in zone_answers)
    for response in page.responses:  # published fields only (a zone also says its kind)
        if "/api/v1/" in response.url:
            assert json_keys(response.json()) <= PUBLIC_KEYS | {"kind"}, response.url
    page.assert_clean()
    # A force with no zone file publishes no zone: nothing drawn, no legend row.
    plain = _open(watch, site, "/maps/public")
    plain.page.wait_for_load_state("networkidle")
    assert plain.page.locator("path.beatlight-zone").count() == 0
    assert "Published place" not in plain.page.locator(".beatlight-legend").inner_text()
    assert plain.page.locator("#beatlight-zones").is_hidden()
