"""The batch report: one lane driven over a whole events file (SPEC "Batch report contract")."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography
from beatlight.streams.aggregate import Aggregator
from beatlight.streams.events import RawEvents
from beatlight.streams.lane import Lane, LaneConfig, Outcome
from beatlight.streams.metrics import figures
from beatlight.streams.partitioning import partitions_of
from beatlight.streams.presence import Partial
from beatlight.streams.report import report_document
from beatlight.streams.sorted_events import SortedEvents, robust_latest
from beatlight.streams.wire import Kind, LaneStatus, Message

__all__ = ["BatchReports", "NoValidEvents", "Progress", "batch_report", "batch_reports"]

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
    partitions: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every figure of the SPEC for the events in ``batches``.

    The events are a complete record: every valid event counts, once per
    ``event_id``, whatever order the batches and their rows come in (SPEC "Event
    time, order and lateness"). ``as_of_us`` defaults to the latest event time that
    units with clocks ahead cannot move (:func:`~beatlight.streams.sorted_events.robust_latest`),
    rounded up to the next slot (rule 9); ``now_us`` is the wall clock for the future rule.

    ``partitions``: instead, take the rows in the order given, split by unit as
    Kafka's default partitioner would, with one watermark per partition, exactly as
    the stream workers receive them (so lateness applies).
    """
    return batch_reports(
        geography, batches, config, now_us=now_us, as_of_us=as_of_us,
        partitions=partitions, progress=progress,
    ).document  # fmt: skip


@dataclass
class BatchReports:
    """The report document as of ``as_of``, and those at the hour boundaries asked for."""

    document: dict[str, Any]
    #: ``{hour_us: document}`` at each chosen hour boundary up to ``as_of`` that is not
    #: before the first accepted event's hour (earlier hours have no figures to show).
    hours: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Progress:
    """Callbacks for a progress bar: rows read (first pass), then rows counted."""

    read: Callable[[int], None] | None = None
    counted: Callable[[int, int], None] | None = None  # (rows done, rows in all)


def batch_reports(
    geography: Geography,
    batches: Iterable[RawEvents],
    config: LaneConfig,
    *,
    now_us: int,
    as_of_us: int | None = None,
    partitions: int | None = None,
    progress: Progress | None = None,
    hours: Callable[[int], bool] | None = None,
    keep_us: int | None = None,
    spill_dir: str | Path | None = None,
    spill_rows: int = 400_000,
) -> BatchReports:
    """:func:`batch_report`, plus the documents at the hour boundaries H where ``hours(H)``,
    in the same single pass over the events (for trends: e.g. every local midnight).

    Each of those equals ``batch_report(as_of_us=H)`` on the same events: the lanes
    work hour by hour as the stream's do (:class:`~beatlight.streams.lane.Lane` with
    ``hourly=True``) and an in-process :class:`~beatlight.streams.aggregate.Aggregator` merges
    them. ``keep_us``: keep only the hours within this span before the latest one,
    so a long file costs bounded memory (documents are a few hundred kB each).
    ``spill_dir``: where a file larger than memory is sorted (default: the system's
    temporary folder), in runs of ``spill_rows`` valid events.
    """
    progress = progress or Progress()
    if partitions is not None:
        return _in_arrival_order(geography, batches, config, now_us=now_us, as_of_us=as_of_us,
                                 partitions=partitions, progress=progress, hours=hours,
                                 keep_us=keep_us)  # fmt: skip
    started = time.perf_counter()
    hourly = hours is not None
    checker = Lane(geography, config)
    rows = 0
    with SortedEvents(run_rows=spill_rows, directory=spill_dir) as events:
        for raw in batches:
            rows += len(raw)
            events.add(raw, checker.validate(raw, now_us=now_us))
            if progress.read is not None:
                progress.read(len(raw))
        if not len(events):
            raise NoValidEvents(_nothing_valid(rows, events.rejected))
        given = as_of_us is not None
        if as_of_us is None:  # from every copy; checked against the copies that count below
            as_of_us = _default_as_of(events.latest_copies, config)
        while True:
            counted = _count(geography, config, events, as_of_us, hours, keep_us, progress)
            if given or (exact := _default_as_of(events.latest, config)) == as_of_us:
                break
            log.info("a later copy of an event moved the default as_of: counting again")
            as_of_us = exact
        lane, trend, duplicates, after = counted
        rejected = events.rejected
    lane.duplicates = duplicates
    document = _document(geography, config, [lane], as_of_us, rejected, duplicates)
    document["after_as_of"] = after
    found = {} if trend is None else trend.finish([lane], as_of_us)
    _log_done(document, rows, duplicates, found if hourly else None, started)
    return BatchReports(document, found)


