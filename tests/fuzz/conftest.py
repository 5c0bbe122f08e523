"""The fuzz tests' app: the real API over a SQLite store of real report documents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from beatlight.api.app import create_app
from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.keys import create_key
from beatlight.api.points import Point, RecentPoints
from beatlight.configs import lane_config
from beatlight.settings import Settings
from tests.api.conftest import API_NOW, HOURS, fill, new_database
from tests.streams.test_report_vs_oracle import NOW, _feed, _geography


class HeldPoints(RecentPoints):
    """Recent points held in memory, with no Kafka to read."""

    def start(self) -> HeldPoints:
        return self


@pytest.fixture(scope="package")
def served(tmp_path_factory) -> Iterator[tuple[Any, dict[str, str]]]:
    """A TestClient of the real app over a SQLite store of real report documents (the
    ``documents`` of ``tests/api/conftest.py``), and a key for ``inspector`` and ``admin``.

    Rate limits are off, and valid keys are remembered for a minute: the fuzzers send
    thousands of requests."""
    from fastapi.testclient import TestClient

    from beatlight.streams.batch import batch_report
    from beatlight.streams.events import parse_lines

    wards, geography = _geography(tmp_path_factory.mktemp("fuzz-geo"))
    lines = _feed(5, wards.geometry.to_frame(), days=2, units=6)
    now_us = int(NOW.timestamp()) * 1_000_000
    batches = [parse_lines(lines[i:i + 700], max_event_bytes=8192)
               for i in range(0, len(lines), 700)]  # fmt: skip
    documents = {hour: batch_report(geography, batches, lane_config(), now_us=now_us,
                                    as_of_us=int(hour.timestamp()) * 1_000_000)
                 for hour in HOURS}  # fmt: skip
    for document in documents.values():  # a file's count; hour snapshots have none
        del document["after_as_of"]

    url = next(iter(new_database("sqlite", tmp_path_factory)))
    upgrade(url)
    engine = create_engine_for(url)
    fill(engine, documents, live=documents[HOURS[2]])
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"fuzz {role}")[1]
                for role in ("inspector", "admin")}  # fmt: skip
    points = HeldPoints("unused:9092", clock=lambda: API_NOW)
    codes = [w["code"] for w in documents[HOURS[2]]["wards"]]
    points.add([Point(API_NOW - timedelta(minutes=m), 52.8, -2.1, codes[m % len(codes)], "foot")
                for m in range(1, 14)])  # fmt: skip
    settings = Settings(rate_limit_per_minute=0, auth_cache_seconds=60)
    app = create_app(settings, engine, geography, clock=lambda: API_NOW, points=points)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, keys
    engine.dispose()
