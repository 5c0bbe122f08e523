"""The lanes' input, read straight from Kafka: every input partition the worker holds.

The consumer group only says which partitions are the worker's (Faust's assignment);
Faust's consumer never fetches them (:mod:`beatlight.runtime.faust_private` pauses
them). Passed through Faust, a record cost about 230 µs of CPU (its per-message
bookkeeping, the agent's stream); read here, about 45 µs, lane work included
(``bench/stage_costs.py``, ``bench/README.md``), so that a worker's cost per event no
longer grows with the partitions Faust has to share out.

A lane keeps its own offsets (its checkpoints say where it got to), so the feed reads
each partition from the offset its lane has reached, and moves there again whenever the
lane has got elsewhere: restored from a checkpoint, or read ahead by itself
(:meth:`beatlight.runtime.lanes.Lanes.live_tick`). The group's offsets are committed
where the lanes' checkpoints are (:func:`beatlight.runtime.faust_io.commit_lanes`), which
is what Kafka's lag tools then report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import faust
from kafka.errors import KafkaError

from beatlight.runtime import topics
from beatlight.runtime.faust_io import publish
from beatlight.runtime.lanes import Lanes, Stopping
from beatlight.runtime.observe import Metrics
from beatlight.runtime.reader import Record
from beatlight.runtime.work import WorkThread

__all__ = ["LaneFeed", "assigned_partitions", "feed_lanes"]

log = logging.getLogger("beatlight.worker")

#: After an error from Kafka, the feed polls again after this long.
RETRY_S = 1.0


async def feed_lanes(
    app: faust.App, feed: LaneFeed, lanes: Lanes, work: WorkThread, metrics: Metrics, *,
    poll_s: float,
) -> None:  # fmt: skip
    """Poll, hand each partition's records to its lane, publish; again, until the worker stops.

    What the lanes are given is always what they have not seen: before each poll the feed
    moves to where each lane is (:meth:`LaneFeed.poll`). Polls wait ``poll_s`` at most for
    records. Nothing is fed during a rebalance (a lane may be another worker's by its
    end). Kafka's errors are ridden out (logged, retried); any other error stops the worker
    (``app.crash``): its lanes resume from their checkpoints when it restarts.
    """
    while not app.stopping.is_set():
        owned = [] if app.rebalancing else assigned_partitions(app)
        if not owned:
            await asyncio.sleep(poll_s)
            continue
        try:
            with work.busy():
                lanes_at = lanes.offsets(set(owned))
                if len(lanes_at) < len(owned):  # lanes to make, from their checkpoints
                    lanes_at = await work.run(lanes.positions, owned)
            batches = await feed.next(lanes_at, timeout_ms=round(poll_s * 1000))
            if app.rebalancing:
                continue  # the lanes may have gone: if not, the feed reads these again
            with work.busy():
                await _hand_over(app, lanes, work, metrics, batches)
            if not app.stopping.is_set():  # (the feed may be closing)
                metrics.lags(feed.ends(), lanes.offsets(set(owned)))
        except Stopping:
            break
        except KafkaError as error:
            log.warning("feed: %r; polling again in %.0f s", error, RETRY_S)
            await asyncio.sleep(RETRY_S)
        except Exception as error:
            log.exception("feed: stopping the worker")
            await app.crash(error)
            raise


async def _hand_over(
    app: faust.App, lanes: Lanes, work: WorkThread, metrics: Metrics,
    batches: dict[int, list[Record]],
) -> None:  # fmt: skip
    """Each partition's records to its lane, on the loop when cheap, and its output sent."""
    for partition, records in sorted(batches.items()):
        if app.stopping.is_set():
            return  # left for the next owner of the lanes (their checkpoints say where)
        emission = lanes.records_now(partition, records)
        if emission is None:
            try:
                emission = await work.run(lanes.records, partition, records)
            except Stopping:
                return
        await publish(app, metrics, emission)


def assigned_partitions(app: faust.App) -> list[int]:
    """The input partitions the group has assigned this worker, in order."""
    return sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topics.PRESENCE)


