"""SPEC Z5's zone alerts in the store and in ``/api/v1/alerts``: kept once, served with
their session, naming no unit."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from beatlight.api.store import Changes, apply
from tests.api.conftest import dump

pytestmark = pytest.mark.integration

UNATTENDED = {
    "code": "TC", "name": "Town centre", "level": "zone", "kind": "zone_unattended",
    "as_of": "2026-11-04T20:30:00Z", "session_start": "2026-11-04T19:00:00Z",
    "session_end": "2026-11-05T01:00:00Z", "minutes_unattended": 61.5, "unit": "u-secret-7",
}  # fmt: skip
MISSED = {**UNATTENDED, "kind": "session_missed", "as_of": "2026-11-05T01:00:00Z",
          "minutes_unattended": None}  # fmt: skip


def test_zone_alerts_are_stored_once_and_listed(api, engine):
    changes = Changes()
    for alert in (UNATTENDED, dict(UNATTENDED), MISSED):
        changes.add_alert(alert)
    for _ in range(2):
        with Session(engine) as session, session.begin():
            apply(session, changes)
    rows = dump(engine)["alerts"]
    assert len(rows) == 2 and "u-secret-7" not in repr(rows)

    body = api.get("/api/v1/alerts", params={"since": "2026-11-04T00:00:00Z"},
                   headers=api.as_role("inspector"))  # fmt: skip
    assert body.status_code == 200, body.text
    raised = {a["kind"]: a for a in body.json()["raised"] if a["level"] == "zone"}
    assert set(raised) == {"zone_unattended", "session_missed"}
    unattended = raised["zone_unattended"]
    assert (unattended["code"], unattended["session_start"], unattended["session_end"],
            unattended["minutes_unattended"], unattended["status"], unattended["window"]) == (
        "TC", "2026-11-04T19:00:00Z", "2026-11-05T01:00:00Z", 61.5, None, None)  # fmt: skip
    assert raised["session_missed"]["as_of"] == "2026-11-05T01:00:00Z"
    assert "u-secret-7" not in body.text