def _default_as_of(latest: dict[str, int], config: LaneConfig) -> int:
    """Rule 9, robust: the slot after the latest time no clock running ahead moved."""
    time_us = robust_latest(latest.values(), config.lateness_us)
    assert time_us is not None
    slot = config.model.slot_us
    return (time_us // slot + 1) * slot


def _count(
    geography: Geography,
    config: LaneConfig,
    events: SortedEvents,
    as_of_us: int,
    hours: Callable[[int], bool] | None,
    keep_us: int | None,
    progress: Progress,
) -> tuple[Lane, _Hours | None, int, int]:
    """One lane over the sorted events: the lane, the trend hours, duplicates and events
    at or after ``as_of``."""
    trend = None if hours is None else _Hours(geography, config, 1, as_of_us, hours, keep_us)
    lane = Lane(geography, config, ignore_from_us=as_of_us, hourly=hours is not None,
                hours=None if trend is None else trend.wanted, ordered=True)  # fmt: skip
    duplicates = after = counted = 0
    for part in events.sorted():
        duplicates += part.duplicates
        after += int(np.count_nonzero(part.events.ts_us >= as_of_us))
        for start in range(0, len(part.events), _ROWS):
            outcome = lane.admit(part.events.take(slice(start, start + _ROWS)))
            if trend is not None:
                trend.receive(0, lane, outcome)
                trend.expire([lane])
        counted += len(part.events) + part.duplicates
        if progress.counted is not None:
            progress.counted(counted, len(events))
    return lane, trend, duplicates, after


def _in_arrival_order(
    geography: Geography,
    batches: Iterable[RawEvents],
    config: LaneConfig,
    *,
    now_us: int,
    as_of_us: int | None,
    partitions: int,
    progress: Progress,
    hours: Callable[[int], bool] | None,
    keep_us: int | None,
) -> BatchReports:
    """The events as ``partitions`` stream lanes would receive them (lateness applies)."""
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
        if progress.read is not None:
            progress.read(len(raw))
    rejected = sum((lane.rejected for lane in lanes), Counter())
    duplicates = sum(lane.duplicates for lane in lanes)
    if not any(lane.intake.has_watermark for lane in lanes):
        raise NoValidEvents(_nothing_valid(rows, rejected))
    if as_of_us is None:
        as_of_us = max(a for lane in lanes if (a := lane.default_as_of_us()) is not None)
    document = _document(geography, config, lanes, as_of_us, rejected, duplicates)
    found = {} if trend is None else trend.finish(lanes, as_of_us)
    _log_done(document, rows, duplicates, found if hourly else None, started)
    return BatchReports(document, found)


def _document(
    geography: Geography,
    config: LaneConfig,
    lanes: list[Lane],
    as_of_us: int,
    rejected: Counter[str],
    duplicates: int,
) -> dict[str, Any]:
    partial = Partial.merge([lane.partial(as_of_us) for lane in lanes])
    return report_document(
        geography.areas,
        figures(partial, geography.areas, config.model),
        as_of_us=as_of_us,
        slot_seconds=config.model.slot_us // 1_000_000,
        outside=partial.outside,
        accepted=partial.accepted,
        rejected=rejected,
        duplicates=duplicates,
    )


def _nothing_valid(rows: int, rejected: Counter[str]) -> str:
    reasons = ", ".join(f"{r}: {n}" for r, n in rejected.most_common()) or "no events"
    return f"no valid event among {rows} rows ({reasons})"


def _log_done(
    document: dict[str, Any],
    rows: int,
    duplicates: int,
    found: dict[int, Any] | None,
    started: float,
) -> None:
    log.info(
        "report as of %s: %d rows, %d accepted, %d rejected, %d duplicates%s%s in %.1f s",
        document["as_of"], rows, document["accepted"], sum(document["rejected"].values()),
        duplicates,
        f", {document['after_as_of']} at or after as_of" if "after_as_of" in document else "",
        f", {len(found)} earlier hours" if found is not None else "",
        time.perf_counter() - started,
    )  # fmt: skip


_ROWS = 50_000  # events handed to the lane at a time


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
        self.aggregator = Aggregator(geography.areas, config, partitions)
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
                self._take(Message(Kind.HOUR, status, partial=hour))
        self._reported(lane, status)
        if outcome.final is not None:
            self._take(Message(Kind.FINAL, status, final=outcome.final))

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
                    self._take(Message(Kind.PROVISIONAL, status, partial=hour))
            self._reported(lane, status)
            if not lane.intake.has_watermark:
                # A lane that accepted nothing vouches that it holds nothing, as an idle
                # worker's live tick does; without it every hour would wait for it.
                self._take(
                    Message(Kind.LIVE, status, partial=lane.partial(as_of_us, complete=False))
                )
        return {h: doc for h, doc in sorted(self.found.items()) if h <= as_of_us}

    def _reported(self, lane: Lane, status: LaneStatus) -> None:
        reported = lane.take_reported()
        if reported is not None:
            until, skipped = reported
            self._take(Message(Kind.REPORTED, replace(status, reported_until_us=until,
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
