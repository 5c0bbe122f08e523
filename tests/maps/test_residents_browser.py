"""Residents in real headless Chromium: find a ward on the public map with the keyboard
alone and read its page; the map's table of wards; "Use my location" matched in the
page, never sent; and axe-core's WCAG 2.2 AA rules with no violation on the public map
and a ward's page."""

from __future__ import annotations

import re

import pytest

from beatlight.api.publication import whole_hours
from beatlight.maps.palette import STATUS_LABELS
from tests.api.conftest import HOURS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TIMEOUT_MS = 15_000
WEEK = HOURS[4]  # the published week of the sites: Monday 2 November 2026
#: axe-core's rules for WCAG 2.0, 2.1 and 2.2, levels A and AA, and its best practices.
AXE_TAGS = ["best-practice", "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
WORDS = dict(STATUS_LABELS["public"])


def _open_public(watch, site, **options):
    page = watch(site, **options)
    page.page.goto(f"{site.url}/maps/public")
    page.page.wait_for_function(
        f"() => document.querySelectorAll('path.beatlight-ward[data-status]').length === "
        f"{len(site.wards)} && document.querySelectorAll('#beatlight-wards tbody tr').length "
        f"=== {len(site.wards)}",
        timeout=TIMEOUT_MS,
    )
    return page


def _tab_to(page, element_id: str, most: int = 10) -> int:
    """Press Tab until the element ``element_id`` has the focus, as a keyboard user would;
    how many presses it took (the search box is among the first few stops)."""
    for presses in range(1, most + 1):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"{element_id} is not within {most} presses of Tab")


def test_find_a_ward_by_name_with_the_keyboard_and_read_its_last_week(watch, site, documents):
    """The issue's "done when": open the public map, type part of a ward's name, press
    Enter, land on the ward page and read its last published week, keyboard only."""
    ward = documents[WEEK]["wards"][1]
    page = _open_public(watch, site)
    p = page.page
    _tab_to(p, "beatlight-find-input")
    # The focus is visible: an outline of 3 px around the search box.
    assert p.evaluate("() => getComputedStyle(document.activeElement).outlineWidth") == "3px"
    part = ward["name"][1:]  # "ard 2": part of the name, not its start
    p.keyboard.type(part, delay=20)
    options = p.locator("#beatlight-find-list [role=option]")
    options.first.wait_for(timeout=TIMEOUT_MS)
    names = [re.sub(r" \(.*\)$", "", t) for t in options.all_inner_texts()]
    assert ward["name"] in names
    assert p.get_attribute("#beatlight-find-input", "aria-expanded") == "true"
    page.screenshot("public-search")
    # Arrow down to the ward when it is not the first match, then Enter.
    for _ in range(names.index(ward["name"])):
        p.keyboard.press("ArrowDown")
    before = len(page.requests)
    with p.expect_navigation(timeout=TIMEOUT_MS):
        p.keyboard.press("Enter")
    assert p.url == f"{site.url}/public/wards/{ward['code']}"
    p.wait_for_load_state("load")
    # The page is all there is: it fetches no script, figure, style or image.
    assert page.requests[before:] == [p.url]
    heading = p.locator("#last-week").inner_text()
    assert heading == ("Last published week: the week Monday 2 November 2026 to Sunday "
                       "8 November 2026")  # fmt: skip
    summary = p.locator(".summary").inner_text()
    figures = ward["windows"]["7d"]
    assert f"About {whole_hours(figures['patrol_minutes'])} hours of visible patrol" in summary
    assert f"{WORDS[figures['status']].lower()}." in summary
    assert f"about {whole_hours(figures['longest_gap_minutes'])} hours" in summary
    assert p.locator("script").count() == 0
    page.screenshot("ward-page")
    # Back to the map, which brings the ward into view with its figures.
    p.get_by_role("link", name=f"See {ward['name']} on the public map").focus()
    with p.expect_navigation(timeout=TIMEOUT_MS):
        p.keyboard.press("Enter")
    tip = p.locator(".beatlight-tooltip")
    tip.wait_for(timeout=TIMEOUT_MS)
    assert tip.locator("strong").inner_text() == ward["name"]
    page.assert_clean()


def test_a_neighbourhood_name_finds_its_wards(watch, site, documents):
    wards = documents[WEEK]["wards"]
    hood = wards[0]["neighbourhood"]
    members = sorted(w["name"] for w in wards if w["neighbourhood"] == hood)
    page = _open_public(watch, site)
    p = page.page
    p.locator("#beatlight-find-input").fill(hood.lower())
    options = p.locator("#beatlight-find-list [role=option]")
    options.first.wait_for(timeout=TIMEOUT_MS)
    shown = options.all_inner_texts()
    assert sorted(t.removesuffix(f" ({hood})") for t in shown) == members
    p.locator("#beatlight-find-input").fill("no such place")
    status = p.locator(".beatlight-find-status")
    assert status.inner_text() == "No ward or neighbourhood matches \u201cno such place\u201d."
    assert p.get_attribute("#beatlight-find-input", "aria-expanded") == "false"
    page.assert_clean()


