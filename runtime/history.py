"""Reading the stream's hour-boundary snapshots back from ``visibility.history``."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from beatlight.errors import BeatlightError
from beatlight.runtime import topics
from beatlight.runtime.reader import TopicReader
from beatlight.streams.aggregate import document_from_records
from beatlight.times import format_time

__all__ = ["read_history"]


def read_history(bootstrap: str, hour: datetime, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """The report document the stream published for ``hour`` (compacted: last record wins)."""
    from kafka.errors import KafkaError

    prefix = format_time(hour.replace(microsecond=0))
    reader = TopicReader(bootstrap, (topics.VISIBILITY_HISTORY,), client_id="beatlight-history",
                         connect_timeout_s=30.0, request_timeout_ms=15_000)  # fmt: skip
    try:
        try:
            tps, _ = reader.partitions()
        except KafkaError as error:
            raise BeatlightError(f"cannot reach Kafka at {bootstrap}: {error}") from None
        if not tps:
            raise BeatlightError(f"no topic {topics.VISIBILITY_HISTORY} yet: is a worker running?")
        reader.assign(dict.fromkeys(tps, 0))
        latest: dict[str, dict] = {}
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        # Read until the topic has been quiet for a moment: Tansu's end offsets lag.
        while time.monotonic() - quiet_since < 1.5:
            if time.monotonic() > deadline:
                raise BeatlightError(f"timed out reading {topics.VISIBILITY_HISTORY}")
            polled = reader.poll(300, 500)
            if polled:
                quiet_since = time.monotonic()
            for records in polled.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key.startswith(prefix + "|") and record.value:
                        latest[key] = orjson.loads(record.value)
    finally:
        reader.close()
    document = document_from_records(latest.items(), prefix)
    if document is None:
        raise BeatlightError(
            f"no whole snapshot for {prefix} yet (hours are published once "
            "every partition's events have passed H plus the allowed lateness)"
        )
    return document
