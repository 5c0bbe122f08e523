"""End to end: simulate, replay, a real ``beatlight worker``, materialise, then the store's
hour documents equal ``beatlight report --as-of H`` on the same events, figure for figure."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from beatlight.api.documents import live_document, report_document_at, stored_hours
from beatlight.api.materialise import Materialiser
from beatlight.configs import materialiser_config
from beatlight.geo.geography import load_geography
from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.streams.simulate import SimulationConfig, simulate_lines
from tests.streams.test_stream_e2e import _expected, _replay, _same_figures, _stop, _worker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

START = datetime(2026, 11, 20, tzinfo=UTC)


def test_the_store_holds_the_workers_hours_equal_to_the_batch_report(engine, tmp_path):
    boundaries = tmp_path / "wards.geojson"
    write_synthetic(boundaries)
    events = tmp_path / "events.ndjson"
    config = SimulationConfig(seed=3, start=START, duration=timedelta(hours=6), units=20)
    wards = load_geography(boundaries).wards
    events.write_text("".join(line + "\n" for line in simulate_lines(wards, config)))
    with EmbeddedBroker() as kafka:
        _replay(kafka.bootstrap, events)
        worker = _worker(kafka.bootstrap, boundaries, tmp_path / "worker.log")
        stop = threading.Event()
        materialiser = Materialiser(materialiser_config(None, kafka.bootstrap), engine)
        thread = threading.Thread(target=materialiser.run, args=(stop,))
        thread.start()
        wanted = [START + timedelta(hours=h) for h in (1, 2, 3, 4)]
        try:
            deadline = time.monotonic() + 90
            while True:
                with Session(engine) as session:
                    # The hours and a live snapshot: they come on different topics, in any order.
                    if set(wanted) <= set(stored_hours(session)) and live_document(session):
                        break
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"stored only {materialiser.stored}"
                time.sleep(1)
            with Session(engine) as session:
                for hour in wanted:
                    document = report_document_at(session, hour)
                    assert document["force"]["windows"]["1h"]["patrol_minutes"] > 0
                    _same_figures(document, _expected(boundaries, events, hour))
                assert live_document(session)["force"]["windows"]  # a whole live snapshot
        finally:
            stop.set()
            thread.join(30)
            assert _stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert not thread.is_alive()
