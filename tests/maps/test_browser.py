"""The maps in real headless Chromium, offline: each loads with no console error and no
request leaving the machine but tiles (which fail), draws one polygon per ward, shows
its legend, scale bar and attributions; the live map follows new figures without a
reload; the public map shows and fetches nothing the publication rules forbid.

Long because every map is driven through the page helpers at its top, against the one
browser and served API of tests/maps/conftest.py; each map's checks sit beside the
publication rules they pin.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from beatlight.api.publication import whole_hours
from beatlight.configs import lane_config
from beatlight.maps.palette import STATUS_COLOURS
from tests.api.conftest import HOURS, fill
from tests.conftest import json_keys
from tests.maps.conftest import LIVE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TIMEOUT_MS = 15_000


def _open(watch, site, path: str, role: str | None = None):
    page = watch(site)
    fragment = f"#key={site.keys[role]}" if role else ""
    page.page.goto(f"{site.url}{path}{fragment}")
    _wait_for_wards(page, len(site.wards))
    return page


def _wait_for_wards(page, n: int) -> None:
    page.page.wait_for_function(
        f"() => document.querySelectorAll('path.beatlight-ward[data-status]').length === {n}",
        timeout=TIMEOUT_MS,
    )


def _fills(page) -> dict[str, str]:
    return page.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('path.beatlight-ward')].map(
            p => [p.getAttribute('data-code'), p.getAttribute('fill')]))""")


def _statuses(document: dict, window: str) -> dict[str, str]:
    return {w["code"]: w["windows"][window]["status"] for w in document["wards"]}


def _hover(page, code: str) -> str:
    """Move the mouse onto ward ``code`` where nothing covers it; the tooltip's text."""
    x, y = page.page.evaluate(
        """code => {
        const path = document.querySelector(`path.beatlight-ward[data-code="${code}"]`);
        const box = path.getBoundingClientRect();
        for (const fy of [0.5, 0.3, 0.7, 0.2, 0.8]) for (const fx of [0.5, 0.3, 0.7, 0.2, 0.8]) {
            const x = box.left + fx * box.width, y = box.top + fy * box.height;
            if (document.elementFromPoint(x, y) === path) return [x, y];
        }
        throw new Error(`ward ${code} is covered everywhere`);
    }""",
        code,
    )
    page.page.mouse.move(x, y)
    tooltip = page.page.locator(".beatlight-tooltip")
    tooltip.wait_for(timeout=TIMEOUT_MS)
    return tooltip.inner_text()


def _check_furniture(page) -> None:
    """Legend (every status in words), scale bar, and both attributions."""
    legend = page.page.locator(".beatlight-legend")
    assert legend.is_visible()
    for words in ("Legend",):
        assert words in legend.inner_text()
    assert page.page.locator(".leaflet-control-scale").is_visible()
    attribution = page.page.locator(".leaflet-control-attribution").inner_text()
    assert "Open Government Licence" in attribution and "Crown copyright" in attribution
    assert "OpenStreetMap" in attribution


def test_live_map_draws_every_ward_points_and_outlines_offline(watch, site, documents):
    page = _open(watch, site, "/maps/live", "inspector")
    p = page.page
    assert "key=" not in p.url  # the key left the address bar at once
    assert p.evaluate("sessionStorage.getItem('beatlight-key')") == site.keys["inspector"]
    fills = _fills(page)
    assert sorted(fills) == sorted(site.wards)  # one polygon per ward
    expected = _statuses(documents[LIVE], "24h")
    assert fills == {code: STATUS_COLOURS[s] for code, s in expected.items()}
    p.wait_for_function("() => document.querySelectorAll('path.beatlight-point').length === 3")
    p.wait_for_function(
        "() => document.querySelectorAll('path.beatlight-neighbourhood').length === 3"
    )
    _check_furniture(page)
    legend = p.locator(".beatlight-legend").inner_text()
    assert all(words in legend for words in ("On target", "Close", "Below target", "Nobody seen"))
    assert "Figures as of" in p.locator(".beatlight-as-of").inner_text()
    page.screenshot("live")
    # The tooltip says everything in plain words.
    tip = _hover(page, site.wards[0])
    for words in ("Patrol", "On foot", "Distinct units", "Visits", "Coverage", "Last seen"):
        assert words in tip
    assert re.search(r"\d+ (minute|hour)s? ago|less than a minute ago", tip), tip
    page.screenshot("live-tooltip")
    assert page.tiles, "the map asked for base tiles (and drew its wards without them)"
    page.assert_clean()


