"""Reading the stream's snapshots back: an hour's from ``visibility.history``, the latest
live one from ``visibility.live``."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from beatlight.errors import BeatlightError
from beatlight.runtime import topics
from beatlight.runtime.reader import PartitionReader, TopicReader
from beatlight.streams.aggregate import document_from_records
from beatlight.times import format_time

__all__ = ["read_history", "read_latest_live"]


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


def read_latest_live(bootstrap: str, records: int, *, idle_ms: int = 1500) -> dict[str, Any] | None:
    """The live document last published on ``visibility.live`` (None: none yet, or cut
    short). ``records``: how many records a live snapshot has (its areas, zones and
    summary); only the end of the topic is read, twice that, so a snapshot cut short
    by a stopped worker is made whole by the one before it (latest record per area)."""
    reader = PartitionReader(bootstrap, topics.VISIBILITY_LIVE, request_timeout_ms=15_000)
    try:
        end = reader.end_at_least(0)
        if not end:
            return None
        start = max(reader.first_offset(0), end - 2 * records)
        latest: dict[str, dict] = {}
        for chunk in reader.read(0, start, idle_ms=idle_ms):
            for record in chunk:
                if record.key and record.value:
                    latest["live|" + record.key.decode()] = orjson.loads(record.value)
    finally:
        reader.close()
    return document_from_records(latest.items(), "live")
