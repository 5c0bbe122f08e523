"""The ward page builder: plain words from published figures, escaped names, a chart
with a text alternative, and no script (pure: no API, no browser)."""

from __future__ import annotations

from datetime import date

import pytest

from beatlight.maps.ward_page import (
    Period,
    WardPage,
    long_date,
    not_found_page,
    ward_page,
    wards_index_page,
)

pytestmark = pytest.mark.unit


def figures(**changes):
    base = {"code": "W1", "name": "Ward", "patrol_hours": 12, "foot_hours": 3,
            "longest_gap_hours": 30, "distinct_units": 5, "units_suppressed": False,
            "coverage": 0.42, "target_hours": 10, "status": "green"}  # fmt: skip
    return base | changes


def page(**changes) -> WardPage:
    values = {"code": "W1", "name": "Hanley <Park> & Shelton", "neighbourhood": "N1",
              "neighbourhood_name": "Hanley", "neighbours": [{"code": "W2", "name": "Birches"}],
              "weeks": [Period("week", date(2026, 11, 2), figures())],
              "days": [Period("day", date(2026, 11, 8), figures(
                  patrol_hours=0, foot_hours=0, longest_gap_hours=24, distinct_units=0,
                  status="none", target_hours=1))]}  # fmt: skip
    return WardPage(**(values | changes))


def test_the_last_published_week_in_words():
    html = ward_page(page())
    assert "Last published week: the week Monday 2 November 2026 to Sunday 8 November 2026" in html
    for words in (
        "About 12 hours of visible patrol (about 3 hours on foot).",
        "The commitment is about 10 hours a week: met its target.",
        "The longest time with nobody seen was about 30 hours.",
        "Seen by 5 different patrols.",
        "Patrols passed through 42% of the ward.",
    ):
        assert words in html, words  # fmt: skip


def test_a_day_with_nobody_and_a_suppressed_count_say_so():
    html = ward_page(page(weeks=[Period("week", date(2026, 11, 2), figures(
        distinct_units=None, units_suppressed=True, status="red", patrol_hours=1))],
        min_units=3))  # fmt: skip
    assert "Seen by fewer than 3 different patrols (the exact number is not published)." in html
    assert "well below its target" in html
    assert "<td>No visible patrol recorded</td>" in html  # the day of 8 November
    assert "<td>fewer than 3</td>" in html


def test_names_are_escaped_and_nothing_runs():
    html = ward_page(page())
    assert "Hanley &lt;Park&gt; &amp; Shelton" in html and "<Park>" not in html
    assert "<script" not in html
    index = wards_index_page([{"code": "W 1/<x>", "name": "<b>Bad</b>", "neighbourhood": "N",
                               "neighbourhood_name": "N"}])  # fmt: skip
    assert "&lt;b&gt;Bad&lt;/b&gt;" in index and 'href="/public/wards/W%201/%3Cx%3E"' in index
    missing = not_found_page("“<img src=x>”")
    assert "&lt;img src=x&gt;" in missing and "<img" not in missing


def test_the_chart_has_a_text_alternative_and_a_table_of_the_same_figures():
    html = ward_page(page())
    assert html.count('role="img"') == 2  # weeks and days
    assert '<title id="chart-week-title">' in html
    assert "<caption>Recent weeks: the figures of the chart, newest first</caption>" in html
    assert '<th scope="row">Monday 2 November 2026</th><td>about 12 hours</td>' in html


def test_nothing_published_yet():
    html = ward_page(page(weeks=[], days=[]))
    assert "Nothing is published for this ward yet" in html
    assert "<svg" not in html and "<table" not in html


def test_long_dates():
    assert long_date(date(2026, 11, 2)) == "Monday 2 November 2026"