def test_the_map_has_a_sortable_table_of_wards_in_words(watch, site, documents):
    page = _open_public(watch, site)
    p = page.page
    week = {w["code"]: w["windows"]["7d"] for w in documents[WEEK]["wards"]}
    rows = p.locator("#beatlight-wards tbody tr")
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        cells = row.locator("td").all_inner_texts()
        shown[row.get_attribute("data-code")] = cells
    assert set(shown) == set(week)
    for code, cells in shown.items():
        figures = week[code]
        assert WORDS[figures["status"]] in cells  # the status in words, not only in colour
        hours = whole_hours(figures["patrol_minutes"])
        assert cells[0] == ("under half an hour" if hours == 0 else
                            f"about {hours} hour{'' if hours == 1 else 's'}")  # fmt: skip
    # Sort by the visible patrol, with the keyboard: Enter on the column's button.
    header = p.locator("#beatlight-wards th", has=p.locator("button", has_text="Visible patrol"))
    header.locator("button").focus()
    p.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending"
    order = [rows.nth(i).get_attribute("data-code") for i in range(rows.count())]
    patrol = [week[c]["patrol_minutes"] for c in order]
    assert [whole_hours(m) for m in patrol] == sorted(whole_hours(m) for m in patrol)
    p.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "descending"
    # "Show" brings a ward into view on the map with its figures in words.
    code = order[0]
    p.locator(f"#beatlight-wards tr[data-code='{code}'] button").click()
    tip = p.locator(".beatlight-tooltip").inner_text()
    assert "visible patrol" in tip.lower()  # "About 5 hours of …" or "No visible patrol …"
    p.locator("#beatlight-wards").scroll_into_view_if_needed()
    page.screenshot("public-table")
    page.assert_clean()


def test_use_my_location_is_matched_in_the_page_and_never_sent(watch, site, documents,
                                                               report_geography):  # fmt: skip
    from shapely.geometry import shape

    from beatlight.api.shapes import AreaShapes

    ward = documents[WEEK]["wards"][2]
    outline = AreaShapes(report_geography).get("ward", ward["code"])
    point = shape(outline).representative_point()
    page = _open_public(watch, site, geolocation={"latitude": point.y, "longitude": point.x},
                        permissions=["geolocation"])  # fmt: skip
    p = page.page
    sent: list[str] = []
    p.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
    _tab_to(p, "beatlight-find-input")
    p.keyboard.press("Tab")  # to "Use my location"
    assert p.evaluate("() => document.activeElement.textContent") == "Use my location"
    p.keyboard.press("Enter")
    status = p.locator(".beatlight-find-status")
    status.filter(has_text="You are in").wait_for(timeout=TIMEOUT_MS)
    assert status.inner_text().startswith(f"You are in {ward['name']}.")
    assert status.locator("a").get_attribute("href") == f"/public/wards/{ward['code']}"
    digits = [f"{point.y:.3f}"[:6], f"{point.x:.3f}"[:6]]
    assert not [s for s in sent if any(d in s for d in digits)], sent
    page.assert_clean()


def test_a_postcode_opens_its_ward_page_and_is_in_no_url(watch, sites, documents,
                                                         report_geography, tmp_path):  # fmt: skip
    from tests.api.test_public_find import made_up_postcodes

    path, expected = made_up_postcodes(report_geography, tmp_path)
    site = sites(points=False, settings={"postcode_file": path})
    postcode, code = next((p, c) for p, c in expected.items() if c == site.wards[1])
    page = _open_public(watch, site)
    p = page.page
    # The map offers postcodes once /public/wards says the API can answer them.
    p.locator("#beatlight-find-hint", has_text="or your postcode").wait_for(timeout=TIMEOUT_MS)
    _tab_to(p, "beatlight-find-input")
    p.keyboard.type(postcode.lower(), delay=20)
    status = p.locator(".beatlight-find-status")
    assert status.inner_text() == "Press Enter to look up this postcode."
    with p.expect_navigation(timeout=TIMEOUT_MS):
        p.keyboard.press("Enter")
    assert p.url == f"{site.url}/public/wards/{code}"
    asked = [r for r in page.requests if "/public/postcode" in r]
    assert asked == [f"{site.url}/api/v1/public/postcode"]  # once, in a POST body
    compact = postcode.replace(" ", "").lower()
    assert not [u for u in page.requests if compact in u.lower().replace("%20", "")]
    page.assert_clean()


@pytest.mark.parametrize("path", ["/maps/public", "/public/wards/{code}", "/public/wards",
                                  "/public/wards/nothing-here"])  # fmt: skip
def test_axe_finds_no_violation(watch, site, axe, documents, path):
    """axe-core (WCAG 2.2 A and AA, best practices) in the real page, figures loaded."""
    code = documents[WEEK]["wards"][0]["code"]
    page = watch(site, bypass_csp=True)  # the ward pages' policy runs no script, axe's neither
    p = page.page
    p.goto(site.url + path.replace("{code}", code))
    if path == "/maps/public":
        p.wait_for_function("() => document.querySelectorAll('#beatlight-wards tbody tr')"
                            f".length === {len(site.wards)}", timeout=TIMEOUT_MS)  # fmt: skip
        # The search open with its suggestions, so that they are checked too.
        p.locator("#beatlight-find-input").fill(documents[WEEK]["wards"][0]["name"][:3])
        p.locator("#beatlight-find-list [role=option]").first.wait_for(timeout=TIMEOUT_MS)
    assert_axe_clean(p, axe)


def assert_axe_clean(p, axe: str) -> None:
    """axe-core's WCAG 2.2 A and AA rules and best practices find no violation in page ``p``."""
    p.add_script_tag(content=axe)
    result = p.evaluate("""tags => axe.run(document, {runOnly: {type: "tag", values: tags}})
        .then(r => ({violations: r.violations.map(v => ({id: v.id, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)})),
            passes: r.passes.length}))""", AXE_TAGS)  # fmt: skip
    assert result["violations"] == [], result["violations"]
    assert result["passes"] > 5  # axe ran its rules on a real page
