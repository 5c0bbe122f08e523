"""Streams fixtures: a real Kafka-compatible broker, started once per session."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from beatlight.runtime.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """A real broker's address: ``BEATLIGHT_TEST_KAFKA_BOOTSTRAP``, else an embedded Tansu."""
    given = os.environ.get("BEATLIGHT_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    with EmbeddedBroker() as running:
        yield running.bootstrap


@pytest.fixture
def new_topic(broker: str, request: pytest.FixtureRequest) -> Callable[..., str]:
    """Create a topic of this test's own (``new_topic(partitions=4)``) and return its name."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    def create(partitions: int = 4) -> str:
        name = re.sub(r"[^a-zA-Z0-9._-]", "-", f"test.{request.node.name}")[:200]
        name = f"{name}.{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=broker, client_id="beatlight-tests")
        try:
            admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            admin.close()
        return name

    return create


@pytest.fixture
def read_topic(broker: str) -> Callable[..., list]:
    """``read_topic(name)``: every record on a topic, in partition then offset order.

    Reads from the session's ``broker`` unless given another ``bootstrap`` (a test's own).

    Partitions are assigned by hand: no consumer-group join, which Tansu completes
    only after about half the session timeout (SPEC "Known pitfalls"). The end of
    each partition is the high watermark of Fetch responses, not ``end_offsets()``:
    Tansu 0.6.0 answers ListOffsets(latest) with the last *batch*'s base offset + 1.
    """
    from kafka import KafkaConsumer, TopicPartition

    def read(name: str, timeout_s: float = 30.0, *, bootstrap: str | None = None) -> list:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap or broker,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="beatlight-tests",
        )
        try:
            deadline = time.monotonic() + timeout_s
            partitions = consumer.partitions_for_topic(name)
            while not partitions and time.monotonic() < deadline:
                time.sleep(0.1)
                partitions = consumer.partitions_for_topic(name)
            assert partitions, f"topic {name} not found"
            assigned = [TopicPartition(name, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            records: list = []
            while time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    records.extend(batch)
                ends = [consumer.highwater(tp) for tp in assigned]
                if all(end is not None for end in ends) and all(
                    consumer.position(tp) >= end for tp, end in zip(assigned, ends, strict=True)
                ):
                    break
            else:
                raise AssertionError(f"{name}: not read to the end in {timeout_s} s")
            return sorted(records, key=lambda r: (r.partition, r.offset))
        finally:
            consumer.close()

    return read
