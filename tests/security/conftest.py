"""An app over a fresh SQLite store with one key per role, for the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from api.app import create_app
from api.auth import ROLES, create_key
from api.db import create_engine_for, upgrade
from beatlight.settings import Settings
from geo.attributes import load_attributes
from geo.boundaries import wards_from_frame
from geo.geography import geography_from_wards
from tests.api.conftest import new_database
from tests.streams.test_report_vs_oracle import _frame


@pytest.fixture(scope="module")
def geography():
    wards = wards_from_frame(_frame())
    return geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0))


@pytest.fixture
def store(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """A migrated, empty SQLite store and a key per role: ``store.engine``, ``store.keys``."""
    url = next(iter(new_database("sqlite", tmp_path_factory)))
    upgrade(url)
    engine = create_engine_for(url)
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"security {role}")[1] for role in ROLES}
    yield SimpleNamespace(engine=engine, keys=keys)
    engine.dispose()


@pytest.fixture
def app_with(store, geography):
    """``app_with(**settings)``: the real app over ``store`` (rate limit off unless given)."""

    def build(**settings):
        settings.setdefault("rate_limit_per_minute", 0)
        return create_app(Settings(**settings), store.engine, geography)

    return build
