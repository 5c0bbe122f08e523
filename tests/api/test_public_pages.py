"""Residents' ward pages (``/public/wards/{code}``) show the public API's published
figures and nothing finer (SPEC "Privacy and publication rules"), in plain HTML."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest

from beatlight.api.publication import whole_hours
from beatlight.maps.ward_page import long_date
from tests.api.conftest import HOURS, fill
from tests.api.test_public import DAY_END, WEEK_END, public_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

_ROW = re.compile(r'<tr><th scope="row">([^<]+)</th>((?:<td>[^<]*</td>)+)</tr>')


def rows(html: str) -> list[list[str]]:
    """The rows of the page's tables: the period, then its cells."""
    return [[unescape(day)] + re.findall(r"<td>([^<]*)</td>", cells)
            for day, cells in _ROW.findall(html)]  # fmt: skip


def hours_words(n: int) -> str:
    return "less than half an hour" if n == 0 else f"about {n} hour{'' if n == 1 else 's'}"


def test_a_ward_page_shows_exactly_the_published_days_and_weeks(engine, documents,
                                                                 report_geography):  # fmt: skip
    fill(engine, documents, live=documents[HOURS[2]])
    # Units 4 to 6 per ward: a threshold of 5 suppresses some counts and shows others.
    api = public_client(engine, report_geography, WEEK_END + timedelta(days=1), public_min_units=5)
    periods = api.get("/api/v1/public/periods").json()
    assert periods["weeks"] == ["2026-11-02"] and periods["days"] == ["2026-11-08", "2026-11-03"]
    suppressed = 0
    for ward in documents[HOURS[4]]["wards"]:
        code = ward["code"]
        response = api.get(f"/public/wards/{code}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src" not in response.headers["content-security-policy"]
        html = response.text
        assert "<script" not in html
        published = []
        for period, days in (("week", periods["weeks"]), ("day", periods["days"])):
            for day in days:
                body = api.get("/api/v1/public/visibility",
                               params={"period": period, "date": day}).json()  # fmt: skip
                figures = next(w for w in body["wards"] if w["code"] == code)
                units = ("fewer than 5" if figures["units_suppressed"]
                         else str(figures["distinct_units"] or "none"))  # fmt: skip
                suppressed += figures["units_suppressed"]
                published.append([long_date(date.fromisoformat(day)),
                                  hours_words(figures["patrol_hours"]),
                                  hours_words(figures["foot_hours"]),
                                  hours_words(figures["target_hours"]), _status(figures["status"]),
                                  hours_words(figures["longest_gap_hours"]), units])  # fmt: skip
        # Every row is a published period with the public API's figures; no other row.
        assert rows(html) == published
        # The last published week, in words, from the 7d window ending Monday 9 November.
        week = ward["windows"]["7d"]
        assert (
            "Last published week: the week Monday 2 November 2026 to Sunday 8 November 2026"
        ) in html
        text = unescape(re.sub(r"<[^>]+>", " ", html))
        if week["patrol_minutes"]:
            assert f"About {whole_hours(week['patrol_minutes'])} hour" in text
        # Nothing finer than a whole hour or a day: no clock time, minutes or live words.
        said = text.replace("nothing here is live", "")
        assert not re.search(r"\b\d{1,2}:\d{2}\b|\bago\b|last seen|\blive\b", said)
        assert not re.search(r"\b\d+ min(ute)?s?\b", text)
    assert suppressed  # the suppression was exercised


def test_the_current_day_and_unpublished_hours_never_appear(engine, documents, report_geography):
    """Hour snapshots inside a day, and a day not yet past the delay, are never shown."""
    fill(engine, documents, live=documents[HOURS[2]])
    code = documents[HOURS[3]]["wards"][0]["code"]
    early = public_client(engine, report_geography, DAY_END + timedelta(hours=23, minutes=59))
    html = early.get(f"/public/wards/{code}").text
    assert rows(html) == []
    assert "Nothing is published for this ward yet" in html
    on_time = public_client(engine, report_geography, DAY_END + timedelta(hours=24))
    html = on_time.get(f"/public/wards/{code}").text
    assert [r[0] for r in rows(html)] == ["Tuesday 3 November 2026"]
    assert "Last published day: Tuesday 3 November 2026" in html


def test_an_unknown_ward_is_a_plain_404_page(api):
    response = api.get("/public/wards/<script>alert(1)<" + "9" * 200)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "No such ward" in response.text and "<script>alert" not in response.text
    assert "9" * 65 not in response.text  # the code is cut, not repeated in full
    assert 'href="/maps/public"' in response.text


def test_every_ward_is_listed_by_neighbourhood(api, documents):
    html = api.get("/public/wards").text
    for ward in documents[HOURS[4]]["wards"]:
        assert f'href="/public/wards/{ward["code"]}">{ward["name"]}</a>' in html


def test_a_ward_page_links_its_neighbourhood(api, documents):
    wards = documents[HOURS[4]]["wards"]
    by_hood: dict[str, list[dict]] = {}
    for ward in wards:
        by_hood.setdefault(ward["neighbourhood"], []).append(ward)
    shared = next(group for group in by_hood.values() if len(group) > 1)
    html = api.get(f"/public/wards/{shared[0]['code']}").text
    for other in shared[1:]:
        assert f'href="/public/wards/{other["code"]}"' in html


def _status(status: str) -> str:
    from beatlight.maps.palette import STATUS_LABELS

    return dict(STATUS_LABELS["public"])[status]  # type: ignore[arg-type]
