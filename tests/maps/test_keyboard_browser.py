"""Every map without a mouse and without colour, in real headless Chromium: the live and
coverage maps list their wards as a sortable table with the status in words (the live
table following new figures), each ward on the map is reached with the keyboard alone
and shows its figures, and axe-core finds no WCAG 2.2 A or AA violation on either map.
The public map says the suppression threshold the API applies, not a fixed number."""

from __future__ import annotations

import re

import pytest

from beatlight.maps.palette import STATUS_LABELS
from tests.api.conftest import HOURS, fill
from tests.maps.conftest import LIVE
from tests.maps.test_browser import TIMEOUT_MS, _live_after_new_events, _open, _statuses
from tests.maps.test_residents_browser import assert_axe_clean

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: The staff maps' statuses in words, as their tables say them ("Close", not "Close (75% …)").
STAFF_WORDS = {s: re.sub(r" \(.*\)$", "", w) for s, w in STATUS_LABELS["live"]}
MAPS = {"live": "inspector", "coverage": "pcc"}


def _open_with_table(watch, site, kind: str):
    page = _open(watch, site, f"/maps/{kind}", MAPS[kind])
    page.page.wait_for_function(
        f"() => document.querySelectorAll('#beatlight-wards tbody tr').length === "
        f"{len(site.wards)}",
        timeout=TIMEOUT_MS,
    )  # fmt: skip
    return page


def _table(page) -> dict[str, list[str]]:
    """``{code: [the row's cells' words]}`` of the table of wards, the name first."""
    return page.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('#beatlight-wards tbody tr')].map(tr => [tr.dataset.code,
            [...tr.querySelectorAll('th, td')].map(c => c.innerText)]))""")


@pytest.mark.parametrize(("kind", "window"), [("live", "24h"), ("coverage", "7d")])
def test_staff_maps_list_every_ward_with_its_status_in_words(watch, site, documents, kind,
                                                               window):  # fmt: skip
    page = _open_with_table(watch, site, kind)
    p = page.page
    statuses = _statuses(documents[LIVE], window)
    names = {w["code"]: w["name"] for w in documents[LIVE]["wards"]}
    rows = _table(page)
    assert set(rows) == set(statuses)
    for code, cells in rows.items():
        assert cells[0] == names[code]
        assert cells[1].startswith(STAFF_WORDS[statuses[code]]), cells  # words, not colour
    # Each ward's shape on the map is named by its ward and status too.
    labels = p.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        'path.beatlight-ward')].map(e => [e.dataset.code, e.getAttribute('aria-label')]))""")
    for code, label in labels.items():
        assert label.startswith(f"{names[code]}: {STAFF_WORDS[statuses[code]]}"), label
    if kind == "coverage":  # the wards listed as missing their target say so in words
        missed = set(p.locator(".beatlight-missed-list li").all_inner_texts())
        for cells in rows.values():
            listed = any(m.startswith(cells[0] + " (") for m in missed)
            assert cells[6] == ("1 week running" if listed else "No"), cells
    # Sorting by status puts the wards in the order of the statuses, with the keyboard.
    button = p.locator("#beatlight-wards thead button", has_text="Status")
    button.focus()
    p.keyboard.press("Enter")
    assert button.locator("xpath=..").get_attribute("aria-sort") == "ascending"
    rank = ["none", "red", "amber", "green"]
    order = [rank.index(statuses[c]) for c in _table(page)]
    assert order == sorted(order)
    p.locator("#beatlight-wards").scroll_into_view_if_needed()
    page.screenshot(f"{kind}-table")
    page.assert_clean()


