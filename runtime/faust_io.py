"""The worker's sends through Faust's producer, and its commits of the lanes' offsets.

Lane output, snapshots and alerts go straight to the producer, in record batches where
a topic has one partition; Faust flushes the producer before it commits offsets, so at
least once holds. Sends cut short by a stop are logged and left for the restart
(:func:`unless_stopping`). The group's offsets of the input are the lanes' checkpoints'
(:func:`commit_lanes`): Faust's consumer never reads the input (:mod:`beatlight.runtime.feed`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import faust
import orjson
from aiokafka.errors import ProducerClosed
from faust.exceptions import NotReady, ProducerSendError
from faust.types import TP

from beatlight.runtime import faust_private, topics
from beatlight.runtime.observe import Metrics
from beatlight.streams.aggregate import Revision, Snapshot, snapshot_records
from beatlight.streams.runner import Emission

__all__ = [
    "commit_lanes",
    "publish",
    "send_batched",
    "send_hours",
    "send_snapshot",
    "unless_stopping",
]

log = logging.getLogger("beatlight.worker")


async def publish(app: faust.App, metrics: Metrics, emission: Emission) -> None:
    """Hand a lane's output to the producer, in order (and count it in ``metrics``).

    Straight to the producer, not through ``Topic.send``: Faust's per-message
    bookkeeping (futures, attachments, sensors) costs about ten times the CPU of the
    send itself, and a lane sends one point per recent ping. At least once still
    holds: Faust flushes the producer before it commits offsets. The topics are
    created by the CLI (``beatlight.runtime.topics.ensure_topics``).
    """
    metrics.count(emission)
    left = (len(emission.dlq) + len(emission.partials) + len(emission.checkpoints)
            + len(emission.points))  # fmt: skip
    with unless_stopping(f"{left} lane messages"):
        await send_batched(app, topics.PRESENCE_DLQ, emission.dlq)
        await send_batched(app, topics.VISIBILITY_POINTS, emission.points)
        producer = await app.maybe_start_producer()
        for payload in emission.partials:
            await producer.send(topics.PARTIALS, b"lanes", payload, 0, None, None)
        for payload in emission.live:
            await producer.send(topics.LIVE_TICKS, b"lanes", payload, 0, None, None)
        for partition, key, value in emission.checkpoints:
            await producer.send(topics.CHECKPOINTS, key, value, partition, None, None)


async def commit_lanes(app: faust.App, lanes_at: dict[int, int], *, flush: bool = True) -> None:
    """Commit the group's offset of each lane's partition where its checkpoint is, once
    the producer has flushed the checkpoints (``flush``: none was sent since the last
    flush if False): what Kafka's lag tools report. (A lane resumes from its checkpoint,
    whatever the group's offsets say.)"""
    if flush:
        await (await app.maybe_start_producer()).flush()  # the checkpoints first
    for partition, offset in lanes_at.items():
        tp = TP(topics.PRESENCE, partition)
        try:  # (only past what the group has committed)
            await faust_private.commit(app.consumer, tp, offset)
        except Exception as error:  # noqa: BLE001 - the group is gone: committed next time
            log.warning("could not commit lane %d at offset %d: %r", partition, offset, error)


@contextlib.contextmanager
def unless_stopping(what: str) -> Iterator[None]:
    """Sends cut short because the worker is stopping (Faust has closed its producer).

    Nothing is lost: on restart the lanes resume from their checkpoints and send their final
    runs, hours and letters again, and the aggregator re-reads ``beatlight.partials`` and
    sends its hour snapshots again (the store upserts them); live figures are sent each tick.
    Recent points are best effort: the restart sends again those still recent.
    """
    try:
        yield
    except (NotReady, ProducerClosed):
        log.info("stopping: %s left for the restart to send again", what)
    except ProducerSendError as error:
        if not isinstance(error.__cause__, ProducerClosed):
            raise
        log.info("stopping: %s left for the restart to send again", what)


async def send_hours(app: faust.App, hours: list[Snapshot]) -> None:
    """Hour snapshots to ``visibility.history``, each with its revision."""
    for snap in hours:
        await send_snapshot(app, topics.VISIBILITY_HISTORY, snap.document, live=False,
                            revision=snap.revision)  # fmt: skip


async def send_snapshot(
    app: faust.App, topic: str, document: dict, *, live: bool, revision: Revision | None = None
) -> None:
    """History is keyed by hour, level and code; live by level and code (the latest wins)."""
    prefix = "live" if live else document["as_of"]
    records = []
    for key, value in snapshot_records(document, prefix=prefix, revision=revision):
        if live:
            key = key.removeprefix("live|")
        records.append((key.encode(), orjson.dumps(value)))
    await send_batched(app, topic, records)


async def send_batched(app: faust.App, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Records for a one-partition topic (DLQ, snapshots, alerts, points), in order.

    Filled into as few record batches as they fit, which aiokafka builds in C: sent one
    by one, the ~300 records of each live snapshot and a record per recent ping cost the
    event loop more than consuming the input does. Faust's flush before it commits
    offsets covers these batches as it covers single sends.
    """
    if not records:
        return
    producer = faust_private.aiokafka_producer(await app.maybe_start_producer())
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # full
            await producer.send_batch(batch, topic, partition=0)
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)  # a first record always fits
    await producer.send_batch(batch, topic, partition=0)
