"""The API's store goes away for a while: readiness says so, data endpoints answer 503
with Retry-After, and once the store is back the materialiser catches up with no gaps.

``beatlight api`` reaches a scratch PostgreSQL database through a TCP proxy
(:class:`tests.faults.infra.TcpProxy`). Hour snapshots arrive on ``visibility.history``
as a worker publishes them (``streams.aggregate.snapshot_records`` of the batch report
at each hour) before, during and after the outage; the proxy is cut (every connection
closed, new ones refused) for some seconds while they keep arriving. Afterwards every
hour is in the store, figure for figure, and the API's history has no hole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.documents import report_document_at, stored_hours
from beatlight.api.materialise import TOPICS
from beatlight.configs import lane_config
from beatlight.geo.geography import load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.topics import (
    VISIBILITY_HISTORY,
    VISIBILITY_LIVE,
    VISIBILITY_POINTS,
    ensure_topics,
)
from beatlight.runtime.topics import topic as topic_spec
from beatlight.streams.aggregate import snapshot_records
from beatlight.streams.batch import batch_report
from beatlight.streams.files import open_events
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.conftest import run_cli, wait_until
from tests.faults.infra import TcpProxy
from tests.streams.test_report_vs_oracle import assert_same
from tests.streams.test_stream_e2e import _stop
from tests.support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

POSTGRES = os.environ.get("BEATLIGHT_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip
START = datetime(2026, 11, 20, tzinfo=UTC)
HOURS = [START + timedelta(hours=h) for h in range(1, 9)]
BEFORE, DURING, AFTER = HOURS[:3], HOURS[3:6], HOURS[6:]
OUTAGE_S = 8.0


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped at the end."""
    name = f"beatlight_faults_{uuid.uuid4().hex[:12]}"
    server = create_engine_for(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        server.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {str(error.orig).splitlines()[0]}")
    url = make_url(POSTGRES).set(database=name)
    try:
        upgrade(url.render_as_string(hide_password=False))
        yield url.render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture
def feed(tmp_path: Path) -> tuple[Path, dict[datetime, dict]]:
    """Synthetic wards and the batch report at each of ``HOURS`` of a simulated feed."""
    boundaries, events = tmp_path / "wards.geojson", tmp_path / "events.ndjson"
    write_synthetic(boundaries)
    config = SimulationConfig(seed=7, start=START, duration=timedelta(hours=9), units=12)
    geography = load_geography(boundaries)
    events.write_text("".join(line + "\n" for line in simulate_lines(geography.wards, config)))
    now_us = _us(datetime.now(UTC))
    documents = {}
    for hour in HOURS:
        batches = (raw for raw, _ in open_events(events).chunks())
        documents[hour] = batch_report(geography, batches, lane_config(), now_us=now_us,
                                       as_of_us=_us(hour), partitions=4)  # fmt: skip
    return boundaries, documents


def test_a_store_outage_is_reported_and_the_materialiser_catches_up_without_gaps(
    scratch_database, feed, tmp_path
):
    boundaries, documents = feed
    created = run_cli("keys", "create", "--role", "pcc", "--database-url", scratch_database)
    assert created.returncode == 0, created.stderr
    direct = create_engine_for(scratch_database)  # the test's own view, not through the proxy
    store = make_url(scratch_database)
    with (
        EmbeddedBroker() as kafka,
        TcpProxy((store.host or "127.0.0.1", store.port or 5432)) as proxy,
    ):
        names = (*TOPICS, VISIBILITY_POINTS)
        ensure_topics(kafka.bootstrap, 1, specs=[topic_spec(name) for name in names])
        proxied = store.set(host="127.0.0.1", port=proxy.port)
        port, log = free_port(), tmp_path / "api.log"
        api = _api(kafka.bootstrap, boundaries, proxied.render_as_string(hide_password=False),
                   port, log)  # fmt: skip
        alive = _alive(api, log)
        try:
            with (
                _Producer(kafka.bootstrap) as producer,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20,
                             headers={"X-API-Key": created.stdout.strip()}) as client,
            ):  # fmt: skip
                for hour in BEFORE:
                    producer.hour(documents[hour])
                wait_until(lambda: _stored(direct) == BEFORE, "the first hours", 60, alive)
                wait_until(lambda: client.get("/readyz").status_code == 200, "ready", 30, alive)

                assert proxy.cut() > 0  # the API's pool and the materialiser had connections
                cut_at = time.monotonic()
                for hour in DURING:  # snapshots keep arriving while the store is away
                    producer.hour(documents[hour])
                    time.sleep(0.5)
                ready = client.get("/readyz")
                assert ready.status_code == 503, ready.text
                assert ready.json()["status"] == "not ready"
                assert any("cannot reach the store" in p for p in ready.json()["problems"])
                assert client.get("/healthz").json() == {"status": "ok"}
                for path, params in _DATA_ENDPOINTS(documents):
                    response = client.get(path, params=params)
                    assert response.status_code == 503, (path, response.text)
                    assert response.headers["Retry-After"] == "5", path
                    assert response.json() == {
                        "detail": "the store is unavailable; try again shortly"
                    }, path
                assert "Traceback" not in log.read_text()
                time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
                assert _stored(direct) == BEFORE  # nothing got through the cut proxy

                proxy.restore()
                for hour in AFTER:
                    producer.hour(documents[hour])
                wait_until(lambda: _stored(direct) == HOURS, "every hour in the store", 90, alive,
                           lambda: f"stored {_stored(direct)}")  # fmt: skip
                wait_until(lambda: client.get("/readyz").status_code == 200, "ready again", 30,
                           alive)  # fmt: skip

                with Session(direct) as session:  # figure for figure, every hour
                    for hour in HOURS:
                        assert_same(report_document_at(session, hour), documents[hour])
                series = _force_series(client, documents)
                assert [point["as_of"] for point in series] == [_z(hour) for hour in HOURS]
                assert [point["value"] for point in series] == [
                    documents[hour]["force"]["windows"]["1h"]["patrol_minutes"] for hour in HOURS
                ]
            said = " ".join(log.read_text().split())  # the log wraps its lines
            assert "materialiser: cannot write to the store" in said, said[-3000:]
            assert "materialiser: working again after" in said, said[-3000:]
        finally:
            code = _stop(api, signal.SIGTERM)
            direct.dispose()
    assert code == 0, log.read_text()[-3000:]


