"""Published answers are built once per stored hour and tagged: asked again, a 304 until
the hour is revised; never a tag, nor a 304, for a period that is not published."""

from __future__ import annotations

from datetime import timedelta

import pytest

from beatlight.api.snapshots import Snapshots
from tests.api.conftest import fill, revise
from tests.api.test_public import DAY_END, WEEK_END, public_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROUTES = [
    ("/api/v1/public/visibility", {"date": "2026-11-03"}),
    ("/api/v1/public/visibility", {"date": "2026-11-03", "format": "csv"}),
    ("/api/v1/public/geojson", {"period": "week", "date": "2026-11-02"}),
    ("/api/v1/public/visibility", {"period": "week"}),  # the latest published week
]


@pytest.fixture
def public(engine, documents, report_geography):
    """The public view a day after the week of 2 November ends, checking the store for
    revisions on every request."""
    fill(engine, documents)
    client = public_client(engine, report_geography, WEEK_END + timedelta(days=1))
    client.app.state.services.snapshots = Snapshots(engine, live_ttl=0, hour_ttl=0)
    return client


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_a_published_answer_asked_again_is_a_304_until_its_hour_is_revised(
    public, engine, documents, report_geography, path, params
):
    first = public.get(path, params=params)
    assert first.status_code == 200, first.text
    etag = first.headers["ETag"]
    again = public.get(path, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # A 304 tells caches what the 200 did: public, for five minutes, with its licence.
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"] == "public, max-age=300"
    assert again.headers["Link"] == first.headers["Link"]
    # Asked without the tag: the same answer, as kept (the same headers, the same bytes).
    same = public.get(path, params=params)
    assert same.content == first.content and same.headers["ETag"] == etag
    assert same.headers["content-type"] == first.headers["content-type"]
    other = public.get(path, params=params | {"date": "2026-11-08", "period": "day"},
                       headers={"If-None-Match": etag})  # fmt: skip
    assert other.status_code == 200 and other.headers["ETag"] != etag
    hour = DAY_END if params.get("period", "day") == "day" else WEEK_END
    revise(engine, documents, hour, minutes=600.0)  # ten more hours: it shows
    revised = public.get(path, params=params, headers={"If-None-Match": etag})
    assert revised.status_code == 200 and revised.headers["ETag"] != etag
    # Built from the revision, not the answer kept from before it.
    assert revised.content != first.content
    fresh = public_client(engine, report_geography, WEEK_END + timedelta(days=1))
    assert revised.content == fresh.get(path, params=params).content


def test_another_publication_setting_is_another_answer(engine, documents, report_geography):
    fill(engine, documents)
    now = DAY_END + timedelta(days=1)
    asked = {"date": "2026-11-03"}
    three = public_client(engine, report_geography, now).get("/api/v1/public/visibility",
                                                            params=asked)  # fmt: skip
    five = public_client(engine, report_geography, now, public_min_units=5)
    answer = five.get("/api/v1/public/visibility", params=asked,
                      headers={"If-None-Match": three.headers["ETag"]})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["ETag"] != three.headers["ETag"]
    assert answer.json()["wards"] != three.json()["wards"]


def test_a_period_not_yet_published_is_a_404_whatever_the_request_holds(
    engine, documents, report_geography
):
    fill(engine, documents)
    asked = {"date": "2026-11-03"}
    published = public_client(engine, report_geography, DAY_END + timedelta(days=1))
    etag = published.get("/api/v1/public/visibility", params=asked).headers["ETag"]
    early = public_client(engine, report_geography, DAY_END + timedelta(hours=23))
    for held in (etag, "*"):
        for path in ("/api/v1/public/visibility", "/api/v1/public/geojson"):
            answer = early.get(path, params=asked, headers={"If-None-Match": held})
            assert answer.status_code == 404 and "ETag" not in answer.headers
            assert "not published yet" in answer.json()["detail"]
