"""The materialiser: the stream's snapshot topics into the store, exactly once.

It reads ``visibility.history``, ``visibility.live`` and ``visibility.alerts`` with
kafka-python and upserts each batch into the store (:mod:`api.store`). The next
offset of every partition is written in the same transaction as the rows, and on
start the consumer seeks to it: nothing is committed to Kafka, so a crash between
the two cannot lose or repeat a record, and a replay of the topics changes nothing
anyway (the upserts are idempotent). A snapshot is stored only once its summary,
written after its areas, has arrived: the store holds whole snapshots only.

It reads through a :class:`~beatlight.runtime.reader.TopicReader`: partitions
assigned by hand, not by a group join (each topic has one partition, and Tansu
completes a join only after about half the session timeout, SPEC "Known
pitfalls"). Lag is the high watermark of Fetch responses minus the stored offset,
not ``end_offsets()``, which Tansu 0.6 answers wrongly.

A broker or store that goes away is retried with exponential backoff, logged once
per outage; :meth:`Materialiser.run` keeps going until it is told to stop.

Long because :class:`Materialiser` is one loop whose parts share its state: the offsets
stored with each batch, the records waiting for their snapshot's summary, and the outage
being ridden out.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from beatlight.api.db import StoreUnreachable, display_url
from beatlight.api.store import Changes, apply, read_offsets
from beatlight.errors import BeatlightError
from beatlight.runtime.outage import OUTAGE_S, Backoff, describe, kafka_error
from beatlight.runtime.reader import TopicReader
from beatlight.runtime.topics import VISIBILITY_ALERTS, VISIBILITY_HISTORY, VISIBILITY_LIVE

__all__ = ["TOPICS", "Materialiser", "MaterialiserConfig"]

log = logging.getLogger("beatlight.materialise")

#: The topics stored.
TOPICS = (VISIBILITY_HISTORY, VISIBILITY_LIVE, VISIBILITY_ALERTS)


@dataclass(frozen=True)
class MaterialiserConfig:
    """What the materialiser needs from the settings.

    Built from ``Settings`` by :func:`beatlight.configs.materialiser_config`, where the
    defaults are declared."""

    bootstrap: str
    group_id: str
    session_timeout_ms: int
    batch_records: int
    connect_timeout_s: float
    max_backoff_s: float
    topics: tuple[str, ...] = TOPICS


class Materialiser:
    """Stores the snapshot topics into the store until stopped.

    ``registry`` is the Prometheus registry that gets its gauges and counters
    (``beatlight_materialiser_lag_records{topic}``, ``…_records_total{topic}``,
    ``…_skipped_total{topic,reason}``); ``None`` registers none.
    """

    def __init__(self, config: MaterialiserConfig, engine: Engine, registry: Any = None) -> None:
        self.config = config
        self.engine = engine
        self._reader = TopicReader(
            config.bootstrap, config.topics, client_id=config.group_id,
            group_id=config.group_id, connect_timeout_s=config.connect_timeout_s,
            max_backoff_s=config.max_backoff_s, session_timeout_ms=config.session_timeout_ms,
            max_poll_records=config.batch_records,
        )  # fmt: skip
        self._next: dict[Any, int] = {}  # TopicPartition -> next offset stored
        self._backoff = Backoff(0.5, config.max_backoff_s)
        self._failing: str | None = None  # the error being retried, logged once
        self._topics_checked = 0.0
        self._pending: dict[Any, list[Any]] = {}  # records after the last summary, per partition
        self.stored = {topic: 0 for topic in config.topics}
        self._metrics = _Metrics(registry) if registry is not None else None

    # -- running ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Store records until ``stop`` is set, riding out broker and store outages."""
        log.info("materialising %s from %s into %s", ", ".join(self.config.topics),
                 self.config.bootstrap, display_url(self.engine.url))  # fmt: skip
        try:
            while not stop.is_set():
                try:
                    self.step()
                except (BeatlightError, DBAPIError, OSError, kafka_error()) as error:
                    self._retry_after(error, stop)
        finally:
            self.close()
            log.info("materialiser stopped; stored %s", self.stored)

    def step(self, timeout_ms: int = 500) -> int:
        """Poll once and store what came; return the number of records stored."""
        self._reader.open()
        if len(self._next) < len(self.config.topics) and self._topics_due():
            self._assign()
        if not self._next:  # no topic yet: no worker has run against this Kafka
            time.sleep(min(timeout_ms, 1000) / 1000)
            return 0
        polled = self._reader.poll(timeout_ms, self.config.batch_records)
        stored = self._store(polled) if polled else 0
        if self._failing is not None:
            log.info("materialiser: working again after: %s", self._failing)
            self._failing = None
        self._backoff.reset()
        self._restart_recreated()
        self._update_lag()
        self._watch_connection()
        return stored

    def lag(self) -> dict[str, int | None]:
        """Records behind, per topic: high watermark minus the next offset stored.

        ``None`` for a topic not yet assigned or fetched from (no watermark yet).
        """
        return self._reader.lag(self._next)

    @property
    def kafka_lost(self) -> bool:
        """Whether Kafka's partition leaders have stopped answering (an outage, for ``/readyz``).

        kafka-python reconnects by itself and polls simply return nothing meanwhile,
        so neither an error nor the lag would show the outage.
        """
        return self._reader.lost

    def close(self) -> None:
        """Close the Kafka client (the store's rows and offsets are already committed)."""
        self._next = {}
        self._pending = {}
        self._topics_checked = 0.0
        self._reader.close()

    # -- internals ----------------------------------------------------------------------

    def _topics_due(self) -> bool:
        """Look for missing topics at most every 2 s (a metadata request each time)."""
        now = time.monotonic()
        if now - self._topics_checked < 2.0:
            return False
        self._topics_checked = now
        return True

    def _assign(self) -> None:
        tps, missing = self._reader.partitions()
        if len(tps) == len(self._next):
            return
        with Session(self.engine) as session:
            offsets = read_offsets(session)
        # An explicit position for every partition: no committed offsets are ever fetched.
        self._next = {tp: offsets.get((tp.topic, tp.partition), 0) for tp in tps}
        self._reader.assign(self._next)
        log.info("materialiser assigned %s%s", ", ".join(f"{tp.topic}[{tp.partition}]@"
                 f"{self._next[tp]}" for tp in tps),
                 f"; waiting for {', '.join(missing)}" if missing else "")  # fmt: skip

    def _store(self, polled: dict[Any, list[Any]]) -> int:
        changes = Changes()
        counts = dict.fromkeys(self.config.topics, 0)
        for tp, records in polled.items():
            if tp.topic in _SNAPSHOT_TOPICS:
                records = self._whole_snapshots(tp, records)
            for record in records:
                changes.add_offset(tp.topic, tp.partition, record.offset)
                if self._add(changes, tp.topic, record):
                    counts[tp.topic] += 1
        if not changes.offsets:
            return 0  # only parts of snapshots so far
        try:
            with Session(self.engine) as session, session.begin():
                apply(session, changes)
        except DBAPIError:
            self._rewind()
            raise
        for (topic, partition), offset in changes.offsets.items():
            self._next[_tp(topic, partition)] = offset
        for topic, n in counts.items():
            self.stored[topic] += n
            if self._metrics and n:
                self._metrics.stored.labels(topic).inc(n)
        log.debug("stored %s up to %s", counts, changes.offsets)
        return sum(counts.values())

    def _whole_snapshots(self, tp: Any, records: list[Any]) -> list[Any]:
        """The records up to the last summary; the rest wait for theirs.

        A snapshot's summary is written after its areas, so storing only up to a
        summary keeps every snapshot in the store whole: a reader never sees half
        of a new live snapshot over the old one, or half of a revised hour. The
        stored offset stays before the waiting records, so a restart reads them again.
        """
        pending = self._pending.setdefault(tp, [])
        pending.extend(records)
        last = max((i for i, r in enumerate(pending) if r.key and _is_summary(r.key)), default=-1)
        if last < 0 and len(pending) > _MAX_PENDING:
            log.warning("%s[%d]: %d records without a summary; storing them as they are",
                        tp.topic, tp.partition, len(pending))  # fmt: skip
            last = len(pending) - 1
        whole, self._pending[tp] = pending[: last + 1], pending[last + 1 :]
        return whole

    def _add(self, changes: Changes, topic: str, record: Any) -> bool:
        if record.value is None:
            return False  # a tombstone: compaction's delete marker, nothing to store
        try:
            key = record.key.decode() if record.key else ""
            value = orjson.loads(record.value)
            if topic == VISIBILITY_HISTORY:
                changes.add_history(key, value)
            elif topic == VISIBILITY_LIVE:
                changes.add_live(key, value)
            else:
                changes.add_alert(value)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            # Skipped, not retried: a record that cannot be read never will be.
            reason = type(error).__name__
            log.warning("skipped %s[%d]@%d: unreadable record (%s: %s)", topic, record.partition,
                        record.offset, reason, error)  # fmt: skip
            if self._metrics:
                self._metrics.skipped.labels(topic, reason).inc()
            return False
        return True

    def _rewind(self) -> None:
        """Back to the last stored offsets, so records not stored are fetched again."""
        self._pending = {}
        for tp, offset in self._next.items():
            self._reader.seek(tp, offset)

    def _retry_after(self, error: BaseException, stop: threading.Event) -> None:
        delay = self._backoff.next()
        what = _describe(error, self.config.bootstrap, display_url(self.engine.url))
        if self._failing != what:
            log.warning("materialiser: %s; retrying with backoff (next in %.1f s)", what, delay)
            self._failing = what
        else:
            log.debug("materialiser still failing: %s; next retry in %.1f s", what, delay)
        if not isinstance(error, DBAPIError | StoreUnreachable):
            self.close()  # a fresh client after a Kafka failure
        stop.wait(delay)

    def _restart_recreated(self) -> None:
        """A partition that ends before the stored offset was recreated: store it again.

        Its records are new (see :meth:`TopicReader.recreated
        <beatlight.runtime.reader.TopicReader.recreated>`), and storing a record again
        changes nothing.
        """
        for tp, high in self._reader.recreated(self._next):
            stored = self._next[tp]
            log.warning("%s[%d] ends at offset %d, before the %d already stored: the topic "
                        "was recreated; storing it again from the start", tp.topic,
                        tp.partition, high, stored)  # fmt: skip
            self._reader.seek(tp, 0)
            self._next[tp] = 0

    def _watch_connection(self) -> None:
        """Log one line when the partition leaders stop answering, and one when they are back."""
        change = self._reader.watch()
        if change == "back":
            log.info("materialiser: Kafka at %s is back (lag %s)", self.config.bootstrap,
                     self.lag())  # fmt: skip
        elif change == "lost":
            log.warning("materialiser: lost Kafka at %s for %.0f s; reconnecting with backoff "
                        "(up to %.0f s between tries)", self.config.bootstrap, OUTAGE_S,
                        self.config.max_backoff_s)  # fmt: skip

    def _update_lag(self) -> None:
        if self._metrics is None:
            return
        for topic, lag in self.lag().items():
            if lag is not None:
                self._metrics.lag.labels(topic).set(lag)


_SNAPSHOT_TOPICS = (VISIBILITY_HISTORY, VISIBILITY_LIVE)
_MAX_PENDING = 50_000  # a snapshot has one record per area: far fewer than this


class _Metrics:
    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge

        self.lag = Gauge("beatlight_materialiser_lag_records",
                         "Records in the topic not yet in the store.", ["topic"],
                         registry=registry)  # fmt: skip
        self.stored = Counter("beatlight_materialiser_records",
                              "Topic records stored.", ["topic"], registry=registry)  # fmt: skip
        self.skipped = Counter("beatlight_materialiser_skipped",
                               "Unreadable topic records skipped.", ["topic", "reason"],
                               registry=registry)  # fmt: skip


def _is_summary(key: bytes) -> bool:
    return key == b"summary" or key.endswith(b"|summary")


def _tp(topic: str, partition: int) -> Any:
    from kafka import TopicPartition

    return TopicPartition(topic, partition)


def _describe(error: BaseException, bootstrap: str, store: str) -> str:
    if isinstance(error, DBAPIError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"cannot write to the store at {store}: {reason}"
    return describe(error, bootstrap)
