"""A lane reading the records it has not seen straight from its partition, by itself.

A lane that finds a gap before the records it is given (retention deleted them), or that
has been given none for a while (is its partition quiet, or has the feed fallen behind?),
reads Kafka itself (:class:`beatlight.runtime.reader.PartitionReader`), so that its
figures stay a function of its partition's first records (see
:mod:`beatlight.streams.runner`) and it can tell it has read all there is.
"""

from __future__ import annotations

import logging
import threading
import time

from beatlight.runtime.reader import PartitionReader
from beatlight.streams.runner import Emission, GapError, LaneRunner

__all__ = ["catch_up"]

log = logging.getLogger("beatlight.worker")


def catch_up(
    reader: PartitionReader, runner: LaneRunner, stop: int | None, *, idle_ms: int = 1500,
    budget_s: float | None = None, cancel: threading.Event,
) -> tuple[Emission, bool]:  # fmt: skip
    """Read the records this lane has not seen (up to ``stop``) straight from Kafka.

    Without ``stop``, to the partition's end, or until it is quiet for ``idle_ms``
    short of it, or until ``budget_s`` of reading has passed; the flag says whether it
    got to the end, which only the broker's word can tell (see
    :meth:`PartitionReader.read`): a lane that counts as caught up vouches for hours.
    ``cancel`` (the worker stopping) ends it too, after the chunk in hand: what the lane
    processed is in the emission (to be sent before its checkpoint), the rest is left.
    """
    started, begin = time.perf_counter(), runner.next_offset
    emission = Emission()
    # Smaller chunks when the read has a budget, so that it can stop near it.
    chunks = reader.read(runner.partition, runner.next_offset, stop, idle_ms=idle_ms,
                         batch=20_000 if budget_s is None else 2_000, cancel=cancel)  # fmt: skip
    reached_end = True
    for chunk in chunks:
        try:
            emission.extend(runner.process(chunk, now_us=time.time_ns() // 1000))
        except GapError as gap:  # records deleted by retention: start where the log starts
            log.warning("%s; continuing from %d", gap, gap.got)
            runner.next_offset = gap.got
            emission.extend(runner.process(chunk, now_us=time.time_ns() // 1000))
        over_budget = budget_s is not None and time.perf_counter() - started >= budget_s
        if over_budget or cancel.is_set():
            chunks.close()
            reached_end = False
            break
    if cancel.is_set() or (stop is None and not reader.at_end):
        reached_end = False  # the reader ended before the end: stopping, or quiet
    if runner.next_offset - begin > 1000:
        log.info(
            "lane %d: read %d records from Kafka in %.1f s%s",
            runner.partition,
            runner.next_offset - begin,
            time.perf_counter() - started,
            "" if reached_end else " (more to read)",
        )
    return emission, reached_end
