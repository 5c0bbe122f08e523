"""The store on SQLite and PostgreSQL: migrations, idempotent upserts, report round trips."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api import bulk
from beatlight.api.db import StoreUnreachable, create_engine_for, reachable, upgrade
from beatlight.api.documents import live_document, report_document_at, stored_hours
from beatlight.api.models import Base
from beatlight.api.store import Changes, apply, read_offsets
from beatlight.configs import alert_tracker
from beatlight.streams.aggregate import document_from_records, snapshot_records
from tests.api.conftest import HOURS, dump, new_database
from tests.streams.test_report_vs_oracle import assert_same

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TABLES = {"areas", "live_metrics", "history", "hour_summaries", "live_summary", "alerts",
          "materialiser_offsets", "api_keys", "live_audit", "hour_revisions", "hour_documents",
          "hour_answers", "zones", "zone_live", "zone_history", "zone_sessions",
          "zone_returns"}  # fmt: skip


@pytest.fixture(params=["copy", "executemany"])
def both_ways(request, monkeypatch) -> None:
    """Upserts by COPY (every batch, on PostgreSQL) or row by row: the same store."""
    monkeypatch.setattr(bulk, "COPY_ROWS", 1 if request.param == "copy" else 10**9)


def history_changes(document: dict) -> Changes:
    changes = Changes()
    for key, value in snapshot_records(document, prefix=document["as_of"]):
        changes.add_history(key, value)
    return changes


def live_records(document: dict) -> list[tuple[str, dict]]:
    """As the worker sends them: the history records with the ``live|`` prefix dropped."""
    return [(key.removeprefix("live|"), value)
            for key, value in snapshot_records(document, prefix="live")]  # fmt: skip


def store(engine, changes: Changes) -> None:
    with Session(engine) as session, session.begin():
        apply(session, changes)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_create_the_schema_in_a_fresh_database(kind, tmp_path_factory):
    for url in new_database(kind, tmp_path_factory):
        upgrade(url)
        upgrade(url)  # already at head: nothing to do
        engine = create_engine_for(url)
        try:
            inspector = sa.inspect(engine)
            assert TABLES | {"alembic_version"} == set(inspector.get_table_names())
            indexes = {i["name"] for i in inspector.get_indexes("history")}
            assert "ix_history_series" in indexes
            with engine.connect() as connection:
                assert connection.execute(sa.text("SELECT version_num FROM alembic_version")
                                          ).scalar() == _head()  # fmt: skip
        finally:
            engine.dispose()


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from beatlight.api import db as api_db

    config = Config()
    config.set_main_option("script_location", str(api_db._MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def test_the_migrated_schema_matches_the_models(engine):
    inspector = sa.inspect(engine)
    for table in Base.metadata.sorted_tables:
        stored = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
        assert stored == {c.name: c.nullable for c in table.columns}, table.name


def test_no_table_can_hold_a_pseudonym_an_identity_or_a_point(engine):
    """SPEC "Privacy": no unit pseudonyms, officer identities or points in the store."""
    # The SPEC's aggregate counts name units but hold numbers, never a unit.
    allowed = {"unit_minutes", "distinct_units"}
    forbidden = re.compile(
        r"(^|_)(units?|unit_id|pseudonyms?|officers?|collar|badge|radio|event|events|"
        r"lat|lon|lng|latitude|longitude|geom|geometry|points?|x|y|trace|cells?)(_|$)"
    )
    for table in sa.inspect(engine).get_table_names():
        for column in sa.inspect(engine).get_columns(table):
            name = column["name"].lower()
            assert name in allowed or not forbidden.search(name), f"{table}.{name}"


@pytest.mark.usefixtures("both_ways")
def test_report_document_round_trips_through_the_store(engine, documents):
    for document in documents.values():
        store(engine, history_changes(document))
    with Session(engine) as session:
        assert stored_hours(session) == HOURS
        for hour, document in documents.items():
            records = snapshot_records(document, prefix=document["as_of"])
            stored = report_document_at(session, hour)
            assert stored == document_from_records(records, document["as_of"])
            assert_same(stored, document)
            assert list(stored["wards"][0]["windows"]) == ["1h", "24h", "7d", "28d"]
        assert report_document_at(session, datetime(2026, 11, 3, 7, tzinfo=UTC)) is None


@pytest.mark.usefixtures("both_ways")
def test_live_document_round_trips_and_never_goes_back_in_time(engine, documents):
    older, newer = documents[HOURS[0]], documents[HOURS[1]]
    changes = Changes()
    for key, value in live_records(newer):
        changes.add_live(key, value)
    store(engine, changes)
    late = Changes()  # an older live snapshot stored afterwards changes nothing
    for key, value in live_records(older):
        late.add_live(key, value)
    before = dump(engine)
    store(engine, late)
    assert dump(engine) == before
    with Session(engine) as session:
        assert live_document(session) == document_from_records(
            snapshot_records(newer, prefix="live"), "live"
        )


@pytest.mark.usefixtures("both_ways")
def test_storing_the_same_records_twice_changes_nothing(engine, documents):
    def everything() -> Changes:
        changes = Changes()
        tracker = alert_tracker()
        for n, document in enumerate(documents.values()):
            for key, value in snapshot_records(document, prefix=document["as_of"]):
                changes.add_history(key, value)
            for key, value in live_records(document):
                changes.add_live(key, value)
            for alert in tracker.update(document):
                changes.add_alert(alert)
            changes.add_offset("visibility.history", 0, n)
        return changes

    store(engine, everything())
    first = dump(engine)
    assert first["alerts"] and first["history"] and first["live_metrics"]
    store(engine, everything())
    assert dump(engine) == first
    # Record by record, in separate transactions, the result is the same again.
    for document in documents.values():
        for key, value in snapshot_records(document, prefix=document["as_of"]):
            one = Changes()
            one.add_history(key, value)
            store(engine, one)
    assert dump(engine) == first


@pytest.mark.usefixtures("both_ways")
def test_a_revised_hour_replaces_the_stored_one(engine, documents):
    document = documents[HOURS[0]]
    store(engine, history_changes(document))
    revised = {**document, "outside": document["outside"] + 5}
    revised["wards"] = [dict(document["wards"][0], name="Renamed"), *document["wards"][1:]]
    store(engine, history_changes(revised))
    with Session(engine) as session:
        stored = report_document_at(session, HOURS[0])
    assert stored["outside"] == document["outside"] + 5
    names = {ward["code"]: ward["name"] for ward in stored["wards"]}
    assert names[document["wards"][0]["code"]] == "Renamed"


def test_alerts_keep_only_the_spec_fields(engine, documents):
    """An alert carrying stray fields (a feed's identity, a position) stores none of them."""
    alert = {
        "code": "E05000001",
        "name": "Ward 1",
        "level": "ward",
        "kind": "red",
        "as_of": "2026-11-03T06:00:05.250000Z",
        "window": "24h",
        "status": "red",
        "previous_status": "amber",
        "last_seen": None,
        "unit": "u-secret-7",
        "officer_name": "PC Example",
        "lat": 52.9,
        "lon": -2.1,
    }
    changes = Changes()
    changes.add_alert(alert)
    changes.add_alert(dict(alert))
    store(engine, changes)
    store(engine, changes)
    rows = dump(engine)["alerts"]
    assert len(rows) == 1
    text = repr(dump(engine))
    assert "u-secret-7" not in text and "PC Example" not in text and "52.9" not in text


def test_offsets_are_stored_with_the_rows(engine):
    changes = Changes()
    for offset in (4, 9, 7):
        changes.add_offset("visibility.live", 0, offset)
    store(engine, changes)
    with Session(engine) as session:
        assert read_offsets(session) == {("visibility.live", 0): 10}


def test_an_unreachable_store_is_a_clear_error():
    url = "postgresql://beatlight:s3cret@127.0.0.1:1/beatlight"
    with pytest.raises(StoreUnreachable) as raised:
        upgrade(url)
    message = str(raised.value)
    assert message.startswith("cannot reach the store at postgresql+psycopg://beatlight:***@")
    assert "s3cret" not in message
    engine = create_engine_for(url)
    with pytest.raises(StoreUnreachable):
        reachable(engine)


def test_an_unopenable_sqlite_file_is_a_clear_error(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(StoreUnreachable, match="cannot reach the store at sqlite:///"):
        upgrade(f"sqlite:///{folder}")  # a folder, not a file


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    """Issue 19: the store was created 0644, readable by every user of the machine."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "beatlight.db"
        engine = create_engine_for(f"sqlite:///{path}")
        upgrade(engine)
        with engine.connect() as connection:  # WAL: the -wal and -shm files exist while open
            connection.execute(sa.text("SELECT count(*) FROM api_keys"))
            files = sorted(path.parent.iterdir())
            assert [f.name for f in files] == ["beatlight.db", "beatlight.db-shm",
                                               "beatlight.db-wal"]  # fmt: skip
            assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {
                f.name: 0o600 for f in files
            }
        engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_store_keeps_its_mode_and_a_readable_one_is_named(tmp_path, caplog):
    path = tmp_path / "beatlight.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="beatlight.store"):
        create_engine_for(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert f"the store {path} may be read by other users (mode 644): chmod 600 it" in caplog.text
