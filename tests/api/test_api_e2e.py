"""End to end, every piece a real process: simulate, replay into the embedded broker, a
``beatlight worker``, ``beatlight api`` (materialising into its store), then the API's
report at each hour equals ``beatlight report --as-of H`` on the same events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from beatlight.geo.geography import load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.conftest import run_cli, wait_until
from tests.streams.test_stream_e2e import _replay, _same_figures, _stop, _worker
from tests.support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

START = datetime(2026, 11, 20, tzinfo=UTC)
WANTED = [START + timedelta(hours=h) for h in (1, 2)]


def _api(bootstrap: str, boundaries: Path, database: str, port: int, log: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "beatlight", "api", "--bootstrap", bootstrap, "--boundaries",
         str(boundaries), "--database-url", database, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env,
    )  # fmt: skip


def _alive(*processes: tuple[subprocess.Popen, Path]):
    def check() -> str | None:
        for process, log in processes:
            if process.poll() is not None:
                return log.read_text()[-3000:]
        return None

    return check


def test_the_apis_report_equals_beatlight_report(tmp_path):
    boundaries, events = tmp_path / "wards.geojson", tmp_path / "events.ndjson"
    write_synthetic(boundaries)
    config = SimulationConfig(seed=11, start=START, duration=timedelta(hours=4), units=16)
    wards = load_geography(boundaries).wards
    events.write_text("".join(line + "\n" for line in simulate_lines(wards, config)))
    database = f"sqlite:///{tmp_path / 'store' / 'beatlight.db'}"
    created = run_cli("keys", "create", "--role", "pcc", "--database-url", database)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with EmbeddedBroker() as kafka:
        _replay(kafka.bootstrap, events)
        worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
        worker = _worker(kafka.bootstrap, boundaries, worker_log)
        api = _api(kafka.bootstrap, boundaries, database, port, api_log)
        running = ((worker, worker_log), (api, api_log))
        try:
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as client:
                for hour in WANTED:
                    params = {"as_of": hour.strftime("%Y-%m-%dT%H:%M:%SZ")}
                    response = wait_until(
                        lambda p=params: (r := client.get("/api/v1/report", params=p))
                        .status_code == 200 and r,
                        f"the hour {hour}", 120, _alive(*running),
                    )  # fmt: skip
                    report = run_cli("report", "--boundaries", str(boundaries), "--events",
                                     str(events), "--as-of", params["as_of"], "--partitions",
                                     "4", "--format", "json")  # fmt: skip
                    assert report.returncode == 0, report.stderr
                    _same_figures(response.json(), orjson.loads(report.stdout))
                ready = lambda: client.get("/readyz").status_code == 200  # noqa: E731
                wait_until(ready, "ready", 60, _alive(*running))
                force = {"level": "force"}
                live = wait_until(
                    lambda: (r := client.get("/api/v1/metrics", params=force)).status_code == 200
                    and r.json(),
                    "a live snapshot", 60, _alive(*running),
                )  # fmt: skip
                assert live["live"] is True and live["areas"][0]["level"] == "force"
                prometheus = client.get("/metrics").text
                assert "beatlight_materialiser_lag_records" in prometheus
                assert client.get("/api/v1/metrics", headers={"X-API-Key": "x"}).status_code == 401
        finally:
            api_code = _stop(api, signal.SIGTERM)
            worker_code = _stop(worker)
        assert api_code == 0, api_log.read_text()[-3000:]
        assert worker_code == 0, worker_log.read_text()[-3000:]
