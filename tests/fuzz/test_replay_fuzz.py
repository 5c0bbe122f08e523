"""Fuzzing the way onto Kafka: any bytes → :mod:`beatlight.streams.outbound` / ``replay`` → topics.

Properties (SPEC "The presence event": fields outside the table never reach a topic;
security finding 4 of issue 19):

* a line travels with the batch report's verdict: what the producer rejects is what
  :func:`parse_lines` rejects, with the same reason, and what it sends gets from the
  worker's checks the reason the line itself gets;
* what it sends is a JSON object of SPEC fields holding no object or array with
  anything in it, and no byte of an identifying field, however it was nested;
* against the real broker, a replay of any lines (in either order) puts on
  ``patrol.presence`` and ``patrol.presence.dlq`` nothing but SPEC fields and dead
  letters, and accounts for every line: sent, or dead-lettered with its number.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beatlight.runtime.producers import PresenceProducer
from beatlight.runtime.replay import replay_file
from beatlight.streams.events import FIELDS, parse_lines, validate
from beatlight.streams.outbound import Outbound, Rejection, encode_line
from tests.fuzz.events import (
    NOW_US,
    encode,
    good_event,
    junk_line,
    near_valid,
    secret_markers,
    to_bytes,
)
from tests.fuzz.profiles import fuzz, timeout

MAX_EVENT_BYTES = 8192
LETTER_KEYS = {"reason", "source", "file", "line"}

lines_of_any_kind = junk_line() | near_valid().map(lambda o: to_bytes(encode(o)))


def _verdict(line: bytes) -> str | None:
    raw = parse_lines([line], max_event_bytes=MAX_EVENT_BYTES)
    return validate(raw, now_us=NOW_US).reason[0] if len(raw) else "blank"


def _assert_spec_only(value: bytes, key: bytes | None) -> None:
    for secret in secret_markers():
        assert secret not in value and secret not in (key or b""), (secret, value[:300])
    event = orjson.loads(value)
    assert isinstance(event, dict) and set(event) <= set(FIELDS), event
    for name, item in event.items():
        assert item in ({}, None) or isinstance(item, str | int | float | bool), (name, item)


@pytest.mark.unit
@pytest.mark.timeout(timeout(120))
@fuzz(400)
@given(line=lines_of_any_kind)
def test_a_line_travels_with_the_batch_reports_verdict_and_nothing_else(line):
    outcome = encode_line(line, max_event_bytes=MAX_EVENT_BYTES)
    wanted = _verdict(line)
    if outcome is None:
        assert wanted == "blank"
    elif isinstance(outcome, Rejection):
        assert outcome.reason == wanted and wanted in ("too_large", "malformed_json")
    else:
        assert isinstance(outcome, Outbound)
        _assert_spec_only(outcome.value, outcome.key)
        assert len(outcome.value) <= MAX_EVENT_BYTES
        assert _verdict(outcome.value) == wanted, (line[:300], outcome.value[:300])


# --- against the broker ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A real broker of this module's own (hypothesis reuses it across examples)."""
    from beatlight.runtime.broker import EmbeddedBroker

    with EmbeddedBroker() as running:
        yield running.bootstrap


def _new_topics(bootstrap: str, *names: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="beatlight-fuzz")
    try:
        admin.create_topics([NewTopic(name, 2, 1) for name in names])
    finally:
        admin.close()


def _read(bootstrap: str, name: str, expected: int) -> list:
    """Every record of a topic: ``expected`` of them (the producer flushed them all)."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest")  # fmt: skip
    try:
        assigned = [TopicPartition(name, p) for p in (0, 1)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        records: list = []
        deadline = time.monotonic() + 30
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=300).values():  # and nothing more
            records.extend(batch)
        return records
    finally:
        consumer.close()


good_lines = st.integers(0, 10_000).map(lambda i: orjson.dumps(good_event(i, i % 3000)))


@pytest.mark.integration
@pytest.mark.timeout(timeout(300))
@fuzz(12)
@given(
    lines=st.lists(lines_of_any_kind | good_lines, min_size=1, max_size=40),
    keep_order=st.booleans(),
)
def test_a_replay_of_any_lines_puts_nothing_outside_the_spec_on_a_topic(broker, lines, keep_order):
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]  # one a line
    path = Path(tempfile.mkdtemp(prefix="beatlight-fuzz-")) / "feed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    topic = f"fuzz.presence.{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}.dlq"
    _new_topics(broker, topic, dlq)
    with PresenceProducer(broker, topic, dlq_topic=dlq) as producer:
        stats = replay_file(path, producer, keep_order=keep_order, run_rows=7)
    verdicts = {n: _verdict(line) for n, line in enumerate(lines, start=1)}
    events = {n for n, verdict in verdicts.items() if verdict != "blank"}
    assert stats.events == len(events)
    sent = _read(broker, topic, stats.sent)
    letters = _read(broker, dlq, sum(stats.rejected.values()))
    assert len(sent) + len(letters) == len(events)
    for record in sent:
        _assert_spec_only(record.value, record.key)
    for record in letters:
        for secret in secret_markers():
            assert secret not in record.value
        letter = orjson.loads(record.value)
        assert set(letter) == LETTER_KEYS and letter["file"] == path.name
        assert letter["reason"] == verdicts[letter["line"]], letter
    rejected_here = {n for n in events if verdicts[n] in ("too_large", "malformed_json")}
    assert {orjson.loads(r.value)["line"] for r in letters} == rejected_here
