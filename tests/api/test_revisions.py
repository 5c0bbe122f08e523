"""Revised hours in the store and the API (SPEC "Late uploads"), on SQLite and PostgreSQL.

An hour is published again when late pings change its figures. The store keeps the
newest revision whatever order records arrive in, replays change nothing (not even the
time of a revision), and the API says which figures changed after they were first
published, and when.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from beatlight.api.documents import report_document_at
from beatlight.api.models import HourRevision
from beatlight.api.store import Changes, apply
from beatlight.streams.aggregate import Revision, snapshot_records
from tests.api.conftest import HOURS, dump
from tests.streams.test_report_vs_oracle import assert_same

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

H = HOURS[1]
Z = H.strftime("%Y-%m-%dT%H:%M:%SZ")
PUBLISHED = datetime(2026, 11, 3, 13, 0, 5, tzinfo=UTC)
REVISED = datetime(2026, 11, 3, 20, 14, 9, tzinfo=UTC)


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def _revised(document: dict) -> tuple[dict, str]:
    """The document with its first ward's figures (and the roll-ups') raised by late pings."""
    revised = copy.deepcopy(document)
    ward = revised["wards"][0]
    for figures in ward["windows"].values():
        figures["patrol_minutes"] += 42.0
        figures["distinct_units"] += 1
    revised["accepted"] += 42
    return revised, f"ward|{ward['code']}"


def _records(document: dict, revision: Revision | None) -> list[tuple[str, dict]]:
    return snapshot_records(document, prefix=document["as_of"], revision=revision)


def _changes(*records: list[tuple[str, dict]]) -> Changes:
    """One batch of the materialiser holding these records, in this order."""
    changes = Changes()
    for key, value in [record for each in records for record in each]:
        changes.add_history(key, value)
    return changes


def _store(engine, *changes: Changes) -> None:
    for each in changes:
        with Session(engine) as session, session.begin():
            apply(session, each)


def _two_revisions(documents: dict) -> tuple[list, list, dict, str]:
    """The records of an hour's first publication and of its revision 1."""
    first = _records(documents[H], Revision(0, _us(PUBLISHED), {}))
    revised, ward = _revised(documents[H])
    second = _records(revised, Revision(1, _us(REVISED), {ward: (1, _us(REVISED))}))
    return first, second, revised, ward


def test_the_newest_revision_is_stored_with_when_it_was_made(engine, documents):
    first, second, revised, ward = _two_revisions(documents)
    _store(engine, _changes(first), _changes(second))
    with Session(engine) as session:
        stored = report_document_at(session, H)
        log = session.query(HourRevision).order_by(HourRevision.revision).all()
    assert stored["revision"] == 1 and stored["revised_at"] == "2026-11-03T20:14:09Z"
    assert_same(stored, revised)
    changed = [w for w in stored["wards"] if "revision" in w]
    assert [w["code"] for w in changed] == [ward.split("|")[1]]
    assert changed[0]["revision"] == 1 and changed[0]["revised_at"] == "2026-11-03T20:14:09Z"
    assert [(r.revision, r.revised_at, r.accepted) for r in log] == [
        (0, PUBLISHED, documents[H]["accepted"]),
        (1, REVISED, documents[H]["accepted"] + 42),
    ]


def test_an_older_revision_stored_later_changes_nothing(engine, documents):
    """A replay of the topic, or records stored out of order: the newest revision stays."""
    first, second, _, _ = _two_revisions(documents)
    _store(engine, _changes(first), _changes(second))
    in_order = dump(engine)
    assert in_order["history"]
    _store(engine, _changes(first))  # a replay's first publication of the hour
    assert dump(engine) == in_order
    for newest_first in ([_changes(second), _changes(first)], [_changes(second, first)]):
        _empty(engine)
        _store(engine, *newest_first)  # in two transactions, then in one batch
        assert dump(engine) == in_order


def _empty(engine) -> None:
    with engine.begin() as connection:
        for table in ("history", "hour_summaries", "hour_revisions", "hour_documents"):
            connection.exec_driver_sql(f"DELETE FROM {table}")


