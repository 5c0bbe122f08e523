"""The batch report: one lane driven over a whole events file (SPEC "Batch report contract")."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from beatlight.errors import BeatlightError
from geo.geography import Geography
from streams.aggregate import Aggregator
from streams.events import RawEvents
from streams.lane import Lane, LaneConfig, Outcome
from streams.metrics import figures
from streams.partitioning import partitions_of
from streams.presence import Partial
from streams.report import report_document
from streams.wire import LaneStatus, Message

__all__ = ["BatchReports", "NoValidEvents", "batch_report", "batch_reports"]

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
    return batch_reports(
        geography, batches, config, now_us=now_us, as_of_us=as_of_us,
        partitions=partitions, on_batch=on_batch,
    ).document  # fmt: skip


@dataclass
class BatchReports:
    """The report document as of ``as_of``, and those at the hour boundaries asked for."""

    document: dict[str, Any]
    #: ``{hour_us: document}`` at each chosen hour boundary up to ``as_of`` that is not
    #: before the first accepted event's hour (earlier hours have no figures to show).
    hours: dict[int, dict[str, Any]] = field(default_factory=dict)


def batch_reports(
    geography: Geography,
    batches: Iterable[RawEvents],
    config: LaneConfig,
    *,
    now_us: int,
    as_of_us: int | None = None,
    partitions: int = 1,
    on_batch: Callable[[int], None] | None = None,
    hours: Callable[[int], bool] | None = None,
    keep_us: int | None = None,
) -> BatchReports:
    """:func:`batch_report`, plus the documents at the hour boundaries H where ``hours(H)``,
    in the same single pass over the events (for trends: e.g. every local midnight).

    Each of those equals ``batch_report(as_of_us=H)`` on the same events: the lanes
    work hour by hour as the stream's do (:class:`~streams.lane.Lane` with
    ``hourly=True``) and an in-process :class:`~streams.aggregate.Aggregator` merges
    them. ``keep_us``: keep only the hours within this span before the latest one,
    so a long file costs bounded memory (documents are a few hundred kB each).
    """
    started = time.perf_counter()
    hourly = hours is not None
    trend = _Hours(geography, config, partitions, as_of_us, hours, keep_us) if hourly else None
    lanes = [Lane(geography, config, ignore_from_us=as_of_us, hourly=hourly,
                  hours=None if trend is None else trend.wanted)
             for _ in range(partitions)]  # fmt: skip
    rows = 0
    for raw in batches:
        rows += len(raw)
        if partitions == 1:
            parts = [(0, lanes[0], raw)]
        else:
            lane_of = partitions_of(raw.columns["unit"], partitions)
            chosen = [(p, lane, np.flatnonzero(lane_of == p)) for p, lane in enumerate(lanes)]
            parts = [(p, lane, raw.take(c.tolist())) for p, lane, c in chosen if len(c)]
        for p, lane, part in parts:
            outcome = lane.ingest(part, now_us=now_us)
            if trend is not None:
                trend.receive(p, lane, outcome)
        if trend is not None:
            trend.expire(lanes)
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
    found = {} if trend is None else trend.finish(lanes, as_of_us)
    log.info(
        "report as of %s: %d rows, %d accepted, %d rejected, %d duplicates%s in %.1f s",
        document["as_of"], rows, partial.accepted, sum(rejected.values()), duplicates,
        f", {len(found)} earlier hours" if hourly else "", time.perf_counter() - started,
    )  # fmt: skip
    return BatchReports(document, found)


class _Hours:
    """The chosen hour documents, from the lanes' hour figures (as stage 2 of the stream)."""

    def __init__(
        self,
        geography: Geography,
        config: LaneConfig,
        partitions: int,
        as_of_us: int | None,
        chosen: Callable[[int], bool],
        keep_us: int | None,
    ) -> None:
        self.aggregator = Aggregator(geography.areas, config.model, partitions)
        self.as_of_us = as_of_us
        self.chosen = chosen
        self.keep_us = keep_us
        self.found: dict[int, dict[str, Any]] = {}

    def wanted(self, hour_us: int) -> bool:
        return (self.as_of_us is None or hour_us <= self.as_of_us) and self.chosen(hour_us)

    def receive(self, p: int, lane: Lane, outcome: Outcome) -> None:
        status = _status(p, lane, caught_up=False)
        # Hour figures before the final runs they were taken before (as the workers send).
        for hour in outcome.hours:
            if self.wanted(hour.as_of_us):
                self._take(Message("hour", status, partial=hour))
        self._reported(lane, status)
        if outcome.final is not None:
            self._take(Message("final", status, final=outcome.final))

    def expire(self, lanes: list[Lane]) -> None:
        """Let the aggregator forget final runs that no hour still to come can reach.

        Once every lane has a watermark, no lane can send an hour before its settled
        time any more (older pings are too late), so a long file keeps bounded state.
        """
        settled = [lane.settled_until_us for lane in lanes]
        if all(s is not None for s in settled):
            self.aggregator.expire(min(settled) - _HOUR_US)  # type: ignore[type-var]

    def finish(self, lanes: list[Lane], as_of_us: int) -> dict[int, dict[str, Any]]:
        """Hours no lane could settle (too near the end of the file): their exact figures."""
        self.as_of_us = as_of_us
        for p, lane in enumerate(lanes):
            status = _status(p, lane, caught_up=True)
            for hour in lane.provisional_hours(as_of_us):
                if self.wanted(hour.as_of_us):
                    self._take(Message("provisional", status, partial=hour))
            self._reported(lane, status)
            if not lane.intake.has_watermark:
                # A lane that accepted nothing vouches that it holds nothing, as an idle
                # worker's live tick does; without it every hour would wait for it.
                self._take(Message("live", status, partial=lane.partial(as_of_us, complete=False)))
        return {h: doc for h, doc in sorted(self.found.items()) if h <= as_of_us}

    def _reported(self, lane: Lane, status: LaneStatus) -> None:
        reported = lane.take_reported()
        if reported is not None:
            until, skipped = reported
            self._take(Message("reported", replace(status, reported_until_us=until,
                                                   skipped=skipped)))  # fmt: skip

    def _take(self, message: Message) -> None:
        for snapshot in self.aggregator.receive(message):
            self.found[snapshot.as_of_us] = snapshot.document
        if self.keep_us is not None and self.found:
            latest = max(self.found)
            for old in [h for h in self.found if h < latest - self.keep_us]:
                del self.found[old]


_HOUR_US = 3_600_000_000


def _status(p: int, lane: Lane, *, caught_up: bool) -> LaneStatus:
    return LaneStatus(
        lane=p,
        watermark_us=lane.intake.watermark_us if lane.intake.has_watermark else None,
        first_hour_us=lane.first_hour_us,
        offset=-1,
        caught_up=caught_up,
        rejected=dict(lane.rejected),
        duplicates=lane.duplicates,
    )
