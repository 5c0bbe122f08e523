"""``/api/v1/report?format=html``: the PCC report from the store, for pcc and admin only."""

from __future__ import annotations

import re

import pytest

from beatlight.reports import SECTIONS
from beatlight.reports.formatting import hours
from tests.api.conftest import HOURS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MONDAY = HOURS[4]  # 2026-11-09T00:00Z, a local midnight; 2026-11-04T00:00Z is stored too
Z = MONDAY.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_pcc_gets_the_printable_report_with_every_section(api, documents):
    response = api.get("/api/v1/report", params={"as_of": Z, "format": "html"},
                       headers=api.as_role("pcc"))  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert re.findall(r"<h2>(.*?)</h2>", page) == list(SECTIONS)
    force = documents[MONDAY]["force"]["windows"]["7d"]
    assert hours(force["patrol_minutes"]) in page
    # Trends from the stored local midnights of the week: 3 November is the day that
    # ends at 2026-11-04T00:00Z; the days without a stored snapshot have no data.
    day = documents[HOURS[3]]["force"]["windows"]["24h"]
    row = re.search(r"<tr><td>Tue 03 Nov 2026</td>(.*?)</tr>", page)
    assert row and hours(day["patrol_minutes"]) in row.group(1)
    assert page.count("no data for this day") == 5
    assert "<script" not in page and "<link" not in page


def test_admin_gets_it_too_and_the_period_is_a_parameter(api):
    response = api.get("/api/v1/report", params={"as_of": Z, "format": "html", "period_days": 28},
                       headers=api.as_role("admin"))  # fmt: skip
    assert response.status_code == 200, response.text
    assert "28 days to" in response.text


@pytest.mark.parametrize(("role", "status"), [("inspector", 403), (None, 401)])
def test_others_may_not_have_it(api, role, status):
    headers = api.as_role(role) if role else {}
    response = api.get("/api/v1/report", params={"as_of": Z, "format": "html"}, headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize("params", [{"format": "pdf"}, {"format": "html", "period_days": 0},
                                    {"format": "html", "period_days": 93}])  # fmt: skip
def test_a_bad_format_or_period_is_a_422(api, params):
    response = api.get("/api/v1/report", params={"as_of": Z, **params},
                       headers=api.as_role("pcc"))  # fmt: skip
    assert response.status_code == 422


def test_a_report_at_an_hour_not_stored_is_a_404(api):
    params = {"as_of": "2026-12-01T00:00:00Z", "format": "html"}
    response = api.get("/api/v1/report", params=params, headers=api.as_role("pcc"))
    assert response.status_code == 404
