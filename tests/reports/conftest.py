"""Report fixtures: real report documents (one batch pass over a faulty three-day feed,
with the documents at every local midnight) and the outlines of their wards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

ZONE = ZoneInfo("Europe/London")


@dataclass
class Run:
    """What ``beatlight report --format html`` hands to the builder."""

    document: dict[str, Any]
    history: list[dict[str, Any]]
    outlines: dict[str, Any]
    district_outlines: dict[str, Any]
    units: set[str]


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> Run:
    from beatlight.api.shapes import AreaShapes
    from beatlight.configs import lane_config
    from beatlight.reports import is_local_midnight
    from beatlight.streams.batch import batch_reports
    from beatlight.streams.events import parse_lines
    from tests.streams.test_report_vs_oracle import NOW, _feed, _geography

    wards, geography = _geography(tmp_path_factory.mktemp("geo-report"))
    lines = _feed(7, wards.geometry.to_frame(), days=3, units=6)
    now_us = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    batches = [parse_lines(lines[i : i + 500], max_event_bytes=8192)
               for i in range(0, len(lines), 500)]  # fmt: skip
    found = batch_reports(geography, batches, lane_config(), now_us=now_us,
                          hours=lambda us: is_local_midnight(us, ZONE))  # fmt: skip
    shapes = AreaShapes(geography)
    return Run(found.document, list(found.hours.values()), shapes.level("ward"),
               shapes.level("district"), {f"u{i}" for i in range(6)})  # fmt: skip


@pytest.fixture(scope="session")
def zone_run(tmp_path_factory):
    """Documents with zones from the oracles (tests/reports/zone_documents.py); ~20 s."""
    from tests.reports.zone_documents import zone_run

    return zone_run(tmp_path_factory.mktemp("zones-report"))