def test_live_map_switches_window(watch, site, documents):
    page = _open(watch, site, "/maps/live", "inspector")
    page.page.get_by_role("button", name="7 days").click()
    expected = {c: STATUS_COLOURS[s] for c, s in _statuses(documents[LIVE], "7d").items()}
    page.page.wait_for_function(
        "e => [...document.querySelectorAll('path.beatlight-ward')].every("
        "p => p.getAttribute('fill') === e[p.getAttribute('data-code')])",
        arg=expected, timeout=TIMEOUT_MS,
    )  # fmt: skip
    page.assert_clean()


def test_live_map_without_kafka_draws_wards_and_stops_asking_for_points(watch, sites):
    site = sites(points=False)
    page = _open(watch, site, "/maps/live", "inspector")
    message = page.page.locator(".beatlight-message")
    message.filter(has_text="recent points need Kafka").wait_for(timeout=TIMEOUT_MS)
    page.page.wait_for_timeout(2500)  # two more refreshes (map_refresh_seconds=1)
    figures = [u for u in page.requests if "/api/v1/geojson?level=ward" in u]
    assert len(figures) >= 3
    assert sum("/api/v1/live/points" in u for u in page.requests) == 1
    assert page.offsite == []


def test_live_map_colours_follow_new_events_without_a_reload(
    watch, sites, documents, report_geography, tmp_path
):
    site = sites()  # its own store: this test changes it
    page = _open(watch, site, "/maps/live", "inspector")
    page.page.evaluate("window.__sameDocument = true")
    before = _fills(page)
    page.screenshot("live-before-new-events")

    after_events = _live_after_new_events(tmp_path, report_geography, site.wards[-1])
    fill(site.engine, {}, live=after_events)  # as the materialiser stores the stream's snapshot
    expected = {c: STATUS_COLOURS[s] for c, s in _statuses(after_events, "24h").items()}
    assert expected != before
    page.page.wait_for_function(
        "e => [...document.querySelectorAll('path.beatlight-ward')].every("
        "p => p.getAttribute('fill') === e[p.getAttribute('data-code')])",
        arg=expected, timeout=TIMEOUT_MS,
    )  # fmt: skip
    assert page.page.evaluate("window.__sameDocument") is True  # no reload
    page.screenshot("live-after-new-events")
    page.assert_clean()