def _DATA_ENDPOINTS(documents: dict[datetime, dict]) -> list[tuple[str, dict]]:  # noqa: N802
    """Endpoints whose answers come from the store (an hour not read before: no cache)."""
    force = documents[HOURS[0]]["force"]["code"]
    return [
        ("/api/v1/report", {"as_of": _z(DURING[0])}),
        (f"/api/v1/history/{force}", {"level": "force", "window": "1h"}),
        ("/api/v1/public/visibility", {}),
    ]


def _force_series(client: httpx.Client, documents: dict[datetime, dict]) -> list[dict]:
    force = documents[HOURS[0]]["force"]["code"]
    params = {"level": "force", "window": "1h", "metric": "patrol_minutes",
              "start": _z(HOURS[0]), "end": _z(HOURS[-1])}  # fmt: skip
    response = client.get(f"/api/v1/history/{force}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["points"]


class _Producer:
    """Publishes hour snapshots as a worker does: one record per area, then the summary."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def hour(self, document: dict) -> None:
        for key, value in snapshot_records(document, prefix=document["as_of"]):
            self._producer.send(VISIBILITY_HISTORY, key=key.encode(), value=orjson.dumps(value))
        for key, value in snapshot_records(document, prefix="live"):
            self._producer.send(VISIBILITY_LIVE, key=key.removeprefix("live|").encode(),
                                value=orjson.dumps(value))  # fmt: skip
        self._producer.flush(timeout=30)

    def __enter__(self) -> _Producer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._producer.close()


def _api(bootstrap: str, boundaries: Path, database: str, port: int, log: Path):  # noqa: ANN202
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    # Retries at most 2 s apart (default 30 s), so the catch-up starts soon after the store is back.
    env |= {"BEATLIGHT_LIVE_CLOCK": "event", "BEATLIGHT_MATERIALISE_MAX_BACKOFF_S": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "beatlight", "api", "--bootstrap", bootstrap, "--boundaries",
         str(boundaries), "--database-url", database, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env,
    )  # fmt: skip


def _alive(process: subprocess.Popen, log: Path):  # noqa: ANN202
    return lambda: None if process.poll() is None else log.read_text()[-3000:]


def _stored(engine: sa.Engine) -> list[datetime]:
    with Session(engine) as session:
        return [hour.astimezone(UTC) for hour in stored_hours(session)]


def _us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
