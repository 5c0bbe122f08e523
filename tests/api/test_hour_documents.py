"""Stored hours served from the documents rendered when they were stored, and 304s.

Every route and format that reads an hour answers the same bytes from the stored
document as from the hour rebuilt from its rows, also after a revision; a repeated
request whose ``If-None-Match`` names the answer gets a 304, and a new snapshot a new
tag; keys and roles are checked before any 304.
"""

from __future__ import annotations

import copy
import gzip
from datetime import datetime

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api.documents import report_document_at
from beatlight.api.models import HourAnswer, HourDocument
from beatlight.api.schemas import LEVELS
from beatlight.api.snapshots import Snapshots
from beatlight.api.store import Changes, apply
from beatlight.streams.aggregate import Revision, snapshot_records
from beatlight.times import format_time
from beatlight.windows import WINDOWS
from tests.api.conftest import API_NOW, HOURS, ROLE_NAMES, fill, revise

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
def api(engine, documents, report_geography):
    """The real app over ``documents`` (live: the last), its caches checking the store on
    every request, with one key per role."""
    from fastapi.testclient import TestClient

    from beatlight.api.app import create_app
    from beatlight.api.keys import create_key
    from beatlight.settings import Settings

    fill(engine, documents, live=documents[HOURS[2]])
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"test {role}")[1] for role in ROLE_NAMES}
    settings = Settings(rate_limit_per_minute=0, auth_cache_seconds=0, live_cache_seconds=0)
    app = create_app(settings, engine, report_geography, clock=lambda: API_NOW)
    app.state.services.snapshots = Snapshots(engine, live_ttl=0, hour_ttl=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.as_role = lambda role: {"X-API-Key": keys[role]}
        yield client


def _routes(documents: dict, hour: datetime) -> list[tuple[str, dict]]:
    """Every route and format that answers from an hour's document."""
    ward = documents[hour]["wards"][0]["code"]
    district = documents[hour]["districts"][0]["code"]
    return [
        ("/api/v1/metrics", {}),
        ("/api/v1/metrics", {"level": "ward"}),
        ("/api/v1/metrics", {"window": "1h"}),
        ("/api/v1/metrics", {"level": "ward", "window": "24h"}),
        ("/api/v1/metrics", {"level": "district", "window": "7d"}),
        ("/api/v1/metrics", {"level": "force", "window": "28d"}),
        ("/api/v1/metrics", {"format": "csv"}),
        ("/api/v1/metrics", {"format": "csv", "window": "24h"}),
        (f"/api/v1/metrics/{ward}", {}),
        (f"/api/v1/metrics/{district}", {"level": "district", "window": "28d"}),
        ("/api/v1/fairness", {}),
        ("/api/v1/geojson", {}),
        ("/api/v1/geojson", {"level": "neighbourhood", "window": "1h"}),
        ("/api/v1/report", {}),
        ("/api/v1/report", {"format": "csv"}),
    ]  # fmt: skip


def _answers(api, documents: dict, hours: list[datetime], encoding: dict) -> dict:
    answers = {}
    for hour in hours:
        for path, params in _routes(documents, hour):
            asked = {"as_of": format_time(hour), **params}
            got = api.get(path, params=asked, headers=api.as_role("pcc") | encoding)
            assert got.status_code == 200, (path, asked, got.text)
            answers[hour, path, tuple(sorted(asked.items()))] = got.content
    return answers


def _forget_documents(api, engine) -> None:
    """As in a store written before documents were: the API rebuilds hours from rows."""
    with engine.begin() as connection:
        connection.execute(sa.delete(HourDocument))
    api.app.state.services.snapshots = Snapshots(engine, live_ttl=0, hour_ttl=0)


def test_every_stored_hour_has_its_document_equal_to_the_one_rebuilt_from_rows(engine, api):
    with Session(engine) as session:
        stored = {row.hour: row for row in session.execute(sa.select(HourDocument)).scalars()}
        assert set(stored) == set(HOURS)
        for hour, row in stored.items():
            assert orjson.loads(gzip.decompress(row.document)) == report_document_at(session, hour)


def test_every_stored_hour_has_an_answer_for_each_level_in_each_window(engine, api):
    pcc = api.as_role("pcc") | GZIP
    with Session(engine) as session:
        stored = session.execute(sa.select(HourAnswer)).scalars().all()
        digests = dict(session.execute(sa.select(HourDocument.hour, HourDocument.digest)).all())
    assert {(a.hour, a.level, a.window) for a in stored} == {
        (hour, level, window) for hour in HOURS for level in LEVELS for window in WINDOWS
    }
    for answer in stored:
        assert answer.digest == digests[answer.hour]
        asked = {"as_of": format_time(answer.hour), "level": answer.level,
                 "window": answer.window}  # fmt: skip
        got = api.get("/api/v1/metrics", params=asked, headers=pcc)
        # Sent as stored, compressed, the first time it is asked for (the API would compress
        # an answer itself only when it sends it again, and never one this small).
        assert got.headers["Content-Encoding"] == "gzip" and got.headers["ETag"].endswith('-gzip"')
        assert got.json() == orjson.loads(gzip.decompress(answer.body))
        areas = got.json()["areas"]
        assert {(a["level"], tuple(a["windows"])) for a in areas} <= {
            (answer.level, (answer.window,))
        }
    wards = [a for a in stored if a.level == "ward"]
    assert all(orjson.loads(gzip.decompress(a.body))["areas"] for a in wards)


def test_an_hour_stored_before_answers_were_makes_them_from_its_document(api, engine, documents):
    served = _answers(api, documents, HOURS[:1], GZIP)
    with engine.begin() as connection:
        connection.execute(sa.delete(HourAnswer))
    api.app.state.services.snapshots = Snapshots(engine, live_ttl=0, hour_ttl=0)
    assert _answers(api, documents, HOURS[:1], GZIP) == served


@pytest.mark.parametrize("encoding", [GZIP, PLAIN], ids=["gzip", "identity"])
def test_a_stored_hour_answers_the_same_bytes_as_the_hour_rebuilt_from_rows(
    api, engine, documents, encoding
):
    hour = format_time(HOURS[0])
    whole = api.get("/api/v1/metrics", params={"as_of": hour}, headers=api.as_role("pcc") | GZIP)
    # Small enough that the API would not compress it itself: these are the stored bytes.
    assert whole.headers["Content-Encoding"] == "gzip"
    assert whole.headers["ETag"].endswith('-gzip"')
    served = _answers(api, documents, HOURS, encoding)
    _forget_documents(api, engine)
    rebuilt = _answers(api, documents, HOURS, encoding)
    assert served == rebuilt
    again = api.get("/api/v1/metrics", params={"as_of": hour}, headers=api.as_role("pcc") | GZIP)
    assert "Content-Encoding" not in again.headers and again.content == whole.content


def test_after_a_revision_the_stored_hour_is_the_newest_and_still_equals_the_rebuilt_one(
    api, engine, documents
):
    hour = HOURS[1]
    revised = revise(engine, documents, hour)
    with Session(engine) as session:
        stored = session.get(HourDocument, hour)
        assert stored.revision == 1
    whole = api.get("/api/v1/metrics", params={"as_of": format_time(hour)},
                    headers=api.as_role("pcc") | GZIP).json()  # fmt: skip
    assert whole["revision"] == 1
    ward = next(a for a in whole["areas"] if a["code"] == revised["wards"][0]["code"])
    assert ward["revision"] == 1
    assert (
        ward["windows"]["24h"]["patrol_minutes"]
        == (revised["wards"][0]["windows"]["24h"]["patrol_minutes"])
    )
    served = _answers(api, documents, [hour], GZIP)
    # A replay of the first publication changes neither the rows nor the stored document.
    changes = Changes()
    for key, value in snapshot_records(documents[hour], prefix=documents[hour]["as_of"],
                                       revision=Revision(0, 0, {})):  # fmt: skip
        changes.add_history(key, value)
    with Session(engine) as session, session.begin():
        apply(session, changes)
    with Session(engine) as session:
        assert session.get(HourDocument, hour).digest == stored.digest
    _forget_documents(api, engine)
    assert _answers(api, documents, [hour], GZIP) == served


@pytest.mark.parametrize("encoding", [GZIP, PLAIN], ids=["gzip", "identity"])
@pytest.mark.parametrize(
    ("path", "params", "other"),
    [
        ("/api/v1/metrics", {"level": "ward", "window": "24h"}, {"window": "7d"}),
        ("/api/v1/metrics", {"as_of": format_time(HOURS[0])}, {"window": "7d"}),
        ("/api/v1/metrics", {"as_of": format_time(HOURS[0]), "format": "csv"}, {"level": "ward"}),
        ("/api/v1/geojson", {}, {"window": "7d"}),
        ("/api/v1/fairness", {"as_of": format_time(HOURS[2])}, {"window": "7d"}),
        ("/api/v1/report", {"as_of": format_time(HOURS[0])}, {"format": "csv"}),
    ],
)
def test_a_repeated_request_is_answered_304_until_the_figures_change(
    api, engine, documents, path, params, other, encoding
):
    pcc = api.as_role("pcc") | encoding
    first = api.get(path, params=params, headers=pcc)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
    unchanged = api.get(path, params=params, headers=pcc | {"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == etag
    assert unchanged.headers["Cache-Control"] == "private, no-store"
    listed = api.get(path, params=params, headers=pcc | {"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    # Other parameters are another answer, with another tag.
    another = api.get(path, params=params | other, headers=pcc | {"If-None-Match": etag})
    assert another.status_code == 200 and another.headers["ETag"] != etag
    # New figures: a new live snapshot, or a revision of the hour.
    if "as_of" in params:
        revise(engine, documents, datetime.fromisoformat(params["as_of"]))
    else:
        live = copy.deepcopy(documents[HOURS[2]])
        live["as_of"] = "2026-11-05T09:15:00Z"
        fill(engine, {}, live=live)
    changed = api.get(path, params=params, headers=pcc | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.content


def test_keys_and_roles_are_checked_before_any_304(api):
    hour = {"as_of": format_time(HOURS[0])}
    etag = api.get("/api/v1/report", params=hour, headers=api.as_role("pcc")).headers["ETag"]
    for headers, status in (({}, 401), ({"X-API-Key": "bl_madeup00_" + "x" * 40}, 401),
                            (api.as_role("inspector"), 403)):  # fmt: skip
        for match in (etag, "*"):
            refused = api.get("/api/v1/report", params=hour,
                              headers=headers | {"If-None-Match": match})  # fmt: skip
            assert refused.status_code == status, (headers, match)
            assert "ETag" not in refused.headers
    # A tag for every answer is no way to learn which hours are stored.
    missing = {"as_of": "2020-01-01T00:00:00Z"}
    for path in ("/api/v1/metrics", "/api/v1/report", "/api/v1/geojson", "/api/v1/fairness"):
        answer = api.get(path, params=missing, headers=api.as_role("pcc") | {"If-None-Match": "*"})
        assert answer.status_code == 404, path
