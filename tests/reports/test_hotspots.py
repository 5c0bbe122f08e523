"""The PCC report's "Hot spots and peak-time commitments" from documents with zones made by
the independent oracles (tests/reports/zone_documents.py): a strip of one square per day
per zone, the sessions met and missed that the documents hold, the zones furthest behind
in the stated order, no unit, nothing fetched; and no such section without zones."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from beatlight.configs import method
from beatlight.reports import SECTIONS, build_report
from beatlight.reports.formatting import hours, pct
from beatlight.reports.hotspots import DAY_MARKS, HEADING
from beatlight.reports.method import OGL
from beatlight.times import parse_time
from tests.cli.test_report_html import _chromium, chromium  # noqa: F401 (chromium: a fixture)
from tests.reports.conftest import ZONE
from tests.reports.zone_documents import PERIOD_DAYS

pytestmark = pytest.mark.integration

#: The period's days (tests/reports/zone_documents.py): Saturday 3 October to Friday 6 November.
DAYS = [date(2026, 10, 3) + timedelta(days=k) for k in range(PERIOD_DAYS)]


def _page(run, **kw) -> str:
    kw = {"history": run.history, "outlines": run.outlines, "period_days": PERIOD_DAYS} | kw
    return build_report(run.document, zone=ZONE, method=method(), **kw)


@pytest.fixture(scope="module")
def page(zone_run) -> str:
    return _page(zone_run)


class _Zones(HTMLParser):
    """The section's headings, its zones' squares, and the furthest-behind table's rows."""

    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.cells: dict[str, list[dict]] = {}  # zone code -> its squares, in order
        self.behind: list[str] = []  # the furthest-behind table's zone codes, in order
        self.text = ""  # the section's text
        self._zone: str | None = None
        self._cell: dict | None = None
        self._stack: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._stack.append(tag)
        if tag == "section":
            self._in = a.get("id") == "zones"
        if tag == "div" and "zone" in (a.get("class") or "").split():
            self._zone = a["id"].removeprefix("zone-")
            self.cells[self._zone] = []
        if tag == "li" and "day" in (a.get("class") or "").split() and self._zone:
            self._cell = {**a, "state": a["class"].split()[1], "text": ""}
            self.cells[self._zone].append(self._cell)
        if tag == "span" and a.get("class") == "code" and self._in and self._zone is None:
            self._stack[-1] = "behind-code"

    def handle_endtag(self, tag):
        self._stack.pop()
        if tag == "li":
            self._cell = None
        if tag == "div" and self._zone and "div" not in self._stack:
            self._zone = None

    def handle_data(self, data):
        if self._stack and self._stack[-1] == "h2":
            self.h2.append(data)
        if self._in:
            self.text += data
        if self._cell is not None:
            self._cell["text"] += data
        if self._stack and self._stack[-1] == "behind-code":
            self.behind.append(data)


def _zones(page: str) -> _Zones:
    parser = _Zones()
    parser.feed(page)
    return parser


def _sessions(run) -> dict[tuple[str, str], dict]:
    """Every session the documents list, by zone and start: the latest document's figures."""
    documents = [d for d in run.history if "zones" in d] + [run.document]
    out = {}
    for document in sorted(documents, key=lambda d: parse_time(d["as_of"])):
        for zone in document["zones"]:
            for session in zone["sessions"]:
                out[(zone["code"], session["start"])] = session
    return out


def _in_period(run) -> dict[str, list[dict]]:
    """Each zone's sessions that started on a day of the period (local time)."""
    out: dict[str, list[dict]] = {z["code"]: [] for z in run.document["zones"]}
    for (code, start), session in sorted(_sessions(run).items()):
        if parse_time(start).astimezone(ZONE).date() in DAYS:
            out[code].append(session)
    return out


def _state(session: dict) -> str:
    return "open" if session["open"] else "met" if session["met"] else "missed"


def test_the_section_comes_after_the_trends(page):
    index = SECTIONS.index("Trends") + 1
    assert _zones(page).h2 == [*SECTIONS[:index], HEADING, *SECTIONS[index:]]


def test_each_zone_has_one_square_per_day_of_the_period(zone_run, page):
    cells = _zones(page).cells
    assert list(cells) == [z["code"] for z in zone_run.document["zones"]]
    name = {z["code"]: z["name"] for z in zone_run.document["zones"]}
    for code, squares in cells.items():
        assert len(squares) == PERIOD_DAYS
        for day, square in zip(DAYS, squares, strict=True):
            # Each square says in words what it shows: for screen readers, and as a tooltip.
            assert square["role"] == "img" and square["title"] == square["aria-label"]
            assert square["title"].startswith(f"{name[code]}, {day:%a} {day.day} {day:%b}: ")


def test_the_squares_and_counts_are_the_sessions_in_the_documents(zone_run, page):
    parsed = _zones(page)
    expected = _in_period(zone_run)
    assert sum(map(len, expected.values())) > sum(len(z["sessions"]) for z in
                                                  zone_run.document["zones"]) - 20  # fmt: skip
    states = Counter(_state(s) for sessions in expected.values() for s in sessions)
    assert states["met"] and states["missed"] and states["open"], states
    for code, sessions in expected.items():
        squares = parsed.cells[code]
        by_day = Counter()
        for s in sessions:
            by_day[parse_time(s["start"]).astimezone(ZONE).date()] += 1
        for day, square in zip(DAYS, squares, strict=True):
            mine = [_state(s) for s in sessions
                    if parse_time(s["start"]).astimezone(ZONE).date() == day]  # fmt: skip
            worst = next((s for s in ("missed", "open", "met") if s in mine), "none")
            assert square["state"] == worst, (code, day)
            # The mark tells the state apart without colour: one per session.
            marks = "".join(DAY_MARKS[s] for s in mine) or DAY_MARKS["none"]
            assert square["text"].endswith(marks), (code, day, square)
        met = sum(_state(s) == "met" for s in sessions)
        missed = sum(_state(s) == "missed" for s in sessions)
        marks = "".join(square["text"] for square in squares)
        assert (marks.count("✓"), marks.count("✗")) == (met, missed)
        if sessions:
            assert f"{met} session{'s' if met != 1 else ''} met, {missed} missed" in parsed.text