class LaneFeed:
    """A consumer of the lanes' partitions, each from where its lane is (no group).

    Its polls run on a thread of its own (:meth:`next`), one at a time: kafka-python's
    consumer is not thread-safe.
    """

    def __init__(
        self, bootstrap: str, topic: str, *, fetch_wait_ms: int, max_records: int,
        max_partition_bytes: int = 1024 * 1024,
    ) -> None:  # fmt: skip
        from kafka import KafkaConsumer

        self.topic = topic
        self.max_records = max_records
        #: ``{partition: offset}``: where the feed reads each partition from next.
        self.positions: dict[int, int] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beatlight-feed")
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # A lane's offset before the log's start (retention): from its first record,
            # which the lane finds is a gap and reads around (Lanes.records).
            auto_offset_reset="earliest",
            # Tansu holds a fetch with nothing to return for all of this wait, and records
            # wait for it (BEATLIGHT_FETCH_WAIT_MS, as Faust's consumer had it).
            fetch_max_wait_ms=fetch_wait_ms,
            # ~5,000 records a partition a fetch: partitions take turns often, and a
            # worker holding 16 of them decodes at most 16 MiB ahead of its lanes.
            max_partition_fetch_bytes=max_partition_bytes,
        )

    async def next(self, lanes_at: Mapping[int, int], timeout_ms: int) -> dict[int, list[Record]]:
        """:meth:`poll` on the feed's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.poll, lanes_at, timeout_ms)

    def poll(self, lanes_at: Mapping[int, int], timeout_ms: int) -> dict[int, list[Record]]:
        """The next records of ``lanes_at``'s partitions, each read from its lane's offset.

        ``lanes_at`` is ``{partition: the lane's next offset}`` for every partition the
        worker holds now, with every record the feed returned before already handed to
        its lane: so a lane elsewhere than the feed (restored, read ahead, or made anew
        after the partition went and came back) is where the feed must go.
        """
        self._follow(lanes_at)
        if not self.positions:
            return {}
        polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        batches: dict[int, list[Record]] = {}
        for tp, messages in polled.items():
            if tp.partition not in self.positions or not messages:
                continue  # (assignment changed under a fetch)
            batches[tp.partition] = [Record(m.offset, m.value) for m in messages]
            # Where the lane will be: past these, or where it is if it has them (a topic
            # recreated empty starts again from 0; the lane skips what it counted).
            at = self.positions[tp.partition]
            self.positions[tp.partition] = max(messages[-1].offset + 1, at)
        return batches

    def _follow(self, lanes_at: Mapping[int, int]) -> None:
        from kafka import TopicPartition

        if set(lanes_at) != set(self.positions):
            self._consumer.assign([TopicPartition(self.topic, p) for p in sorted(lanes_at)])
            gone = set(self.positions) - set(lanes_at)
            self.positions = {p: o for p, o in self.positions.items() if p in lanes_at}
            if gone:
                log.debug("feed: partitions %s are no longer read", sorted(gone))
        for partition, offset in lanes_at.items():
            if self.positions.get(partition) != offset:
                self._consumer.seek(TopicPartition(self.topic, partition), offset)
                self.positions[partition] = offset

    def ends(self) -> dict[int, int]:
        """``{partition: end}`` as the latest fetch responses reported it (the high
        watermark), for the partitions read now that have had one."""
        from kafka import TopicPartition

        ends = {}
        for partition in self.positions:
            high = self._consumer.highwater(TopicPartition(self.topic, partition))
            if high is not None:
                ends[partition] = high
        return ends

    async def aclose(self) -> None:
        """:meth:`close`, after the poll under way if any."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self.close)
        self._thread.shutdown(wait=False)

    def close(self) -> None:
        """Close the consumer (with no poll under way)."""
        self._consumer.close(autocommit=False)

    def __repr__(self) -> str:
        return f"LaneFeed({self.topic!r}, positions={self.positions!r})"
