"""``beatlight simulate --zones`` then ``beatlight report --zones``: the demo's zones over the
synthetic wards, visited by the simulated patrols, show sessions met and missed."""

from __future__ import annotations

import json

import pytest

from beatlight.geo.demo_zones import synthetic_demo_zones, write_demo_zones
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_a_simulated_week_meets_some_sessions_and_misses_others(tmp_path) -> None:
    zones = str(write_demo_zones(synthetic_demo_zones(), tmp_path / "zones.geojson"))
    events = tmp_path / "events.ndjson"
    simulated = run_cli("simulate", "--zones", zones, "--start", "2026-03-02T00:00:00Z",
                        "--duration", "168", "--seed", "3", "--out", str(events))  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    report = tmp_path / "report.json"
    result = run_cli("report", "--zones", zones, "--events", str(events),
                     "--as-of", "2026-03-09T00:00:00Z", "--out", str(report))  # fmt: skip
    assert result.returncode == 0, result.stderr
    sessions = [s for z in json.loads(report.read_text())["zones"] for s in z["sessions"]
                if s["start"] >= "2026-03-02"]  # fmt: skip
    assert len(sessions) == 10  # five zones with Friday and Saturday night sessions
    met = sum(s["met"] for s in sessions)
    assert 0 < met < len(sessions)
    assert all(s["patrol_minutes"] > 0 for s in sessions)  # every zone had visits

    unvisited = tmp_path / "plain.ndjson"
    plain = run_cli("simulate", "--start", "2026-03-02T00:00:00Z", "--duration", "168",
                    "--seed", "3", "--out", str(unvisited))  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    result = run_cli("report", "--zones", zones, "--events", str(unvisited),
                     "--as-of", "2026-03-09T00:00:00Z", "--out", str(report))  # fmt: skip
    without = [s for z in json.loads(report.read_text())["zones"] for s in z["sessions"]
               if s["start"] >= "2026-03-02"]  # fmt: skip
    assert sum(s["met"] for s in without) < met