def test_live_map_keyboard_walk_reaches_a_wards_figures(watch, site, documents):
    """Keyboard only: Tab from the top of the page to the wards, the arrow keys from ward
    to ward (by name), each showing its figures in words; Escape hides them, Enter shows
    them again, and the ward with the focus is outlined visibly."""
    page = _open_with_table(watch, site, "live")
    p = page.page
    by_name = sorted(documents[LIVE]["wards"], key=lambda w: w["name"])
    presses = 0
    while not p.evaluate("() => document.activeElement.matches('path.beatlight-ward')"):
        p.keyboard.press("Tab")
        presses += 1
        assert presses <= 10, "the wards are not within 10 presses of Tab"
    focused = p.evaluate("() => document.activeElement.dataset.code")
    assert focused == by_name[0]["code"]  # the first ward by name
    tip = p.locator(".beatlight-tooltip")
    tip.wait_for(timeout=TIMEOUT_MS)
    assert tip.locator("strong").inner_text() == by_name[0]["name"]
    # The ward says what it is and its status; its figures describe it.
    described = p.evaluate("""() => {
        const e = document.activeElement;
        return [e.getAttribute('role'), e.getAttribute('aria-label'),
                document.getElementById(e.getAttribute('aria-describedby')).innerText]; }""")
    assert described[0] == "button"
    status = STAFF_WORDS[by_name[0]["windows"]["24h"]["status"]]
    assert described[1].startswith(f"{by_name[0]['name']}: {status}")
    assert "Patrol" in described[2] and "Last seen" in described[2]
    # The focus is visible: a 5 px dark outline (the ward's own is 1 px).
    assert p.evaluate("() => getComputedStyle(document.activeElement).strokeWidth") == "5px"
    page.screenshot("live-keyboard-ward")
    # Only one ward is a stop of Tab: the one last reached.
    stops = p.evaluate("""() => [...document.querySelectorAll('path.beatlight-ward')]
        .filter(e => e.getAttribute('tabindex') === '0').length""")
    assert stops == 1
    p.keyboard.press("ArrowDown")
    second = by_name[1]
    assert p.evaluate("() => document.activeElement.dataset.code") == second["code"]
    # A closed tooltip fades out for 200 ms: look for the ward's own.
    tip = p.locator(".beatlight-tooltip", has_text=second["name"])
    tip.wait_for(timeout=TIMEOUT_MS)
    p.keyboard.press("Escape")
    tip.wait_for(state="detached", timeout=TIMEOUT_MS)
    p.keyboard.press("Enter")
    tip.wait_for(timeout=TIMEOUT_MS)
    p.keyboard.press("End")
    assert p.evaluate("() => document.activeElement.dataset.code") == by_name[-1]["code"]
    # Shift+Tab leaves the wards at once, Tab comes back to the last one reached.
    p.keyboard.press("Shift+Tab")
    assert not p.evaluate("() => document.activeElement.matches('path.beatlight-ward')")
    p.keyboard.press("Tab")
    assert p.evaluate("() => document.activeElement.dataset.code") == by_name[-1]["code"]
    page.assert_clean()


def test_live_table_follows_new_figures_and_keeps_the_keyboards_place(watch, sites,
                                                                       report_geography,
                                                                       tmp_path):  # fmt: skip
    site = sites()  # its own store: this test changes it
    page = _open_with_table(watch, site, "live")
    p = page.page
    code = site.wards[-1]
    p.evaluate("window.__sameDocument = true")
    button = p.locator(f"#beatlight-wards tr[data-code='{code}'] button")
    button.focus()
    before = _table(page)[code]
    after = _live_after_new_events(tmp_path, report_geography, code)
    fill(site.engine, {}, live=after)  # as the materialiser stores the stream's snapshot
    figures = next(w for w in after["wards"] if w["code"] == code)["windows"]["24h"]
    words = STAFF_WORDS[figures["status"]]
    p.wait_for_function(
        "([code, words, before]) => { const cells = [...document.querySelectorAll("
        "`#beatlight-wards tr[data-code='${code}'] th, #beatlight-wards tr[data-code='${code}'] "
        "td`)].map(c => c.innerText); return cells[1].startsWith(words) && "
        "JSON.stringify(cells) !== JSON.stringify(before); }",
        arg=[code, words, before], timeout=TIMEOUT_MS,
    )  # fmt: skip
    assert _table(page)[code] != before
    assert p.evaluate("window.__sameDocument") is True  # no reload
    # The keyboard is where it was: on the ward's "Show" button, which still works.
    assert p.evaluate("() => document.activeElement.closest('tr').dataset.code") == code
    p.keyboard.press("Enter")
    assert p.evaluate("() => document.activeElement.dataset.code") == code  # on the map
    name = next(w["name"] for w in after["wards"] if w["code"] == code)
    p.locator(".beatlight-tooltip").filter(has_text=name).wait_for(timeout=TIMEOUT_MS)
    page.assert_clean()


@pytest.mark.parametrize("kind", ["live", "coverage"])
def test_axe_finds_no_violation_on_the_staff_maps(watch, site, axe, kind):
    """axe-core (WCAG 2.2 A and AA, best practices) in the real page, figures loaded, a
    ward's figures open from the keyboard."""
    page = _open_with_table(watch, site, kind)
    p = page.page
    p.locator("path.beatlight-ward").first.focus()
    p.locator(".beatlight-tooltip").wait_for(timeout=TIMEOUT_MS)
    assert_axe_clean(p, axe)


def test_public_map_says_the_apis_suppression_threshold(watch, sites, documents):
    week = documents[HOURS[4]]["wards"]
    most = max(w["windows"]["7d"]["distinct_units"] for w in week)
    site = sites(points=False, settings={"public_min_units": most + 1})
    ward = next(w for w in week if w["windows"]["7d"]["distinct_units"] > 0)
    page = _open(watch, site, "/maps/public")
    p = page.page
    row = p.locator(f"#beatlight-wards tr[data-code='{ward['code']}']")
    row.wait_for(timeout=TIMEOUT_MS)
    cells = row.locator("td").all_inner_texts()
    assert f"fewer than {most + 1} patrols" in cells
    assert "fewer than 3" not in p.locator("#beatlight-wards").inner_text()
    row.locator("button").click()
    tip = p.locator(".beatlight-tooltip").inner_text()
    assert f"Seen by fewer than {most + 1} patrols (the exact number is not published)." in tip
    page.assert_clean()
