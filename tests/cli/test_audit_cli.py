"""``beatlight audit`` as a user runs it: who read the recent points, from the store."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from beatlight.api.audit import AuditTrail
from beatlight.api.db import create_engine_for, upgrade
from tests.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NOW = datetime.now(UTC).replace(microsecond=0)
#: (hours ago, key prefix, role, ward)
READS = [(100 * 24, "bl_gone0000", "inspector", None),  # past the 90 days: never shown
         (30, "bl_old00000", "inspector", "E05000001"),
         (2, "bl_recent00", "inspector", None),
         (1, "bl_recent01", "inspector", "E05000002")]  # fmt: skip


@pytest.fixture
def store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'beatlight.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    moment = [NOW]
    trail = AuditTrail(engine, 3650, clock=lambda: moment[0])  # keeps the 100-day-old read
    for hours, prefix, role, ward in READS:
        moment[0] = NOW - timedelta(hours=hours)
        trail.record(prefix, role, ward)
    engine.dispose()
    return url


def audit(*args: str, store: str):  # noqa: ANN201
    return run_cli("audit", *args, "--database-url", store)


def test_the_table_shows_every_read_kept(store):
    result = audit(store=store)
    assert result.returncode == 0, result.stderr
    assert "Reads of the recent presence points (3)" in result.stdout
    for _, prefix, _, _ in READS[1:]:
        assert prefix in result.stdout
    assert "bl_gone0000" not in result.stdout
    assert "E05000001" in result.stdout and "every ward" in result.stdout
    assert f"{NOW - timedelta(hours=1):%Y-%m-%d %H:%M:%S}" in result.stdout


def test_since_and_csv(store):
    result = audit("--since", "1d", "--csv", store=store)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    wanted = [("bl_recent00", ""), ("bl_recent01", "E05000002")]
    assert [(r["key_prefix"], r["ward"]) for r in rows] == wanted
    assert rows[1]["at"] == (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    since = (NOW - timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = audit("--since", since, "--csv", store=store)
    assert [r["key_prefix"] for r in csv.DictReader(io.StringIO(result.stdout))] == [
        "bl_recent01"]  # fmt: skip


def test_a_limit_says_there_is_more(store):
    result = audit("--limit", "1", store=store)
    assert result.returncode == 0
    assert "bl_old00000" in result.stdout and "bl_recent00" not in result.stdout
    assert "showing the first 1 reads" in result.stderr


def test_a_bad_since_says_what_it_takes(store):
    result = audit("--since", "last week", store=store)
    assert result.returncode != 0
    assert "--since: 'last week' is neither a time such as 2026-11-23T06:00:00Z nor a " \
        "duration such as 7d, 12h or 30m" in result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr


def test_help_says_what_is_recorded():
    result = run_cli("audit", "--help")
    assert result.returncode == 0
    assert "never the points" in result.stdout and "--since" in result.stdout


def test_the_table_shows_what_the_store_holds_as_plain_text(tmp_path):
    """Whatever a record holds is shown as it is: never rich markup or a terminal code."""
    url = f"sqlite:///{tmp_path / 'beatlight.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    hostile = "[/][link=https://evil.example]x[/link]\x1b[2J"
    AuditTrail(engine, 90, clock=lambda: NOW).record("bl_hostile0", "inspector", hostile)
    engine.dispose()
    result = audit(store=url)
    assert result.returncode == 0, result.stderr
    assert "[/][link=https://evil.example]x[/link]" in result.stdout
    assert "\x1b" not in result.stdout