def _live_after_new_events(tmp_path, geography, code: str) -> dict:
    """The stream's live figures after a foot patrol spent 50 minutes in ward ``code``:
    the same faulty feed as ``documents`` plus those pings, through the real model."""
    from shapely.geometry import shape

    from beatlight.api.shapes import AreaShapes
    from beatlight.streams.batch import batch_report
    from beatlight.streams.events import parse_lines
    from tests.streams.test_report_vs_oracle import NOW, _feed, _geography

    wards, _ = _geography(tmp_path)
    lines = _feed(5, wards.geometry.to_frame(), days=2, units=6)
    as_of = HOURS[3] + timedelta(hours=4)
    inside = shape(AreaShapes(geography).get("ward", code)).representative_point()
    for second in range(0, 50 * 60, 30):
        ts = as_of - timedelta(minutes=55, seconds=-second)
        lines.append(orjson.dumps({"event_id": f"new-{second}", "unit": "u99", "mode": "foot",
                                   "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "lat": inside.y, "lon": inside.x}).decode())  # fmt: skip
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    batches = [parse_lines(lines[i:i + 700], max_event_bytes=8192)
               for i in range(0, len(lines), 700)]  # fmt: skip
    return batch_report(geography, batches, lane_config(),
                        now_us=(NOW - epoch) // timedelta(microseconds=1),
                        as_of_us=(as_of - epoch) // timedelta(microseconds=1))  # fmt: skip


def test_coverage_map_outlines_repeated_misses_and_shows_fairness(watch, site, documents):
    page = _open(watch, site, "/maps/coverage", "pcc")
    p = page.page
    expected = {c: STATUS_COLOURS[s] for c, s in _statuses(documents[LIVE], "7d").items()}
    assert _fills(page) == expected
    # map_missed_weeks=1: the wards under target in the week ending HOURS[4] (Monday 9 Nov).
    missed = sorted(w["code"] for w in documents[HOURS[4]]["wards"]
                    if w["windows"]["7d"]["attainment"] < 1)  # fmt: skip
    assert missed and len(missed) < len(site.wards)
    p.wait_for_function(f"() => document.querySelectorAll('path.beatlight-missed').length === "
                        f"{len(missed)}")  # fmt: skip
    outlined = p.evaluate("[...document.querySelectorAll('path.beatlight-missed')]"
                          ".map(p => p.getAttribute('data-code')).sort()")  # fmt: skip
    assert outlined == missed
    panel = p.locator(".beatlight-side").inner_text()
    fairness = documents[LIVE]["fairness"]["7d"]
    assert f"{fairness['gini_minutes_per_km2']:.2f}" in panel
    assert "Residents in red wards" in panel
    _check_furniture(page)
    page.screenshot("coverage")
    p.get_by_role("button", name="28 days").click()
    expected = {c: STATUS_COLOURS[s] for c, s in _statuses(documents[LIVE], "28d").items()}
    p.wait_for_function(
        "e => [...document.querySelectorAll('path.beatlight-ward')].every("
        "p => p.getAttribute('fill') === e[p.getAttribute('data-code')])",
        arg=expected, timeout=TIMEOUT_MS,
    )  # fmt: skip
    page.assert_clean()


def test_coverage_map_at_an_hour_outlines_figures_revised_after_first_publication(
    watch, sites, documents
):
    """SPEC "Late uploads": at a stored hour, wards whose figures changed after the hour was
    first published are outlined, and the panel, legend and tooltip say when."""
    from tests.api.test_revisions import Z, _changes, _store, _two_revisions

    site = sites()  # its own store: this test revises an hour
    first, second, revised, ward = _two_revisions(documents)
    _store(site.engine, _changes(first), _changes(second))
    code = ward.split("|")[1]
    page = _open(watch, site, f"/maps/coverage?as_of={Z}", "pcc")
    p = page.page
    p.wait_for_function("() => document.querySelectorAll('path.beatlight-revised').length")
    marked = p.evaluate(
        "[...document.querySelectorAll('path.beatlight-revised')].map("
        "p => [p.getAttribute('data-code'), p.getAttribute('data-revised-at')])"
    )
    assert marked == [[code, "2026-11-03T20:14:09Z"]]
    assert _fills(page) == {c: STATUS_COLOURS[s] for c, s in _statuses(revised, "7d").items()}
    note = p.locator(".beatlight-revised-note").inner_text()
    assert "Revised Tue 3 Nov, 20:14 (revision 1)" in note and "1 ward outlined" in note
    assert "Figures revised after first publication" in p.locator(".beatlight-legend").inner_text()
    tip = _hover(page, code)
    assert "Revised Tue 3 Nov, 20:14: pings uploaded late were counted" in tip
    page.screenshot("coverage-revised")
    page.assert_clean()
    # The live figures are never revised: nothing is outlined, no note.
    live = _open(watch, site, "/maps/coverage", "pcc")
    live.page.wait_for_function("() => !document.querySelector('.beatlight-as-of')"
                                ".textContent.startsWith('Loading')")  # fmt: skip
    assert live.page.locator("path.beatlight-revised").count() == 0
    assert live.page.locator(".beatlight-revised-note").inner_text() == ""
    live.assert_clean()


#: What a public response may hold (SPEC publication rules): wards, whole hours, no time
#: finer than the period, nothing live.
PUBLIC_KEYS = {"type", "features", "geometry", "coordinates", "properties", "id", "period",
               "date", "start", "end", "timezone", "code", "name", "patrol_hours", "foot_hours",
               "longest_gap_hours",
               "distinct_units", "units_suppressed", "coverage", "target_hours", "status",
               "publish_delay_hours", "min_units", "days", "weeks",
               # /public/wards: the wards' names and neighbourhoods, to find one by name
               "wards", "neighbourhood", "neighbourhood_name", "postcodes",
               # every published answer: the figures' licence and attribution
               "licence", "attribution"}  # fmt: skip


def test_public_map_shows_published_figures_only(watch, site, documents):
    page = _open(watch, site, "/maps/public")
    p = page.page
    # Every request the page made: the page, our assets, and public figures; tiles refused.
    own = [u for u in page.requests if u.startswith(site.url)]
    paths = {re.sub(r"\?.*", "", u.removeprefix(site.url)) for u in own}
    assert {"/maps/public", "/api/v1/public/periods", "/api/v1/public/geojson"} <= paths
    assert all(x == "/maps/public" or x.startswith(("/static/", "/api/v1/public/"))
               for x in paths), paths  # fmt: skip
    for response in page.responses:
        if "/api/v1/" in response.url:
            body = response.json()
            assert json_keys(body) <= PUBLIC_KEYS, (response.url, json_keys(body) - PUBLIC_KEYS)
    html = p.content()
    for forbidden in ("/api/v1/geojson", "live/points", "last_seen", "patrol_minutes",
                      "beatlight-key", "bl_"):  # fmt: skip
        assert forbidden not in html, forbidden
    # The latest published week (ending Monday 9 November), in plain words.
    week = documents[HOURS[4]]
    expected = {w["code"]: STATUS_COLOURS[w["windows"]["7d"]["status"]] for w in week["wards"]}
    assert _fills(page) == expected
    box = p.locator(".beatlight-panel").inner_text()
    assert "Figures for the week Monday 2 November 2026 to Sunday 8 November 2026" in box
    assert "Nothing on this map is live" in box
    _check_furniture(page)
    code = week["wards"][1]["code"]
    tip = _hover(page, code)
    hours = whole_hours(week["wards"][1]["windows"]["7d"]["patrol_minutes"])
    assert hours > 1
    # "last week" when the browser's today is in the week after it (it is not, here).
    assert re.search(f"About {hours} hours of visible patrol "
                     "(in the week of Monday 2 November 2026|last week)", tip), tip  # fmt: skip
    assert not re.search(r"\d+ min\b|ago", tip)
    page.screenshot("public")
    page.assert_clean()


def test_sign_in_asks_for_a_key_and_refuses_the_wrong_role(watch, site):
    page = watch(site)
    p = page.page
    p.goto(f"{site.url}/maps/live")
    p.get_by_label("API key").fill(site.keys["pcc"])
    p.get_by_role("button", name="Open the map").click()
    message = p.locator("#beatlight-signin-message")
    message.filter(has_text="needs the role inspector").wait_for(timeout=TIMEOUT_MS)
    assert p.evaluate("sessionStorage.getItem('beatlight-key')") is None
    page.screenshot("sign-in-refused")
    p.get_by_label("API key").fill(site.keys["inspector"])
    p.get_by_role("button", name="Open the map").click()
    _wait_for_wards(page, len(site.wards))
    # A reload keeps the tab's key: the sign-in page opens the map by itself.
    p.reload()
    _wait_for_wards(page, len(site.wards))
    assert page.offsite == []
    assert json.dumps(page.requests).count("key=") == 0  # the key never went into a URL
