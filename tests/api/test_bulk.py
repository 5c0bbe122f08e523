"""Large upserts by COPY on PostgreSQL: the rows of ``executemany``, and no new row
version for an area whose attributes did not change."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from beatlight.api import bulk
from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.models import Area
from beatlight.api.store import Changes, apply
from tests.api.conftest import dump, new_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WARDS = 600  # over COPY_ROWS, so a snapshot's areas and figures go by COPY
#: What COPY's text format must escape: a tab, a backslash, a newline, quotes.
NAME = "{name} {n}\t'quoted' \\N\nnext line"


@pytest.fixture(scope="module")
def postgresql(tmp_path_factory):
    for url in new_database("postgresql", tmp_path_factory):
        upgrade(url)
        engine = create_engine_for(url)
        yield engine
        engine.dispose()


def _snapshot(as_of: str, minutes: float, name: str = "Ward") -> Changes:
    changes = Changes()
    figures = {"patrol_minutes": minutes, "foot_minutes": minutes / 2, "unit_minutes": minutes,
               "longest_gap_minutes": 60.0, "distinct_units": 2, "visits": 3,
               "koper_visits": 1, "last_seen": as_of, "attainment": 0.5, "coverage": 0.25,
               "target_minutes": 120.0, "status": "amber"}  # fmt: skip
    for n in range(WARDS):
        code = f"E0{n:07d}"
        changes.add_live(f"ward|{code}", {
            "as_of": as_of, "level": "ward", "code": code, "name": NAME.format(name=name, n=n),
            "neighbourhood": "N1", "district": None, "wards": None, "area_km2": 1.5,
            "population": None if n % 2 else 1000.0, "target_minutes_per_week": 600.0,
            "windows": {"1h": figures, "24h": figures | {"last_seen": None}}})  # fmt: skip
    changes.add_live("neighbourhood|N1", {
        "as_of": as_of, "level": "neighbourhood", "code": "N1", "name": 'Hills, "north"',
        "wards": [f"E0{n:07d}" for n in range(WARDS)], "area_km2": 900.0, "population": 1e5,
        "target_minutes_per_week": 600.0, "windows": {"1h": figures}})  # fmt: skip
    return changes


def _store(engine, changes: Changes) -> None:
    with Session(engine) as session, session.begin():
        apply(session, changes)


def _empty(engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE areas, live_metrics RESTART IDENTITY")


def test_copy_stores_exactly_what_executemany_does(postgresql, monkeypatch):
    stored = {}
    for way, rows in (("copy", bulk.COPY_ROWS), ("executemany", 10**9)):
        monkeypatch.setattr(bulk, "COPY_ROWS", rows)
        _empty(postgresql)
        _store(postgresql, _snapshot("2026-11-05T09:00:00Z", 30.0))
        _store(postgresql, _snapshot("2026-11-05T09:00:05Z", 31.0, name="Renamed"))
        with postgresql.connect() as connection:
            names = set(connection.execute(sa.select(Area.name)).scalars())
        assert NAME.format(name="Renamed", n=1) in names and 'Hills, "north"' in names
        _store(postgresql, _snapshot("2026-11-05T08:59:55Z", 29.0))  # older: changes nothing
        stored[way] = dump(postgresql)
    assert stored["copy"] == stored["executemany"]
    live = stored["copy"]["live_metrics"]
    assert len(live) == 2 * WARDS + 1 and all("31.0" in repr(row) for row in live)


def test_an_area_whose_attributes_did_not_change_gets_no_new_row_version(postgresql):
    _empty(postgresql)
    versions = sa.select(Area.code, sa.text("xmin::text")).order_by(Area.code)
    _store(postgresql, _snapshot("2026-11-05T09:00:00Z", 30.0))
    with postgresql.connect() as connection:
        before = dict(connection.execute(versions).all())
    _store(postgresql, _snapshot("2026-11-05T09:00:05Z", 31.0))
    changes = _snapshot("2026-11-05T09:00:10Z", 32.0)
    changes.areas["ward", "E00000007"]["name"] = "A new name"
    _store(postgresql, changes)
    with postgresql.connect() as connection:
        after = dict(connection.execute(versions).all())
    assert len(before) == WARDS + 1
    assert {code for code in before if after[code] != before[code]} == {"E00000007"}
