"""API fixtures: a fresh store on SQLite and on PostgreSQL, and real report documents.

Every store test runs on both databases (``store_url`` is parametrised). Each
database is created for the session (PostgreSQL: ``beatlight_test_<random>``)
and dropped afterwards; ``engine`` empties its tables before each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.models import Base
from beatlight.configs import lane_config

#: A server where the tests may create databases (``BEATLIGHT_TEST_POSTGRES_URL``).
POSTGRES = os.environ.get("BEATLIGHT_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip


def new_database(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of an empty database of this kind, dropped when the generator finishes."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'beatlight.db'}"
        return
    name = f"beatlight_test_{uuid.uuid4().hex[:12]}"
    server = create_engine_for(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        server.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {str(error.orig).splitlines()[0]}")
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    """A migrated store of the session, once on SQLite and once on PostgreSQL."""
    for url in new_database(request.param, tmp_path_factory):
        upgrade(url)
        yield url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on the session's store, its tables emptied first."""
    engine = create_engine_for(store_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    yield engine
    engine.dispose()


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: for comparing a store before and after."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(repr(v) for v in row) for row in connection.execute(sa.select(table))),
            )
            for table in Base.metadata.sorted_tables
        }


# -- report documents ---------------------------------------------------------------------

# Hours of the feed's second day, its local midnight end (a published day) and the
# Monday midnight that ends its week.
HOURS = [datetime(2026, 11, 3, h, tzinfo=UTC) for h in (6, 12, 18)] + [
    datetime(2026, 11, 4, tzinfo=UTC),
    datetime(2026, 11, 9, tzinfo=UTC),
]


@pytest.fixture(scope="session")
def documents(tmp_path_factory) -> dict[datetime, dict]:
    """Real report documents (batch report over a faulty two-day feed) at ``HOURS``."""
    from beatlight.streams.batch import batch_report
    from beatlight.streams.events import parse_lines
    from tests.streams.test_report_vs_oracle import NOW, _feed, _geography

    wards, geography = _geography(tmp_path_factory.mktemp("geo"))
    lines = _feed(5, wards.geometry.to_frame(), days=2, units=6)
    now_us = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    result = {}
    for hour in HOURS:
        as_of_us = (hour - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        batches = [parse_lines(lines[i:i + 700], max_event_bytes=8192)
                   for i in range(0, len(lines), 700)]  # fmt: skip
        result[hour] = batch_report(geography, batches, lane_config(), now_us=now_us,
                                    as_of_us=as_of_us)  # fmt: skip
        # A file's events at or after as_of are the file's count; hour snapshots have none.
        del result[hour]["after_as_of"]
    return result


# -- the API over a filled store ----------------------------------------------------------

#: The API's clock in the tests: long after HOURS, so their days are published.
API_NOW = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
ROLE_NAMES = ("inspector", "pcc", "admin")


@pytest.fixture(scope="session")
def report_geography(tmp_path_factory):
    """The hand-made wards the ``documents`` were computed over."""
    from tests.streams.test_report_vs_oracle import _geography

    return _geography(tmp_path_factory.mktemp("geo-api"))[1]


def fill(engine: Engine, documents: dict[datetime, dict], live: dict | None = None) -> None:
    """Store ``documents`` as the materialiser would (and ``live`` as the live snapshot)."""
    from sqlalchemy.orm import Session

    from beatlight.api.store import Changes, apply
    from beatlight.streams.aggregate import snapshot_records

    changes = Changes()
    for document in documents.values():
        for key, value in snapshot_records(document, prefix=document["as_of"]):
            changes.add_history(key, value)
    if live is not None:
        for key, value in snapshot_records(live, prefix="live"):
            changes.add_live(key.removeprefix("live|"), value)
    with Session(engine) as session, session.begin():
        apply(session, changes)


@pytest.fixture
def api(engine, documents, report_geography):
    """A TestClient of the real app over a store holding ``documents`` (live = the last),
    with one key per role: ``api.keys[role]``."""
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from beatlight.api.app import create_app
    from beatlight.api.keys import create_key
    from beatlight.settings import Settings

    fill(engine, documents, live=documents[HOURS[2]])
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"test {role}")[1] for role in ROLE_NAMES}
    settings = Settings(rate_limit_per_minute=0, auth_cache_seconds=0)
    app = create_app(settings, engine, report_geography, clock=lambda: API_NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.keys = keys
        client.as_role = lambda role: {"X-API-Key": keys[role]}
        yield client


def revise(engine, documents: dict, hour: datetime, minutes: float = 42.0) -> dict:
    """Store revision 0 of ``hour``, then revision 1 with one ward's patrol raised by
    ``minutes``."""
    import copy

    from sqlalchemy.orm import Session

    from beatlight.api.store import Changes, apply
    from beatlight.streams.aggregate import Revision, snapshot_records

    first = documents[hour]
    revised = copy.deepcopy(first)
    ward = revised["wards"][0]
    for figures in ward["windows"].values():
        figures["patrol_minutes"] += minutes
    at = int(datetime(2026, 11, 4, 8, tzinfo=UTC).timestamp()) * 1_000_000
    changed = {f"ward|{ward['code']}": (1, at)}
    for document, revision in ((first, Revision(0, at, {})), (revised, Revision(1, at, changed))):
        changes = Changes()
        for key, value in snapshot_records(document, prefix=document["as_of"], revision=revision):
            changes.add_history(key, value)
        with Session(engine) as session, session.begin():
            apply(session, changes)
    return revised
