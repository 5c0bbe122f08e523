"""The worker's Kafka side: reading offset ranges of a partition straight from the broker.

A lane (:class:`beatlight.streams.runner.LaneRunner`) refuses records past a gap in
its offsets; the runtime reads the gap, a checkpoint or a backlog with a
:class:`PartitionReader` (kafka-python, no consumer group), outside Faust.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from beatlight.streams.runner import Record

__all__ = ["PartitionReader"]

log = logging.getLogger("beatlight.worker")


class PartitionReader:
    """Reads offset ranges of one topic's partitions directly (no consumer group)."""

    def __init__(self, bootstrap: str, topic: str, *, request_timeout_ms: int = 30_000) -> None:
        from kafka import KafkaConsumer

        self.topic = topic
        self._lock = threading.Lock()
        #: Whether the last read without a ``stop`` got to the partition's end (see read()).
        self.at_end = False
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            request_timeout_ms=request_timeout_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            # Tansu holds a fetch with nothing to return for all of this wait (kafka-python's
            # default is 500 ms), and a fetch in flight holds up the next read's, of another
            # partition, on the same connection: short reads of quiet partitions in a row
            # then left a third ``idle_ms=300`` read no time to get its records at all.
            fetch_max_wait_ms=100,
        )

    def first_offset(self, partition: int) -> int:
        """The first offset still in the log (retention may have deleted earlier ones)."""
        from kafka import TopicPartition

        tp = TopicPartition(self.topic, partition)
        with self._lock:
            return self._consumer.beginning_offsets([tp])[tp]

    def read(
        self, partition: int, start: int, stop: int | None = None, *, batch: int = 20_000,
        idle_ms: int = 1500, cancel: threading.Event | None = None,
    ) -> Iterator[list[Record]]:  # fmt: skip
        """Records from ``start``, up to ``stop`` or, without one, to the partition's end.

        Without ``stop``, it ends at the end of the partition as it was when the read
        began (then :attr:`at_end` is set), or short of it once ``idle_ms`` pass without
        a record (a broker slow to answer). Ends early, between polls, once ``cancel`` is
        set (a worker stopping); the caller tells by the offsets it got.
        """
        from kafka import TopicPartition

        tp = TopicPartition(self.topic, partition)
        with self._lock:
            self.at_end = False
            self._consumer.assign([tp])
            self._consumer.seek(tp, start)
            end = None if stop is not None else self._end_at_least(tp, idle_ms)
            position = start
            quiet_since = time.monotonic()
            while stop is None or position < stop:
                if cancel is not None and cancel.is_set():
                    return
                polled = self._consumer.poll(timeout_ms=min(idle_ms, 500), max_records=batch)
                messages = polled.get(tp, [])
                if messages:
                    quiet_since = time.monotonic()
                    chunk = [Record(m.offset, m.value, m.key) for m in messages
                             if stop is None or m.offset < stop]  # fmt: skip
                    if chunk:
                        position = chunk[-1].offset + 1
                        yield chunk
                if stop is None and self._read_past(tp, end):
                    self.at_end = True
                    return
                if not messages:
                    quiet = time.monotonic() - quiet_since
                    if stop is None and quiet * 1000 >= idle_ms:
                        return  # short of the end: at_end stays False
                    if quiet > 60:
                        raise TimeoutError(f"{tp}: no records between {position} and {stop}")

    def _end_at_least(self, tp: Any, idle_ms: int) -> int | None:
        """An offset the partition's end has reached by now (ListOffsets, asked now), or
        ``None`` if the broker does not say in time (the read cannot tell it got to the end).

        Apache Kafka answers with the end itself; Tansu 0.6 with the base offset of the
        last record batch plus one, short of the end when that batch holds more records.
        """
        from kafka.errors import KafkaError

        try:
            return self._consumer.end_offsets([tp], timeout_ms=max(idle_ms, 1000))[tp]
        except KafkaError as error:  # e.g. the broker is down: no end, so never "at the end"
            log.debug("%s: no end offset (%r)", tp, error)
            return None

    def _read_past(self, tp: Any, end_at_least: int | None) -> bool:
        """Whether this read has every record the partition held when it began.

        Not "a poll came back empty": a poll can end before the broker answers (Tansu is
        slow to, under load, and an earlier fetch may hold the connection), and a lane that
        took that for the end would vouch for hours it has unread records of. The end is
        the high watermark a fetch response reported. That one may be old (a response to
        a fetch sent in an earlier read), but not once it has reached ``end_at_least``: the
        log ended before that offset until the partition's last batch was written, so a
        fetch answered since reports the whole batch, every record the read must get.
        """
        highwater = self._consumer.highwater(tp)
        if end_at_least is None or highwater is None or highwater < end_at_least:
            return False
        position = self._consumer.position(tp, timeout_ms=0)  # past control records too
        return position is not None and position >= highwater

    def close(self) -> None:
        with self._lock:
            self._consumer.close()
