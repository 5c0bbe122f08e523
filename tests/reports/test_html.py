"""The PCC report's page (reports.build_report) from real documents: every section, the
document's numbers, nothing fetched from anywhere, nothing finer than a ward."""

from __future__ import annotations

import copy
import re
from collections import Counter
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from beatlight.configs import method
from beatlight.reports import SECTIONS, build_report, window_for
from beatlight.reports.charts import STATUS_WORDS
from beatlight.reports.formatting import hours, pct
from beatlight.reports.method import BOUNDARY_ATTRIBUTION, OGL
from beatlight.times import parse_time
from tests.reports.conftest import ZONE

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def page(run) -> str:
    return build_report(
        run.document, history=run.history, outlines=run.outlines,
        district_outlines=run.district_outlines, period_days=7, zone=ZONE, method=method(),
    )  # fmt: skip


class _Outline(HTMLParser):
    """Headings, tags and attributes of a page, and the text of each section."""

    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str]] = []
        self.section: str | None = None
        self.text: dict[str, str] = {}
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attributes += [(tag, k, v or "") for k, v in attrs]
        if tag == "section":
            self.section = dict(attrs)["id"]
            self.text[self.section] = ""
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
        if self.section:
            self.text[self.section] += data


def _outline(page: str) -> _Outline:
    parser = _Outline()
    parser.feed(page)
    return parser


def test_every_section_is_there_in_order(page):
    assert page.startswith("<!DOCTYPE html>")
    assert _outline(page).h2 == list(SECTIONS)


def test_headline_figures_are_the_documents(run, page):
    window = window_for(7)
    force = run.document["force"]["windows"][window]
    statuses = Counter(w["windows"][window]["status"] for w in run.document["wards"])
    fair = run.document["fairness"][window]
    text = _outline(page).text["headline"]
    assert hours(force["patrol_minutes"]) in text
    assert pct(force["foot_minutes"] / force["patrol_minutes"]) in text
    assert pct(force["coverage"]) in text
    assert f"{statuses['green']} of {len(run.document['wards'])}" in text
    assert f"{statuses['red']} below target, {statuses['none']} with nobody seen" in text
    assert pct(fair["share_residents_red"]) in text


def test_the_wards_below_target_are_those_not_green(run, page):
    window = window_for(7)
    below = [w for w in run.document["wards"] if w["windows"][window]["status"] != "green"]
    text = _outline(page).text["below"]
    if not below:
        assert "Every ward met its target" in text
    for ward in below:
        assert ward["code"] in text
    for ward in run.document["wards"]:
        if ward not in below:
            assert ward["code"] not in text


def test_trends_show_each_days_figures_from_the_document_at_its_midnight(run, page):
    trends = page[page.index('<section id="trends">') : page.index('<section id="fairness">')]
    shown = 0
    for document in run.history:
        day = (parse_time(document["as_of"]).astimezone(ZONE) - timedelta(hours=12)).date()
        row = re.search(rf"<tr><td>{day:%a %d %b %Y}</td>(.*?)</tr>", trends)
        if row is None:
            continue  # before the period
        force = document["force"]["windows"]["24h"]
        if document["accepted"]:
            assert hours(force["patrol_minutes"]) in row.group(1)
            assert hours(force["foot_minutes"]) in row.group(1)
            shown += 1
        else:
            assert "no data" in row.group(1)
    assert shown >= 2


def test_the_map_colours_every_ward_by_its_status(run, page):
    window = window_for(7)
    counts = Counter(w["windows"][window]["status"] for w in run.document["wards"])
    svg = page[page.index('<section id="map">') : page.index('<section id="below">')]
    assert svg.count("<path ") >= len(run.document["wards"])
    for code in run.outlines:
        assert f"<title>{code}</title>" in svg
    for status, n in counts.items():
        assert f"{STATUS_WORDS[status]}: {n} ward" in svg


def test_fairness_gives_the_ginis_and_shares(run, page):
    fair = run.document["fairness"][window_for(7)]
    text = _outline(page).text["fairness"]
    assert f"{fair['gini_minutes_per_km2']:.2f}" in text
    assert pct(fair["share_wards_red"]) in text


