"""The live audit (issue 19): every read of the recent points is recorded, without the
points; only ``admin`` reads the record, as JSON or CSV, by period and in pages; records
are kept for the retention and then deleted. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from beatlight import api
from beatlight.api.audit import AuditTrail
from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.models import LiveAudit
from beatlight.settings import Settings
from tests.api.conftest import API_NOW, HOURS, new_database
from tests.api.test_roles import _points

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

AT = API_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def client(api, documents):
    api.code = documents[HOURS[0]]["wards"][0]["code"]
    api.app.state.services.points = _points(api.code)
    return api


def _audit(client, **params) -> dict:  # noqa: ANN001
    response = client.get("/api/v1/audit", params=params, headers=client.as_role("admin"))
    assert response.status_code == 200, response.text
    return response.json()


def test_every_read_of_the_recent_points_is_recorded_without_the_points(client, engine):
    inspector = client.as_role("inspector")
    assert client.get("/api/v1/live/points", headers=inspector).status_code == 200
    points = client.get("/api/v1/live/points", params={"ward": client.code}, headers=inspector)
    assert points.json()["features"]  # positions went out, and are not in the record
    prefix = client.keys["inspector"][:11]
    assert _audit(client) == {"retention_days": 90, "next_after": None, "entries": [
        {"id": _audit(client)["entries"][0]["id"], "at": AT, "key_prefix": prefix,
         "role": "inspector", "ward": None},
        {"id": _audit(client)["entries"][1]["id"], "at": AT, "key_prefix": prefix,
         "role": "inspector", "ward": client.code},
    ]}  # fmt: skip
    # The table has no room for a position, a count or a key: only these columns.
    columns = {c["name"] for c in sa.inspect(engine).get_columns("live_audit")}
    assert columns == {"id", "at", "key_prefix", "role", "ward"}


def test_refused_reads_and_reads_without_points_are_not_recorded(client):
    for role in ("pcc", "admin"):
        assert client.get("/api/v1/live/points", headers=client.as_role(role)).status_code == 403
    assert client.get("/api/v1/live/points").status_code == 401
    long_ward = {"ward": "W" * 65}
    assert client.get("/api/v1/live/points", params=long_ward,
                      headers=client.as_role("inspector")).status_code == 422  # fmt: skip
    client.app.state.services.points = None  # an API without Kafka serves no points
    assert client.get("/api/v1/live/points", headers=client.as_role("inspector")).status_code \
        == 503  # fmt: skip
    assert _audit(client)["entries"] == []


def test_a_ward_the_boundaries_do_not_have_is_a_404_and_never_recorded(client):
    """Found probing the audit: a made-up ward (rich markup, terminal codes) went into the
    record, and from there into `beatlight audit`'s terminal."""
    for made_up in ("[/]", "\x1b[2J[link=https://evil.example]x[/link]", "=cmd|' /C calc'!A0"):
        response = client.get("/api/v1/live/points", params={"ward": made_up},
                              headers=client.as_role("inspector"))  # fmt: skip
        assert response.status_code == 404
        assert response.json()["detail"].startswith("no ward has the code ")
    assert _audit(client)["entries"] == []


def test_only_admin_reads_the_audit(client):
    for role, status in (("inspector", 403), ("pcc", 403), ("admin", 200)):
        response = client.get("/api/v1/audit", headers=client.as_role(role))
        assert response.status_code == status, role
    assert client.get("/api/v1/audit").status_code == 401
    assert "admin" in client.get("/api/v1/audit", headers=client.as_role("pcc")).json()["detail"]


def test_the_audit_as_csv(client):
    client.get("/api/v1/live/points", params={"ward": client.code},
               headers=client.as_role("inspector"))  # fmt: skip
    response = client.get("/api/v1/audit", params={"format": "csv"},
                          headers=client.as_role("admin"))  # fmt: skip
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["at"], r["key_prefix"], r["role"], r["ward"]) for r in rows] == [
        (AT, client.keys["inspector"][:11], "inspector", client.code)]  # fmt: skip


def _trail(engine, moments: list[datetime], retention_days: int = 90) -> AuditTrail:  # noqa: ANN001
    now = [moments[0]]
    trail = AuditTrail(engine, retention_days, clock=lambda: now[0])
    for n, moment in enumerate(moments):
        now[0] = moment
        trail.record(f"bl_{n:08d}", "inspector", None)
    return trail


