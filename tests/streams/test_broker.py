"""The embedded broker, topic creation and ``beatlight broker``, against a real Tansu broker."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

from beatlight.cli.options import require_bootstrap
from beatlight.errors import BeatlightError
from beatlight.runtime.broker import BrokerStartError, EmbeddedBroker
from beatlight.runtime.reach import KafkaUnreachable, fetch_metadata
from beatlight.runtime.topics import PRESENCE, TOPICS, ensure_topics, topic, topics_markdown
from beatlight.settings import Settings

pytestmark = pytest.mark.integration

ADDRESS = re.compile(r"^127\.0\.0\.1:\d{1,5}$")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of a process's children, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append((int(entry.name), name))
    return found


# --- EmbeddedBroker ---------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_embedded_broker_serves_metadata_then_stops_leaving_nothing_behind():
    with EmbeddedBroker() as running:
        assert ADDRESS.match(running.bootstrap)
        pid, port = running.pid, running.port
        assert pid is not None and _alive(pid)
        assert running.startup_seconds is not None and running.startup_seconds < 10
        assert fetch_metadata(running.bootstrap) == []
    assert not _alive(pid)
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


@pytest.mark.timeout(60)
def test_a_broker_on_a_given_port_can_be_restarted_there():
    port = _closed_port()
    for _ in range(2):
        with EmbeddedBroker(port) as running:
            assert running.bootstrap == f"127.0.0.1:{port}"
            fetch_metadata(running.bootstrap)


@pytest.mark.timeout(60)
def test_stop_is_clean_while_a_client_is_still_connected():
    # Tansu drains connected clients for ~5 s after SIGTERM; stop() must outwait it.
    running = EmbeddedBroker().start()
    admin = KafkaAdminClient(bootstrap_servers=running.bootstrap)
    try:
        admin.list_topics()
        pid = running.pid
        running.stop()
        assert not _alive(pid)
        running.stop()  # idempotent
    finally:
        admin.close()


def test_a_port_in_use_is_refused_with_the_fix():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerStartError, match=f"port {port} on 127.0.0.1 is in use"):
            EmbeddedBroker(port).start()


@pytest.mark.timeout(60)
def test_a_storage_the_broker_cannot_use_is_reported_with_its_own_words():
    with pytest.raises(BrokerStartError) as raised:
        EmbeddedBroker(storage="bogus://nowhere").start()
    message = str(raised.value)
    assert "exited at start-up" in message and "UnsupportedStorageUrl" in message
    assert "\n" not in message


@pytest.mark.timeout(30)
def test_an_unreachable_bootstrap_is_one_clear_error():
    address = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(KafkaUnreachable) as raised:
        fetch_metadata(address, timeout_s=1)
    assert time.monotonic() - started < 10
    assert str(raised.value) == (
        f"cannot reach Kafka at {address}: is the broker running? "
        "(beatlight broker, or set BEATLIGHT_KAFKA_BOOTSTRAP)"
    )


def test_the_kafka_given_is_the_one_talked_to_and_none_given_says_how_to_get_one():
    assert require_bootstrap(Settings(kafka_bootstrap="k1:9092,k2:9092")) == "k1:9092,k2:9092"
    with pytest.raises(BeatlightError) as raised:
        require_bootstrap(Settings(kafka_bootstrap=None))
    message = str(raised.value)
    assert "--bootstrap" in message and "BEATLIGHT_KAFKA_BOOTSTRAP" in message
    assert "beatlight broker" in message


# --- topics --------------------------------------------------------------------------------


def test_topic_table_matches_the_design():
    names = [spec.name for spec in TOPICS]
    assert len(set(names)) == len(names)
    assert set(names) >= {
        "patrol.presence", "patrol.presence.dlq", "visibility.live",
        "visibility.history", "visibility.alerts", "beatlight.partials",
    }  # fmt: skip
    assert all(spec.cleanup_policy in ("delete", "compact") for spec in TOPICS)
    presence = topic(PRESENCE)
    assert presence.key == "unit" and presence.partitions is None
    assert presence.retention_ms == 29 * 86_400_000  # 28 d window + a day's margin
    assert topic("visibility.live").cleanup_policy == "compact"
    assert topic("visibility.history").cleanup_policy == "compact"
    assert topic("beatlight.partials").partitions == 1
    # Compaction can act on checkpoints within the hour, not only once a week's segment rolls.
    assert topic("beatlight.checkpoints").configs == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "segment.ms": "3600000",
    }
    table = topics_markdown()
    assert all(f"`{spec.name}`" in table for spec in TOPICS)


def test_the_architecture_page_shows_the_topics_as_they_are():
    page = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    assert topics_markdown() in page, (
        "paste beatlight.runtime.topics.topics_markdown() into docs/architecture.md"
    )


@pytest.mark.timeout(60)
def test_ensure_topics_creates_every_topic_with_its_partitions(broker):
    prefix = f"t{uuid.uuid4().hex[:6]}."
    specs = [dataclasses.replace(spec, name=prefix + spec.name) for spec in TOPICS]
    counts = ensure_topics(broker, 3, specs=specs)
    expected = {s.name: (3 if s.partitions is None else s.partitions) for s in specs}
    assert counts == expected
    consumer = KafkaConsumer(bootstrap_servers=broker)
    try:  # as a client sees them
        for name, partitions in expected.items():
            assert consumer.partitions_for_topic(name) == set(range(partitions))
    finally:
        consumer.close()


@pytest.mark.timeout(60)
def test_ensure_topics_is_idempotent_and_leaves_existing_topics_alone(broker, caplog):
    prefix = f"t{uuid.uuid4().hex[:6]}."
    specs = [dataclasses.replace(spec, name=prefix + spec.name) for spec in TOPICS[:2]]
    first = ensure_topics(broker, 2, specs=specs)
    with caplog.at_level(logging.WARNING, logger="beatlight.topics"):
        again = ensure_topics(broker, 5, specs=specs)  # asks for more partitions
    assert again == first
    assert f"topic {prefix}patrol.presence exists with 2 partitions" in caplog.text


@pytest.mark.timeout(60)
def test_the_real_topic_names_can_be_ensured_twice(broker):
    first = ensure_topics(broker, 4)
    assert ensure_topics(broker, 4) == first
    assert set(first) == {spec.name for spec in TOPICS}


def test_ensure_topics_on_an_unreachable_broker_says_so():
    with pytest.raises(KafkaUnreachable):
        ensure_topics(f"127.0.0.1:{_closed_port()}", timeout_s=1)


# --- beatlight broker -------------------------------------------------------------------


def _beatlight(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1"})
    return subprocess.Popen(
        [sys.executable, "-m", "beatlight", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _first_line(process: subprocess.Popen[str], timeout_s: float = 60) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    assert ready, "no address printed in time"
    return process.stdout.readline().strip()  # type: ignore[union-attr]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_broker_command_prints_its_address_serves_topics_and_stops_cleanly(stop_with):
    process = _beatlight("broker", "--partitions", "2")
    try:
        address = _first_line(process)
        assert ADDRESS.match(address), address
        assert set(fetch_metadata(address)) >= {spec.name for spec in TOPICS}
        tansu = [pid for pid, name in _children(process.pid) if name.startswith("tansu")]
        assert len(tansu) == 1
        consumer = KafkaConsumer(bootstrap_servers=address)
        assert consumer.partitions_for_topic(PRESENCE) == {0, 1}
        consumer.close()
        process.send_signal(stop_with)
        out, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert out == ""  # the address was the only line on stdout
    assert "broker stopped" in errors
    assert not _alive(tansu[0])


@pytest.mark.timeout(60)
def test_broker_command_on_a_port_in_use_fails_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _beatlight("broker", "--port", str(port))
        out, errors = process.communicate(timeout=60)
    assert process.returncode == 2
    assert out == ""
    assert errors.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use: choose another with --port, "
        "or leave it out to use a free one"
    ]