def test_method_notes_state_the_settings(page):
    text = _outline(page).text["method"]
    for words in ("1 minute slots", "5 minutes apart", "at least 10 minutes", "200 m grid",
                  "600 minutes", "75%", "Europe/London"):  # fmt: skip
        assert words in text


def test_nothing_is_fetched_from_anywhere(page):
    outline = _outline(page)
    assert not {"script", "link", "img", "iframe", "object", "embed", "video", "audio"} & set(
        outline.tags
    )
    assert not [a for a in outline.attributes if a[1] in ("src", "href", "srcset", "xlink:href")]
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    # The only address is the licence's, as text in the attribution.
    addresses = re.findall(r"https?://[^\s<\"']+", page)
    assert addresses == [OGL]
    assert OGL in outline.text["attribution"]
    assert BOUNDARY_ATTRIBUTION in outline.text["attribution"]


def test_no_unit_and_nothing_finer_than_a_ward(run, page):
    assert not (set(re.findall(r"\bu\d+\b", page)) & run.units)
    for word in ("distinct_units", "unit_minutes", "lat", "lon"):
        assert not re.search(rf"\b{word}\b", page)


def test_names_are_escaped(run):
    document = copy.deepcopy(run.document)
    document["wards"][0]["name"] = "<script>Tom & Jerry</script>"
    for ward in document["wards"]:
        ward["windows"][window_for(7)]["status"] = "red"
    page = build_report(
        document, history=run.history, outlines=run.outlines, zone=ZONE, method=method()
    )
    assert "<script>" not in page and "&lt;script&gt;Tom &amp; Jerry" in page


def test_without_outlines_or_history_every_section_is_still_there(run):
    page = build_report(run.document, period_days=28, zone=ZONE, method=method())
    outline = _outline(page)
    assert outline.h2 == list(SECTIONS)
    assert "No ward outlines" in outline.text["map"]
    assert outline.text["trends"].count("no data for this day") == 28
    assert "28 days to" in outline.text["headline"]


def test_figures_revised_after_first_publication_are_marked_with_when(run, page):
    """SPEC "Late uploads": the hour's figures and a day of the trends were published again
    after late pings changed them; the report marks them and says when."""
    window = window_for(7)
    document = copy.deepcopy(run.document)
    for ward in document["wards"]:
        ward["windows"][window]["status"] = "red"  # every ward is in the table below target
    revised, unchanged = document["wards"][0], document["wards"][1]
    document |= {"revision": 2, "revised_at": "2026-11-23T07:40:12Z"}
    revised |= {"revision": 2, "revised_at": "2026-11-23T07:40:12Z"}
    history = copy.deepcopy(run.history)
    day = next(d for d in history if d["accepted"])
    day |= {"revision": 1, "revised_at": "2026-11-22T09:05:00Z"}
    marked = build_report(
        document, history=history, outlines=run.outlines, zone=ZONE, method=method()
    )
    outline = _outline(marked)
    headline = outline.text["headline"]
    assert "revised after they were first published (revision 2, made Monday 23 November " \
           "2026, 07:40 GMT)" in headline  # fmt: skip
    assert f"marked †: {revised['name']}." in headline
    row = re.search(rf"<tr><td>{re.escape(revised['name'])}(.*?)</tr>", marked).group(1)
    assert 'title="Revised after first publication, at 2026-11-23T07:40:12Z">†' in row
    row = re.search(rf"<tr><td>{re.escape(unchanged['name'])}(.*?)</tr>", marked).group(1)
    assert "†" not in row
    local = (parse_time(day["as_of"]).astimezone(ZONE) - timedelta(hours=12)).date()
    assert re.search(rf"<tr><td>{local:%a %d %b %Y} <abbr[^>]*2026-11-22T09:05:00Z", marked)
    assert "Days marked † in the trends" in headline
    # A report of figures as first published (or from the batch report) marks nothing.
    assert "†" not in page and "Revised." not in page