def test_the_audit_by_period_and_in_bounded_pages(client, engine):
    moments = [API_NOW - timedelta(hours=h) for h in range(10, 0, -1)]  # oldest first
    _trail(engine, moments)
    start, end = moments[2], moments[7]
    params = {"from": start.isoformat(), "to": end.isoformat(), "limit": 2}
    seen, after = [], 0
    while after is not None:
        page = _audit(client, **params, after=after)
        assert len(page["entries"]) <= 2
        seen += [e["key_prefix"] for e in page["entries"]]
        after = page["next_after"]
    assert seen == [f"bl_{n:08d}" for n in range(2, 7)]  # from inclusive, to exclusive
    csv_page = client.get("/api/v1/audit", params={**params, "format": "csv"},
                          headers=client.as_role("admin"))  # fmt: skip
    assert csv_page.headers["x-next-after"] == str(_audit(client, **params)["next_after"])
    for bad in ({"limit": 1001}, {"limit": 0}, {"after": -1},
                {"from": "2026-11-05T00:00:00"}, {"to": "yesterday"}):  # fmt: skip
        response = client.get("/api/v1/audit", params=bad, headers=client.as_role("admin"))
        assert response.status_code == 422, bad


def test_records_past_the_retention_are_never_shown_and_are_deleted(client, engine):
    old = API_NOW - timedelta(days=90, seconds=1)
    soon_old = API_NOW - timedelta(days=90) + timedelta(minutes=10)
    _trail(engine, [old - timedelta(days=1), old, soon_old], retention_days=365)
    assert [e["key_prefix"] for e in _audit(client)["entries"]] == ["bl_00000002"]

    def kept() -> list[str]:
        with engine.connect() as connection:
            return connection.scalars(sa.select(LiveAudit.key_prefix).order_by(LiveAudit.id)).all()

    assert len(kept()) == 3
    now = [API_NOW]
    trail = AuditTrail(engine, 90, clock=lambda: now[0])
    trail.record("bl_reader01", "inspector", None)  # a trail's first record prunes
    assert kept() == ["bl_00000002", "bl_reader01"]
    now[0] += timedelta(minutes=30)  # bl_00000002 is now past the retention...
    trail.record("bl_reader02", "inspector", None)
    assert kept() == ["bl_00000002", "bl_reader01", "bl_reader02"]  # ...pruned hourly, not yet
    now[0] += timedelta(minutes=30)
    trail.record("bl_reader03", "inspector", None)
    assert kept() == ["bl_reader01", "bl_reader02", "bl_reader03"]


def test_the_retention_is_a_setting(monkeypatch):
    assert Settings().audit_retention_days == 90
    monkeypatch.setenv("BEATLIGHT_AUDIT_RETENTION_DAYS", "30")
    assert Settings().audit_retention_days == 30
    monkeypatch.setenv("BEATLIGHT_AUDIT_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="audit_retention_days"):
        Settings()


def test_the_api_prunes_when_it_starts(engine, report_geography):
    from beatlight.api.app import create_app

    _trail(engine, [API_NOW - timedelta(days=40), API_NOW - timedelta(days=1)])
    app = create_app(Settings(audit_retention_days=30), engine, report_geography,
                     clock=lambda: API_NOW)  # fmt: skip
    with TestClient(app):
        with engine.connect() as connection:
            assert connection.scalars(sa.select(LiveAudit.key_prefix)).all() == ["bl_00000001"]


def test_a_read_that_cannot_be_recorded_is_not_served(tmp_path, report_geography):
    from sqlalchemy.orm import Session

    from beatlight.api.app import create_app
    from beatlight.api.keys import create_key

    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    with Session(engine) as session, session.begin():
        key = create_key(session, "inspector")[1]
    with engine.begin() as connection:  # a store whose audit cannot be written
        connection.execute(sa.text("DROP TABLE live_audit"))
    app = create_app(Settings(rate_limit_per_minute=0), engine, report_geography,
                     clock=lambda: API_NOW)  # fmt: skip
    app.state.services.points = _points("E05000001")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/live/points", headers={"X-API-Key": key})
    assert response.status_code == 503
    assert "features" not in response.text
    engine.dispose()


MIGRATIONS = Path(api.__file__).parent / "migrations"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0003_adds_and_drops_the_audit_table(kind, tmp_path_factory):
    for url in new_database(kind, tmp_path_factory):
        upgrade(url, "0002")
        engine = create_engine_for(url)
        try:
            assert "live_audit" not in sa.inspect(engine).get_table_names()
            upgrade(engine, "0003_live_audit")
            inspector = sa.inspect(engine)
            assert {i["name"] for i in inspector.get_indexes("live_audit")} == {"ix_live_audit_at"}
            trail = AuditTrail(engine, 90, clock=lambda: datetime(2026, 11, 5, tzinfo=UTC))
            trail.record("bl_abcd1234", "inspector", "E05000001")
            assert trail.page().entries[0].ward == "E05000001"
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0002")
            assert "live_audit" not in sa.inspect(engine).get_table_names()
        finally:
            engine.dispose()
