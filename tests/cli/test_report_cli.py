"""``beatlight simulate`` and ``beatlight report`` as a user runs them: real processes, files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random

import geopandas as gpd
import pytest
from shapely.geometry import box

from tests.conftest import run_cli

pytestmark = pytest.mark.integration

IDENTIFYING = ("officer_name", "collar_number", "badge_id", "radio_id")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Two hours of simulated patrol over the synthetic wards, with feed faults."""
    folder = tmp_path_factory.mktemp("sim")
    events = folder / "events.ndjson"
    result = run_cli(
        "simulate",
        "--seed",
        "3",
        "--duration",
        "3",
        "--start",
        "2026-11-20T06:00:00Z",
        "--out",
        str(events),
    )
    assert result.returncode == 0, result.stderr
    return events


def test_every_command_has_help():
    for command in ([], ["report"], ["simulate"], ["demo"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_report_json_follows_the_batch_contract(simulated):
    result = run_cli("report", "--events", str(simulated))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) >= {
        "as_of",
        "slot_seconds",
        "wards",
        "neighbourhoods",
        "districts",
        "force",
        "fairness",
        "outside",
        "rejected",
    }
    assert document["as_of"].endswith("Z") and document["slot_seconds"] == 60
    assert len(document["wards"]) == 24
    ward = document["wards"][0]
    assert set(ward["windows"]) == {"1h", "24h", "7d", "28d"}
    assert set(ward["windows"]["24h"]) >= {
        "patrol_minutes",
        "foot_minutes",
        "unit_minutes",
        "longest_gap_minutes",
        "distinct_units",
        "visits",
        "koper_visits",
        "coverage",
        "last_seen",
        "attainment",
        "status",
    }
    force = document["force"]["windows"]["24h"]
    assert 60 <= force["patrol_minutes"] <= 180  # three hours simulated, some of it patrolled
    assert force["distinct_units"] > 3
    statuses = {w["windows"]["24h"]["status"] for w in document["wards"]}
    assert len(statuses) >= 2  # neglected wards and patrolled ones
    assert {"bad_coordinates", "inaccurate"} <= set(document["rejected"])


def test_report_never_names_a_unit_or_an_identifying_field(simulated):
    units = {
        json.loads(line)["unit"]
        for line in simulated.read_text().splitlines()
        if line.startswith("{") and line.endswith("}") and '"unit"' in line
    }
    output = run_cli("report", "--events", str(simulated)).stdout
    assert units and not any(unit in output for unit in units)
    assert not any(name in output for name in IDENTIFYING)


def test_report_csv_has_a_row_per_ward_and_window(simulated, tmp_path):
    out = tmp_path / "report.csv"
    result = run_cli("report", "--events", str(simulated), "--format", "csv", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 24 * 4
    assert {r["window"] for r in rows} == {"1h", "24h", "7d", "28d"}
    assert rows[0]["level"] == "ward"


def test_as_of_ignores_later_events(simulated):
    early = json.loads(
        run_cli("report", "--events", str(simulated), "--as-of", "2026-11-20T07:00:00Z").stdout
    )
    assert early["as_of"] == "2026-11-20T07:00:00Z"
    assert early["force"]["windows"]["1h"]["patrol_minutes"] <= 60


def test_the_report_is_the_same_with_any_number_of_workers(simulated, tmp_path):
    shuffled = tmp_path / "shuffled.ndjson.gz"
    lines = simulated.read_bytes().splitlines()
    random.Random(2).shuffle(lines)
    shuffled.write_bytes(gzip.compress(b"\n".join(lines)))
    one = run_cli("report", "--events", str(simulated), "--workers", "1")
    assert one.returncode == 0, one.stderr
    for events, workers in ((simulated, "2"), (shuffled, "2"), (shuffled, "3")):
        result = run_cli("report", "--events", str(events), "--workers", workers)
        assert result.returncode == 0, result.stderr
        assert result.stdout == one.stdout, (events.name, workers)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "nowhere.ndjson"], "no such events file"),
        (["--events", "{sim}", "--workers", "0"], "--workers"),
        (["--events", "{sim}", "--as-of", "yesterday"], "--as-of"),
        (["--events", "{sim}", "--format", "xml"], "--format"),
        (["--events", "{sim}", "--boundaries", "nowhere.geojson"], "nowhere.geojson"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(simulated, args, message):
    result = run_cli("report", *[a.replace("{sim}", str(simulated)) for a in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_with_no_valid_event_is_an_error(tmp_path):
    events = tmp_path / "bad.ndjson"
    events.write_text('{"event_id": "a"}\nnot json\n')
    result = run_cli("report", "--events", str(events))
    assert result.returncode == 2
    assert "no valid event" in result.stderr and "missing_field: 1" in result.stderr


def test_boundaries_in_metres_declared_as_degrees_are_refused(tmp_path, simulated):
    frame = gpd.GeoDataFrame(
        {"code": ["A"], "name": ["A"]},
        geometry=[box(388000, 346000, 389000, 347000)],
        crs="EPSG:4326",
    )
    path = tmp_path / "wrong.geojson"
    frame.to_file(path, driver="GeoJSON")
    result = run_cli("report", "--events", str(simulated), "--boundaries", str(path))
    assert result.returncode == 2
    assert "CRS" in result.stderr and "Traceback" not in result.stderr
