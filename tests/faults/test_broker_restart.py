"""The broker restarts mid-stream: the worker and the API reconnect by themselves, and
nothing accepted is lost.

The embedded Tansu broker keeps its topics in S3 here (moto's S3 server, see
:mod:`tests.faults.infra`): its default memory storage starts empty after a restart,
so only a storage that outlives the broker can show that nothing is lost. A real
``beatlight worker`` and ``beatlight api`` run throughout; the broker is stopped with
SIGTERM once hour 1 is served, and started again on the same port; the rest of the
feed is produced then. The API's hours (one before the outage, two after it, whose
windows hold events from both sides) equal ``beatlight report`` on the whole feed.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from beatlight.geo.geography import load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.api.test_api_e2e import _alive, _api
from tests.conftest import run_cli, wait_until
from tests.faults.infra import S3Server
from tests.streams.test_stream_e2e import _expected, _replay, _same_figures, _stop, _worker
from tests.support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

START = datetime(2026, 11, 20, tzinfo=UTC)
#: Events from here on are produced after the restart. Hour 1 is settled before it (1 h
#: allowed lateness); hours 2 and 3 only after it.
RESTART_AT = START + timedelta(hours=2, minutes=10)
HOURS = [START + timedelta(hours=h) for h in (1, 2, 3)]


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with S3Server(tmp_path / "s3.log") as server:
        yield server


def test_the_worker_and_the_api_ride_out_a_broker_restart_and_lose_nothing(s3, tmp_path):
    boundaries, events = tmp_path / "wards.geojson", tmp_path / "events.ndjson"
    write_synthetic(boundaries)
    config = SimulationConfig(seed=11, start=START, duration=timedelta(hours=5), units=16)
    lines = simulate_lines(load_geography(boundaries).wards, config)
    events.write_text("".join(line + "\n" for line in lines))
    split = _first_at(events, RESTART_AT)
    database = f"sqlite:///{tmp_path / 'store' / 'beatlight.db'}"
    created = run_cli("keys", "create", "--role", "pcc", "--database-url", database)
    assert created.returncode == 0, created.stderr
    port = free_port()

    broker = EmbeddedBroker(storage=s3.storage, environment=s3.environment).start()
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    worker = api = None
    try:
        _replay(broker.bootstrap, events, limit=split)
        worker = _worker(broker.bootstrap, boundaries, worker_log)
        api = _api(broker.bootstrap, boundaries, database, port, api_log)
        alive = _alive((worker, worker_log), (api, api_log))
        headers = {"X-API-Key": created.stdout.strip()}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers,
                          timeout=10) as client:  # fmt: skip

            def hour(moment: datetime) -> dict | None:
                params = {"as_of": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
                response = client.get("/api/v1/report", params=params)
                return response.json() if response.status_code == 200 else None

            def readiness() -> tuple[int, dict]:
                response = client.get("/readyz")
                return response.status_code, response.json()

            wait_until(lambda: hour(HOURS[0]), "hour 1 before the restart", 150, alive)
            wait_until(lambda: readiness()[0] == 200, "ready before the restart", 30, alive)
            stored_before = s3.objects()

            broker.stop()  # SIGTERM; Tansu drains its clients, then exits
            status, body = wait_until(
                lambda: (r := readiness())[0] == 503 and r, "/readyz to show the outage", 30, alive
            )  # fmt: skip
            assert any("lost Kafka at" in problem for problem in body["problems"]), body
            assert client.get("/healthz").status_code == 200
            assert hour(HOURS[0]) is not None  # the store still serves what it holds

            broker = EmbeddedBroker(broker.port, storage=s3.storage,
                                    environment=s3.environment).start()  # fmt: skip
            assert s3.objects() >= stored_before  # nothing was wiped by the restart
            _replay(broker.bootstrap, events, skip=split)
            for moment in HOURS:
                served = wait_until(lambda m=moment: hour(m), f"the hour {moment}", 150, alive)
                _same_figures(served, _expected(boundaries, events, moment))
            assert hour(HOURS[2])["force"]["windows"]["1h"]["patrol_minutes"] > 0
            wait_until(lambda: readiness()[0] == 200, "ready after the restart", 30, alive)
        # Neither was restarted: the same processes, still running, reconnected themselves.
        assert worker.poll() is None and api.poll() is None
    finally:
        codes = {name: _stop(process, signal.SIGTERM) for name, process in
                 (("api", api), ("worker", worker)) if process is not None}  # fmt: skip
        broker.stop()
    assert codes == {"api": 0, "worker": 0}, (
        f"{codes}\n{api_log.read_text()[-3000:]}\n{worker_log.read_text()[-3000:]}"
    )


def _first_at(events: Path, moment: datetime) -> int:
    """The number of the first line whose event time is at or after ``moment``."""
    for number, line in enumerate(events.read_bytes().splitlines()):
        try:
            ts = datetime.fromisoformat(orjson.loads(line)["ts"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # the feed's faulty lines
        if ts >= moment:
            return number
    raise AssertionError(f"no event at or after {moment}")
