"""The batch report: one lane driven over a whole events file (SPEC "Batch report contract")."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from beatlight.errors import BeatlightError
from geo.geography import Geography
from streams.events import RawEvents
from streams.lane import Lane, LaneConfig
from streams.metrics import figures
from streams.partitioning import partitions_of
from streams.presence import Partial
from streams.report import report_document

__all__ = ["NoValidEvents", "batch_report"]

log = logging.getLogger("beatlight.report")


class NoValidEvents(BeatlightError):
    """The input held no event that could be accepted."""


def batch_report(
    geography: Geography,
    batches: Iterable[RawEvents],
    config: LaneConfig,
    *,
    now_us: int,
    as_of_us: int | None = None,
    partitions: int = 1,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Every figure of the SPEC for the events in ``batches`` (in arrival order).

    ``as_of_us`` defaults to the latest accepted event time rounded up to the
    next slot (rule 9); ``now_us`` is the wall clock for the future rule.
    ``partitions``: split events by unit as Kafka's default partitioner would and
    keep one watermark per partition, exactly as the stream workers do.
    """
    started = time.perf_counter()
    lanes = [Lane(geography, config, ignore_from_us=as_of_us) for _ in range(partitions)]
    rows = 0
    for raw in batches:
        rows += len(raw)
        if partitions == 1:
            lanes[0].ingest(raw, now_us=now_us)
        else:
            lane_of = partitions_of(raw.columns["unit"], partitions)
            for p, lane in enumerate(lanes):
                chosen = np.flatnonzero(lane_of == p)
                if len(chosen):
                    lane.ingest(raw.take(chosen.tolist()), now_us=now_us)
        if on_batch is not None:
            on_batch(len(raw))
    rejected = sum((lane.rejected for lane in lanes), Counter())
    duplicates = sum(lane.duplicates for lane in lanes)
    if not any(lane.intake.has_watermark for lane in lanes):
        reasons = ", ".join(f"{r}: {n}" for r, n in rejected.most_common()) or "no events"
        raise NoValidEvents(f"no valid event among {rows} rows ({reasons})")
    if as_of_us is None:
        as_of_us = max(a for lane in lanes if (a := lane.default_as_of_us()) is not None)
    partial = Partial.merge([lane.partial(as_of_us) for lane in lanes])
    document = report_document(
        geography.areas,
        figures(partial, geography.areas, config.model),
        as_of_us=as_of_us,
        slot_seconds=config.model.slot_us // 1_000_000,
        outside=partial.outside,
        accepted=partial.accepted,
        rejected=rejected,
        duplicates=duplicates,
    )
    log.info(
        "report as of %s: %d rows, %d accepted, %d rejected, %d duplicates in %.1f s",
        document["as_of"], rows, partial.accepted, sum(rejected.values()), duplicates,
        time.perf_counter() - started,
    )  # fmt: skip
    return document