def test_a_revision_sent_again_keeps_the_time_it_was_first_stored_with(engine, documents):
    """An aggregator that restarts publishes the hour again, stamped anew: the stored
    revision keeps its time (and the first publication its own)."""
    first, second, revised, ward = _two_revisions(documents)
    _store(engine, _changes(first), _changes(second))
    before = dump(engine)
    later = _us(datetime(2026, 11, 4, 9, tzinfo=UTC))
    _store(
        engine,
        _changes(_records(documents[H], Revision(0, later, {}))),
        _changes(_records(revised, Revision(1, later, {ward: (1, later)}))),
    )
    assert dump(engine) == before


def test_an_hour_stored_without_a_revision_says_none(engine, documents):
    """Records of workers that did not number revisions: no revision in the document."""
    _store(engine, _changes(_records(documents[H], None)))
    with Session(engine) as session:
        stored = report_document_at(session, H)
        assert session.query(HourRevision).count() == 0
    assert "revision" not in stored and not any("revision" in w for w in stored["wards"])


# -- the API ------------------------------------------------------------------------------


def test_the_api_serves_the_newest_revision_and_marks_what_changed(api, engine, documents):
    first, second, revised, ward = _two_revisions(documents)
    _store(engine, _changes(first), _changes(second))
    code = ward.split("|")[1]
    pcc = api.as_role("pcc")
    report = api.get("/api/v1/report", params={"as_of": Z}, headers=pcc).json()
    assert report["revision"] == 1 and report["revised_at"] == "2026-11-03T20:14:09Z"
    assert_same(report, revised)

    metrics = api.get("/api/v1/metrics", params={"as_of": Z, "level": "ward"}, headers=pcc).json()
    assert metrics["revision"] == 1 and metrics["revised_at"] == "2026-11-03T20:14:09Z"
    marked = {a["code"]: a for a in metrics["areas"] if a.get("revision")}
    assert list(marked) == [code] and marked[code]["revised_at"] == "2026-11-03T20:14:09Z"
    one = api.get(f"/api/v1/metrics/{code}", params={"as_of": Z}, headers=pcc).json()
    assert (
        one["revision"] == 1
        and one["windows"]["24h"]["patrol_minutes"]
        == (revised["wards"][0]["windows"]["24h"]["patrol_minutes"])
    )

    geojson = api.get("/api/v1/geojson", params={"as_of": Z, "window": "7d"}, headers=pcc).json()
    assert geojson["revision"] == 1
    revised_features = [f["properties"] for f in geojson["features"]
                        if f["properties"].get("revision")]  # fmt: skip
    assert [p["code"] for p in revised_features] == [code]
    assert revised_features[0]["revised_at"] == "2026-11-03T20:14:09Z"

    live = api.get("/api/v1/metrics", headers=pcc).json()  # live figures are never revised
    assert live["live"] is True and live.get("revision") is None


def test_history_says_when_a_figure_changed(api, engine, documents):
    first, second, revised, ward = _two_revisions(documents)
    _store(engine, _changes(first), _changes(second))
    code = ward.split("|")[1]
    params = {"metric": "patrol_minutes", "window": "24h", "start": "2026-11-03T00:00:00Z",
              "end": "2026-11-10T00:00:00Z"}  # fmt: skip
    body = api.get(f"/api/v1/history/{code}", params=params, headers=api.as_role("pcc")).json()
    point = next(p for p in body["points"] if p["as_of"] == Z)
    assert point["value"] == revised["wards"][0]["windows"]["24h"]["patrol_minutes"]
    assert body["revisions"] == [{
        "as_of": Z, "revision": 1, "revised_at": "2026-11-03T20:14:09Z",
        "first_published_at": "2026-11-03T13:00:05Z",
    }]  # fmt: skip
    other = documents[H]["wards"][1]["code"]
    body = api.get(f"/api/v1/history/{other}", params=params, headers=api.as_role("pcc")).json()
    assert body["revisions"] == []  # its figures never changed
