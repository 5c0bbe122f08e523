"""Reading the stream's hour-boundary snapshots back from ``visibility.history``."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from beatlight.errors import BeatlightError
from beatlight.runtime import topics
from beatlight.streams.aggregate import document_from_records
from beatlight.times import format_time

__all__ = ["read_history"]


def read_history(bootstrap: str, hour: datetime, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """The report document the stream published for ``hour`` (compacted: last record wins)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    prefix = format_time(hour.replace(microsecond=0))
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=15_000,
        )
    except KafkaError as error:
        raise BeatlightError(f"cannot reach Kafka at {bootstrap}: {error}") from None
    try:
        partitions = consumer.partitions_for_topic(topics.VISIBILITY_HISTORY) or set()
        tps = [TopicPartition(topics.VISIBILITY_HISTORY, p) for p in sorted(partitions)]
        if not tps:
            raise BeatlightError(f"no topic {topics.VISIBILITY_HISTORY} yet: is a worker running?")
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        latest: dict[str, dict] = {}
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        # Read until the topic has been quiet for a moment: Tansu's end offsets lag.
        while time.monotonic() - quiet_since < 1.5:
            if time.monotonic() > deadline:
                raise BeatlightError(f"timed out reading {topics.VISIBILITY_HISTORY}")
            polled = consumer.poll(timeout_ms=300)
            if polled:
                quiet_since = time.monotonic()
            for records in polled.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key.startswith(prefix + "|") and record.value:
                        latest[key] = orjson.loads(record.value)
    finally:
        consumer.close()
    document = document_from_records(latest.items(), prefix)
    if document is None:
        raise BeatlightError(
            f"no whole snapshot for {prefix} yet (hours are published once "
            "every partition's events have passed H plus the allowed lateness)"
        )
    return document
