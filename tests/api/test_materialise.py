"""The materialiser against a real broker: topics → store exactly once, resumed, lag, outages.

Long because its cases are one contract, the store follows the topics exactly once, and
share the broker fixture and the record helpers defined here.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import orjson
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from beatlight.api.documents import live_document, report_document_at
from beatlight.api.materialise import TOPICS, Materialiser, MaterialiserConfig
from beatlight.api.store import read_offsets
from beatlight.configs import alert_tracker, materialiser_config
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.topics import (
    VISIBILITY_ALERTS,
    VISIBILITY_HISTORY,
    VISIBILITY_LIVE,
    ensure_topics,
)
from beatlight.runtime.topics import topic as topic_spec
from beatlight.streams.aggregate import document_from_records, snapshot_records
from tests.api.conftest import HOURS, dump
from tests.streams.test_report_vs_oracle import assert_same
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def kafka() -> Iterator[str]:
    """A fresh broker per test: the topic names are fixed."""
    with EmbeddedBroker() as running:
        ensure_topics(running.bootstrap, 1, specs=[topic_spec(name) for name in TOPICS])
        yield running.bootstrap


def worker_records(documents: dict) -> list[tuple[str, str, dict]]:
    """(topic, key, value) as a worker publishes them: hour snapshots, live ones, alerts."""
    records = []
    tracker = alert_tracker()
    for document in documents.values():
        for key, value in snapshot_records(document, prefix=document["as_of"]):
            records.append((VISIBILITY_HISTORY, key, value))
        for key, value in snapshot_records(document, prefix="live"):
            records.append((VISIBILITY_LIVE, key.removeprefix("live|"), value))
        for alert in tracker.update(document):
            records.append((VISIBILITY_ALERTS, alert["code"], alert))
    return records


def produce(bootstrap: str, records: list[tuple[str, str, dict]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for topic, key, value in records:
            producer.send(topic, key=key.encode(), value=orjson.dumps(value))
        producer.flush(timeout=30)
    finally:
        producer.close()


def counts(records: list[tuple[str, str, dict]]) -> dict[str, int]:
    return {name: sum(1 for topic, _, _ in records if topic == name) for name in TOPICS}


class Running:
    """A materialiser on a thread: ``until(predicate)`` waits, ``stop()`` stops it cleanly."""

    def __init__(self, materialiser: Materialiser) -> None:
        self.materialiser = materialiser
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=materialiser.run, args=(self.stop_event,))
        self.thread.start()

    def until(self, predicate: Callable[[Materialiser], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self.materialiser):
            assert self.thread.is_alive(), "the materialiser stopped"
            assert time.monotonic() < deadline, f"timed out; stored {self.materialiser.stored}"
            time.sleep(0.1)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def caught_up(expected: dict[str, int]) -> Callable[[Materialiser], bool]:
    return lambda m: m.stored == expected and all(v == 0 for v in m.lag().values())


def config(bootstrap: str, **options) -> MaterialiserConfig:
    return replace(materialiser_config(None, bootstrap), group_id="test-materialiser",
                   connect_timeout_s=2, max_backoff_s=2, **options)  # fmt: skip


def test_topics_are_stored_exactly_once_and_a_restart_resumes(kafka, engine, documents):
    records = worker_records(documents)
    produce(kafka, records)
    expected = counts(records)
    assert all(expected.values())

    first = Running(Materialiser(config(kafka), engine))
    first.until(caught_up(expected))
    first.stop()
    stored = dump(engine)
    with Session(engine) as session:
        for hour, document in documents.items():
            history = [(k, v) for t, k, v in records if t == VISIBILITY_HISTORY]
            assert report_document_at(session, hour) == document_from_records(
                history, document["as_of"])  # fmt: skip
        last = documents[HOURS[-1]]
        assert live_document(session) == document_from_records(
            snapshot_records(last, prefix="live"), "live")  # fmt: skip
        assert read_offsets(session) == {(t, 0): n for t, n in expected.items()}
    assert len(stored["alerts"]) == expected[VISIBILITY_ALERTS]

    # A restart seeks to the stored offsets: nothing is read or stored again.
    second = Running(Materialiser(config(kafka), engine))
    second.until(lambda m: all(v == 0 for v in m.lag().values()))
    time.sleep(1)
    assert second.materialiser.stored == dict.fromkeys(TOPICS, 0)
    # The worker replays everything (a rebuilt aggregator): the store does not change.
    produce(kafka, records)
    second.until(caught_up(expected))
    second.stop()
    replayed = dump(engine)
    assert replayed.pop("materialiser_offsets") != stored.pop("materialiser_offsets")
    assert replayed == stored


def test_only_whole_snapshots_are_stored_whatever_the_batch_size(kafka, engine, documents):
    """A batch that ends inside a snapshot stores nothing of it; a restart reads it again."""
    live = [r for r in worker_records(documents) if r[0] == VISIBILITY_LIVE]
    produce(kafka, live)
    wholes = [None] + [document_from_records(snapshot_records(d, prefix="live"), "live")
                       for d in documents.values()]  # fmt: skip
    per_snapshot = len(live) // len(documents)
    seen = []
    materialiser = Materialiser(config(kafka, batch_records=7), engine)
    try:
        deadline = time.monotonic() + 60
        while materialiser.lag()[VISIBILITY_LIVE] != 0:
            assert time.monotonic() < deadline
            materialiser.step()
            with Session(engine) as session:
                document = live_document(session)
                offset = read_offsets(session).get((VISIBILITY_LIVE, 0), 0)
            assert document in wholes
            assert offset % per_snapshot == 0  # always at a snapshot's end
            seen.append(wholes.index(document))
            if len(seen) == 5:  # a restart in the middle of it all
                materialiser.close()
    finally:
        materialiser.close()
    assert seen[-1] == len(documents) and sorted(seen) == seen and len(set(seen)) > 2


def test_lag_is_reported_per_topic_and_as_a_gauge(kafka, engine, documents):
    records = [r for r in worker_records(documents) if r[0] == VISIBILITY_HISTORY]
    produce(kafka, records)
    registry = CollectorRegistry()
    materialiser = Materialiser(config(kafka, batch_records=10), engine, registry)
    try:
        deadline = time.monotonic() + 30
        while materialiser.stored[VISIBILITY_HISTORY] == 0:
            assert time.monotonic() < deadline
            materialiser.step()
        behind = len(records) - materialiser.stored[VISIBILITY_HISTORY]
        assert behind > 0
        assert materialiser.lag()[VISIBILITY_HISTORY] == behind
        gauge = registry.get_sample_value("beatlight_materialiser_lag_records",
                                          {"topic": VISIBILITY_HISTORY})  # fmt: skip
        assert gauge == behind
        while materialiser.lag()[VISIBILITY_HISTORY]:
            assert time.monotonic() < deadline
            materialiser.step()
        assert registry.get_sample_value(
            "beatlight_materialiser_records_total", {"topic": VISIBILITY_HISTORY}
        ) == len(records)
    finally:
        materialiser.close()


def test_unreadable_records_are_skipped_and_counted(kafka, engine, documents):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka)
    producer.send(VISIBILITY_ALERTS, key=b"W", value=b"{not json")
    producer.send(VISIBILITY_LIVE, key=b"ward|W", value=None)  # a tombstone
    producer.flush(timeout=30)
    producer.close()
    first = {HOURS[0]: documents[HOURS[0]]}
    records = [r for r in worker_records(first) if r[0] != VISIBILITY_HISTORY]
    produce(kafka, records)
    registry = CollectorRegistry()
    running = Running(Materialiser(config(kafka), engine, registry))
    running.until(caught_up(counts(records)))
    running.stop()
    assert (
        registry.get_sample_value(
            "beatlight_materialiser_skipped_total",
            {"topic": VISIBILITY_ALERTS, "reason": "JSONDecodeError"},
        )
        == 1
    )


def test_a_broker_that_is_not_there_yet_is_waited_for(engine, documents, caplog):
    port = free_port()
    caplog.set_level(logging.INFO, logger="beatlight.materialise")
    running = Running(Materialiser(config(f"127.0.0.1:{port}"), engine))
    try:
        time.sleep(3)
        assert running.thread.is_alive()
        assert "cannot reach Kafka at 127.0.0.1:" in caplog.text
        assert "retrying with backoff" in caplog.text
        with EmbeddedBroker(port=port) as broker:
            ensure_topics(broker.bootstrap, 1, specs=[topic_spec(name) for name in TOPICS])
            records = worker_records(documents)
            produce(broker.bootstrap, records)
            running.until(caught_up(counts(records)))
            assert "working again" in caplog.text
            running.stop()
    finally:
        running.stop()


def test_topics_created_after_the_start_are_picked_up(engine, documents, caplog):
    caplog.set_level(logging.INFO, logger="beatlight.materialise")
    with EmbeddedBroker() as broker:
        running = Running(Materialiser(config(broker.bootstrap), engine))
        try:
            time.sleep(2.5)
            assert running.thread.is_alive()
            ensure_topics(broker.bootstrap, 1, specs=[topic_spec(VISIBILITY_HISTORY)])
            history = [r for r in worker_records(documents) if r[0] == VISIBILITY_HISTORY]
            produce(broker.bootstrap, history)
            running.until(lambda m: m.stored[VISIBILITY_HISTORY] == len(history))
            assert "waiting for visibility.live, visibility.alerts" in caplog.text
            ensure_topics(broker.bootstrap, 1, specs=[topic_spec(n) for n in TOPICS])
            rest = [r for r in worker_records(documents) if r[0] != VISIBILITY_HISTORY]
            produce(broker.bootstrap, rest)
            running.until(caught_up(counts(history + rest)))
        finally:
            running.stop()


def test_a_failed_write_is_rolled_back_and_retried_from_the_stored_offsets(
    kafka, engine, documents, caplog
):
    """The store fails the first writes (a fake outage): nothing is lost or stored twice."""
    records = worker_records(documents)
    produce(kafka, records)
    failures = {"left": 3}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def fail(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO HISTORY") and failures["left"]:
            failures["left"] -= 1
            raise sa.exc.OperationalError(statement, None, Exception("the store went away"))

    caplog.set_level(logging.INFO, logger="beatlight.materialise")
    running = Running(Materialiser(config(kafka, batch_records=50), engine))
    try:
        running.until(caught_up(counts(records)))
    finally:
        running.stop()
    assert failures["left"] == 0
    assert "cannot write to the store" in caplog.text and "working again" in caplog.text
    with Session(engine) as session:
        for hour, document in documents.items():
            assert_same(report_document_at(session, hour), document)
        assert read_offsets(session) == {(t, 0): n for t, n in counts(records).items()}


def test_a_store_that_is_down_is_retried_not_fatal(kafka, caplog):
    from beatlight.api.db import create_engine_for

    caplog.set_level(logging.INFO, logger="beatlight.materialise")
    engine = create_engine_for("postgresql://postgres:pw@127.0.0.1:1/beatlight")
    running = Running(Materialiser(config(kafka), engine))
    try:
        running.until(lambda m: "cannot write to the store" in caplog.text, timeout_s=30)
        assert "postgresql+psycopg://postgres:***@127.0.0.1:1/beatlight" in caplog.text
        assert running.thread.is_alive()
    finally:
        running.stop()
        engine.dispose()


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    return env | {"COLUMNS": "200", "NO_COLOR": "1"}


def test_the_command_stores_the_topics_and_stops_cleanly_on_sigterm(kafka, documents, tmp_path):
    from beatlight.api.db import create_engine_for

    records = worker_records(documents)
    produce(kafka, records)
    url = f"sqlite:///{tmp_path / 'store' / 'beatlight.db'}"
    log = tmp_path / "materialise.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "beatlight", "materialise", "--bootstrap", kafka,
         "--database-url", url],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=_cli_env(),
    )  # fmt: skip
    try:
        engine = create_engine_for(url)
        deadline = time.monotonic() + 60
        expected = {(t, 0): n for t, n in counts(records).items()}
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with Session(engine) as session:
                    if read_offsets(session) == expected:
                        break
            except sa.exc.OperationalError:
                pass  # the schema is not there yet
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        engine.dispose()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, log.read_text()
    assert "stopped cleanly" in log.read_text()


def test_the_command_says_when_the_store_is_unreachable(kafka):
    done = subprocess.run(
        [sys.executable, "-m", "beatlight", "materialise", "--bootstrap", kafka,
         "--database-url", "postgresql://postgres:pw@127.0.0.1:1/beatlight"],
        capture_output=True, text=True, timeout=60, env=_cli_env(),
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot reach the store at postgresql+psycopg://postgres:***@127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr
