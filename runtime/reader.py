"""Reading Kafka partitions directly: explicit partitions, from offsets their reader keeps.

Every reader of Beatlight's topics apart from Faust's consumer reads this way: a
worker's catch-up (:class:`PartitionReader`: offset ranges of one partition at a
time), and the API's materialiser and recent points and ``beatlight snapshots``
(:class:`TopicReader`: every partition of some topics, polled). None joins a
consumer group or commits offsets: the owner knows where it is (a lane's next
offset, the store's offsets), and Tansu completes a group join only after about
half the session timeout (SPEC "Known pitfalls").
Tansu 0.6 also answers ListOffsets for a partition's end short of it, so a read
trusts the high watermark of Fetch responses for the end (see
:meth:`PartitionReader._read_past`), and a polling reader tells its lag and a
recreated topic by it.

Riding out an outage (backoff, one log line when Kafka goes and one when it is
back) is in :mod:`beatlight.runtime.outage`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from beatlight.runtime.outage import ConnectionWatch
from beatlight.streams.runner import Record

__all__ = ["PartitionReader", "Record", "TopicReader"]

log = logging.getLogger("beatlight.worker")

#: How long a partition's first offset, as the broker gave it, is taken as still true:
#: it moves only when retention deletes records, and asking costs a request.
LOG_START_S = 60.0


class PartitionReader:
    """Reads offset ranges of one topic's partitions directly (no consumer group)."""

    def __init__(self, bootstrap: str, topic: str, *, request_timeout_ms: int = 30_000) -> None:
        from kafka import KafkaConsumer

        self.topic = topic
        self._lock = threading.Lock()
        #: Whether the last read without a ``stop`` got to the partition's end (see read()).
        self.at_end = False
        self._log_start: dict[int, tuple[int | None, float]] = {}  # partition -> (first, when)
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

    def end_at_least(self, partition: int, timeout_ms: int = 5_000) -> int | None:
        """An offset the partition's end has reached (None if the broker does not say);
        see :meth:`_end_at_least`."""
        from kafka import TopicPartition

        with self._lock:
            return self._end_at_least(TopicPartition(self.topic, partition), timeout_ms)

    def read(
        self, partition: int, start: int, stop: int | None = None, *, batch: int = 20_000,
        idle_ms: int = 1500, cancel: threading.Event | None = None,
    ) -> Iterator[list[Record]]:  # fmt: skip
        """Records from ``start``, up to ``stop`` or, without one, to the partition's end.

        Without ``stop``, it ends at the end of the partition as it was when the read
        began (then :attr:`at_end` is set), or short of it once ``idle_ms`` pass without
        a record (a broker slow to answer). Ends early, between polls, once ``cancel`` is
        set (a worker stopping); the caller tells by the offsets it got. A ``start`` that
        retention has deleted reads from the log's first offset (logged).
        """
        from kafka import TopicPartition

        tp = TopicPartition(self.topic, partition)
        with self._lock:
            self.at_end = False
            self._consumer.assign([tp])
            start = self._in_log(tp, start, max(idle_ms, 1000))
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

    def _in_log(self, tp: Any, start: int, timeout_ms: int) -> int:
        """``start``, or the log's first offset if retention has deleted ``start``.

        A seek before the log's start would send the consumer to the partition's end
        (``auto_offset_reset='latest'``, which keeps a seek past the end of a recreated
        topic there), silently skipping every record the log still holds.
        """
        first, asked = self._log_start.get(tp.partition, (None, float("-inf")))
        if time.monotonic() - asked > LOG_START_S:
            first = self._ask_log_start(tp, timeout_ms)
            self._log_start[tp.partition] = (first, time.monotonic())
        if first is None or start >= first:
            return start
        log.warning("%s[%d]: offset %d is no longer in the log (deleted by retention); "
                    "reading from its first offset, %d", tp.topic, tp.partition, start,
                    first)  # fmt: skip
        return first

    def _ask_log_start(self, tp: Any, timeout_ms: int) -> int | None:
        from kafka.errors import KafkaError

        try:
            return self._consumer.beginning_offsets([tp], timeout_ms=timeout_ms)[tp]
        except KafkaError as error:  # e.g. the broker is down: read from ``start`` as asked
            log.debug("%s: no first offset (%r)", tp, error)
            return None

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


class TopicReader:
    """Every partition of some topics, each polled from an offset its owner gives.

    The owner finds the partitions (:meth:`partitions`, as topics appear), assigns them
    with their offsets (:meth:`assign`) and polls; :meth:`lag` and :meth:`recreated`
    compare the high watermark of Fetch responses with the offsets it keeps, and
    :meth:`watch` reports an outage once. ``options`` go to kafka-python's consumer.
    Past the log's start (retention), a partition is read from its first record.
    """

    def __init__(
        self, bootstrap: str, topics: Iterable[str], *, client_id: str,
        group_id: str | None = None, connect_timeout_s: float = 10.0,
        max_backoff_s: float = 30.0, **options: Any,
    ) -> None:  # fmt: skip
        self.bootstrap = bootstrap
        self.topics = tuple(topics)
        self.assigned: list[Any] = []  # TopicPartition
        self._options = dict(
            bootstrap_servers=bootstrap, group_id=group_id, client_id=client_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            bootstrap_timeout_ms=int(connect_timeout_s * 1000), reconnect_backoff_ms=100,
            reconnect_backoff_max_ms=int(max_backoff_s * 1000), **options,
        )  # fmt: skip
        self._consumer: Any = None
        self._connection = ConnectionWatch()

    @property
    def is_open(self) -> bool:
        return self._consumer is not None

    def open(self) -> None:
        """Connect, if not connected (:class:`~beatlight.runtime.reach.KafkaUnreachable`)."""
        if self._consumer is not None:
            return
        from kafka import KafkaConsumer

        from beatlight.runtime.reach import kafka_errors

        with kafka_errors(self.bootstrap):
            self._consumer = KafkaConsumer(**self._options)

    def partitions(self) -> tuple[list[Any], list[str]]:
        """The partitions of the topics that exist (sorted), and the topics that do not yet."""
        from kafka import TopicPartition

        self.open()
        found, missing = [], []
        for topic in self.topics:
            numbers = sorted(self._consumer.partitions_for_topic(topic) or ())
            found += [TopicPartition(topic, p) for p in numbers]
            if not numbers:
                missing.append(topic)
        return found, missing

    def assign(self, offsets: Mapping[Any, int]) -> None:
        """Read these partitions, each from its offset (no committed offsets are fetched)."""
        self.open()
        self._consumer.assign(list(offsets))
        self.assigned = list(offsets)
        for tp, offset in offsets.items():
            self._consumer.seek(tp, offset)

    def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        """kafka-python's records by partition (``ConsumerRecord``: offset, key, value…)."""
        self.open()
        return self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)

    def seek(self, tp: Any, offset: int) -> None:
        if self._consumer is not None:
            self._consumer.seek(tp, offset)

    def lag(self, offsets: Mapping[Any, int]) -> dict[str, int | None]:
        """Records behind ``offsets``, per topic; ``None`` while no Fetch reported its end."""
        result: dict[str, int | None] = dict.fromkeys(self.topics)
        if self._consumer is None:
            return result
        for tp, offset in offsets.items():
            high = self._consumer.highwater(tp)
            if high is not None:
                result[tp.topic] = (result[tp.topic] or 0) + max(high - offset, 0)
        return result

    def recreated(self, offsets: Mapping[Any, int]) -> list[tuple[Any, int]]:
        """The partitions that now end before their offset, with their end: recreated.

        Kafka answers a fetch past the end with OffsetOutOfRange and the client starts
        from the earliest record; Tansu's memory storage starts empty after a restart
        and answers with nothing. Either way the owner has new records to read.
        """
        if self._consumer is None:
            return []
        ends = [(tp, self._consumer.highwater(tp)) for tp, _ in offsets.items()]
        return [(tp, high) for tp, high in ends if high is not None and high < offsets[tp]]

    def watch(self) -> str | None:
        """``"lost"`` or ``"back"`` once per outage of the assigned partitions' leaders."""
        if self._consumer is None:
            return None
        return self._connection.update(self._consumer, self.assigned)

    @property
    def lost(self) -> bool:
        """Whether the partition leaders have stopped answering (see :class:`ConnectionWatch`)."""
        return self._connection.lost

    def close(self) -> None:
        """Close the client (nothing to commit); :meth:`open` makes a new one."""
        consumer, self._consumer = self._consumer, None
        self.assigned = []
        if consumer is not None:
            consumer.close(autocommit=False)
