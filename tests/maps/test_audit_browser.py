"""The live map's points are recorded in the live audit (issue 19), in real Chromium."""

from __future__ import annotations

import time

import httpx
import pytest
import sqlalchemy as sa

from beatlight.api.models import LiveAudit
from tests.maps.test_browser import _open

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_the_live_maps_points_are_recorded_in_the_audit(watch, sites):
    site = sites()  # a store of its own: its audit starts empty
    page = _open(watch, site, "/maps/live", "inspector")
    deadline = time.monotonic() + 20
    while not (rows := _reads(site)) and time.monotonic() < deadline:
        time.sleep(0.2)
    prefix = site.keys["inspector"][:11]
    assert rows and set(rows) == {(prefix, "inspector", None)}
    answer = httpx.get(f"{site.url}/api/v1/audit", headers={"X-API-Key": site.keys["admin"]})
    assert {e["key_prefix"] for e in answer.json()["entries"]} == {prefix}
    page.assert_clean()


def _reads(site) -> list[tuple]:  # noqa: ANN001
    with site.engine.connect() as connection:
        query = sa.select(LiveAudit.key_prefix, LiveAudit.role, LiveAudit.ward)
        return [tuple(row) for row in connection.execute(query)]