def test_sessions_older_than_28_days_come_from_the_midnight_documents(zone_run, page):
    """The latest document lists 28 days of sessions; the period's first week is in older
    ones, and a session still on in an older document has ended in a later one."""
    listed = {(z["code"], s["start"]) for z in zone_run.document["zones"] for s in z["sessions"]}
    older = [k for k, s in _sessions(zone_run).items() if k not in listed
             and parse_time(s["start"]).astimezone(ZONE).date() in DAYS]  # fmt: skip
    assert older
    once_open = {(z["code"], s["start"]) for d in zone_run.history for z in d.get("zones", ())
                 for s in z["sessions"] if s["open"]}  # fmt: skip
    assert once_open and all(not _sessions(zone_run)[k]["open"] for k in once_open)
    for code, start in older:
        day = parse_time(start).astimezone(ZONE).date()
        assert _zones(page).cells[code][DAYS.index(day)]["state"] != "none"


def test_the_zones_furthest_behind_follow_the_stated_rule(zone_run, page):
    ranked = []
    for code, sessions in _in_period(zone_run).items():
        met = sum(_state(s) == "met" for s in sessions)
        missed = sum(_state(s) == "missed" for s in sessions)
        if missed:
            patrol = sum(s["patrol_minutes"] for s in sessions)
            ranked.append((met / (met + missed), -missed, patrol, code))
    assert len(ranked) > 5
    assert _zones(page).behind == [code for *_, code in sorted(ranked)[:5]]
    method_text = page[page.index('<section id="method">') :]
    assert "the lowest share of ended sessions met first, then the most sessions missed" in (
        method_text
    )


def test_zones_with_a_weekly_target_show_attainment_for_7_and_28_days(zone_run, page):
    for zone in zone_run.document["zones"]:
        block = re.search(rf'<div class="zone" id="zone-{zone["code"]}">(.*?)</div>', page)
        targeted = zone["windows"]["7d"]["target_minutes"] is not None
        assert ("Weekly patrol target" in block.group(1)) == targeted
        for window, days in (("7d", 7), ("28d", 28)) if targeted else ():
            figures = zone["windows"][window]
            share = pct(figures["attainment"], floor=True)
            shown = (f"last {days} days {hours(figures['patrol_minutes'])} of "
                     f"{hours(figures['target_minutes'])} ({share})")  # fmt: skip
            assert shown in block.group(1)


def test_no_unit_and_nothing_fetched(zone_run, page):
    assert not [u for u in zone_run.units if u in page]
    for word in ("distinct_units", "unit_minutes", "unit minutes"):
        assert word not in page
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\b(src|href|srcset)=", page)
    assert "url(" not in page and "@import" not in page
    assert re.findall(r"https?://[^\s<\"']+", page) == [OGL]


def test_a_shorter_period_has_a_square_per_day(zone_run):
    cells = _zones(_page(zone_run, period_days=7)).cells
    assert {len(squares) for squares in cells.values()} == {7}


def test_days_no_document_lists_are_shown_as_without_figures(zone_run):
    """Only the latest document: it lists the 28 days before 01:00 on 7 November, so the
    days to Saturday 10 October have no figures, rather than "no session"."""
    cells = _zones(_page(zone_run, history=())).cells
    for squares in cells.values():
        unknown = [DAYS[i] for i, s in enumerate(squares) if s["state"] == "unknown"]
        assert unknown == DAYS[:8]
        assert all(DAY_MARKS["unknown"] in s["text"] for s in squares[:8])
        assert all("no figures for this day" in s["title"] for s in squares[:8])
        assert not any(DAY_MARKS["unknown"] in s["text"] for s in squares[8:])


def test_without_zones_there_is_no_such_section(zone_run, run):
    ward_only = build_report(run.document, history=run.history, zone=ZONE, method=method())
    empty = build_report(run.document | {"zones": []}, history=run.history, zone=ZONE,
                         method=method())  # fmt: skip
    assert ward_only == empty and HEADING not in empty and 'id="zones"' not in empty
    document = {k: v for k, v in zone_run.document.items() if k != "zones"}
    page = build_report(document, history=zone_run.history, zone=ZONE, method=method())
    assert _zones(page).h2 == list(SECTIONS) and "strip" not in page


@pytest.mark.e2e
def test_the_section_prints_in_a_real_chromium_offline(zone_run, page, chromium, tmp_path):  # noqa: F811
    """The page with zones printed to PDF as tests/cli/test_report_html.py prints the CLI's:
    the section's heading, every zone's name and the strip's legend are in the PDF."""
    from pypdf import PdfReader

    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    printed = _chromium(chromium, tmp_path / "profile", "--no-pdf-header-footer",
                        f"--print-to-pdf={pdf}", html.resolve().as_uri())  # fmt: skip
    assert pdf.exists(), printed.stderr[-2000:]
    text = " ".join(re.sub(r"\s+", " ", unicodedata.normalize("NFKC", p.extract_text()))
                    for p in PdfReader(pdf).pages)  # fmt: skip
    assert HEADING in text and "Furthest behind" in text and "a session missed" in text
    for zone in zone_run.document["zones"]:
        assert zone["name"] in text
