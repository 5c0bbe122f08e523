"""The batch report: one lane driven over a whole events file (SPEC "Batch report contract").

With zones (:class:`Zoning`), the pings the lane accepts before ``as_of`` also feed a
:class:`~beatlight.streams.zones.ZoneModel`, so zones and wards count the same pings.

A file's first pass (parse, check, make ready to sort) runs on every core: its pieces go
to worker processes and come back in file order (:func:`~beatlight.streams.pool.ordered_map`),
so the documents are the same with any number of workers.

Long because the two ways through a file (a complete record in time order, or arrival
order per partition) share their options, their document and the zones' feed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography
from beatlight.streams.batch_hours import BatchHours
from beatlight.streams.events import RawEvents, ValidEvents
from beatlight.streams.files import Piece
from beatlight.streams.lane import Lane, LaneConfig, Outcome, checked
from beatlight.streams.metrics import figures
from beatlight.streams.partitioning import partitions_of
from beatlight.streams.pool import ordered_map, read_ahead
from beatlight.streams.presence import Partial
from beatlight.streams.report import report_document
from beatlight.streams.sorted_events import Prepared, SortedEvents, prepare, robust_latest
from beatlight.streams.zone_figures import SESSIONS_BACK_US, zone_entries
from beatlight.streams.zones import ZoneConfig, ZoneModel, ZoneRuns

if TYPE_CHECKING:
    from beatlight.geo.zones import Zones

__all__ = [
    "BatchReports", "NoValidEvents", "Progress", "Zoning", "batch_report", "batch_reports",
]  # fmt: skip

log = logging.getLogger("beatlight.report")


class NoValidEvents(BeatlightError):
    """The input held no event that could be accepted."""


def batch_report(
    geography: Geography,
    batches: Iterable[RawEvents | Piece],
    config: LaneConfig,
    *,
    now_us: int,
    as_of_us: int | None = None,
    partitions: int | None = None,
    progress: Progress | None = None,
    zoning: Zoning | None = None,
    workers: int = 1,
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
        partitions=partitions, progress=progress, zoning=zoning, workers=workers,
    ).document  # fmt: skip


@dataclass
class BatchReports:
    """The report document as of ``as_of``, and those at the hour boundaries asked for."""

    document: dict[str, Any]
    #: ``{hour_us: document}`` at each chosen hour boundary up to ``as_of`` that is not
    #: before the first accepted event's hour (earlier hours have no figures to show).
    hours: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: With zones: their presence, and the earliest accepted ping before ``as_of``.
    zone_runs: ZoneRuns | None = None
    first_us: int | None = None


@dataclass(frozen=True)
class Zoning:
    """Zones to report on (SPEC Z1-Z4) and their configuration.

    ``history``: keep the zones' presence from the first event on (for funders'
    returns); otherwise only what the document's windows and sessions can see."""

    zones: Zones
    config: ZoneConfig
    history: bool = False

    def model(self, as_of_us: int) -> ZoneModel:
        model = self.config.model
        # A listed session ends after as_of - 28 d and lasts at most a day and the hour
        # the clocks go back; gap fill reaches G back from its first slot.
        reach = SESSIONS_BACK_US + 2 * 86_400_000_000 + model.gap_us + 2 * model.slot_us
        earliest = max(reach, model.longest_window_us + model.gap_us + 2 * model.slot_us)
        return ZoneModel(self.zones, model, from_us=None if self.history else as_of_us - earliest)


@dataclass
class Progress:
    """Callbacks for a progress bar: rows read (first pass), then rows counted."""

    read: Callable[[int], None] | None = None
    counted: Callable[[int, int], None] | None = None  # (rows done, rows in all)


def batch_reports(
    geography: Geography,
    batches: Iterable[RawEvents | Piece],
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
    zoning: Zoning | None = None,
    workers: int = 1,
) -> BatchReports:
    """:func:`batch_report`, plus the documents at the hour boundaries H where ``hours(H)``,
    in the same single pass over the events (for trends: e.g. every local midnight).

    Each of those equals ``batch_report(as_of_us=H)`` on the same events: the lanes
    work hour by hour as the stream's do (:class:`~beatlight.streams.lane.Lane` with
    ``hourly=True``) and an in-process :class:`~beatlight.streams.aggregate.Aggregator` merges
    them. ``keep_us``: keep only the hours within this span before the latest one,
    so a long file costs bounded memory (documents are a few hundred kB each).
    ``spill_dir``: where a file larger than memory is sorted (default: the system's
    temporary folder), in runs of ``spill_rows`` valid events. ``zoning``: add the
    document's ``zones`` (SPEC Z4), from exactly the pings the wards count.
    ``workers``: processes that read (pieces of files, :meth:`EventsFile.pieces
    <beatlight.streams.files.EventsFile.pieces>`) and check the batches, in order, so
    the documents are the same with any number.
    """
    progress = progress or Progress()
    if partitions is not None:
        return _in_arrival_order(geography, batches, config, now_us=now_us, as_of_us=as_of_us,
                                 partitions=partitions, progress=progress, hours=hours,
                                 keep_us=keep_us, zoning=zoning, workers=workers)  # fmt: skip
    started = time.perf_counter()
    hourly = hours is not None
    rows = 0
    with SortedEvents(run_rows=spill_rows, directory=spill_dir) as events:
        tasks = (_Task(batch, config, now_us, events.key) for batch in batches)
        for prepared in ordered_map(_prepared, tasks, workers=workers):
            rows += prepared.rows
            events.take(prepared)
            if progress.read is not None:
                progress.read(prepared.rows)
        if not len(events):
            raise NoValidEvents(_nothing_valid(rows, events.rejected))
        log.info("%d rows read and checked in %.1f s (workers: %d)", rows,
                 time.perf_counter() - started, workers)  # fmt: skip
        given = as_of_us is not None
        if as_of_us is None:  # from every copy; checked against the copies that count below
            as_of_us = _default_as_of(events.latest_copies, config)
        while True:
            counted = _count(geography, config, events, as_of_us, hours, keep_us, progress,
                             zoning)  # fmt: skip
            if given or (exact := _default_as_of(events.latest, config)) == as_of_us:
                break
            log.info("a later copy of an event moved the default as_of: counting again")
            as_of_us = exact
        lane, trend, duplicates, after, model = counted
        rejected = events.rejected
    lane.duplicates = duplicates
    document = _document(geography, config, [lane], as_of_us, rejected, duplicates)
    document["after_as_of"] = after
    found = {} if trend is None else trend.finish([lane], as_of_us)
    _log_done(document, rows, duplicates, found if hourly else None, started)
    return _with_zones(BatchReports(document, found), zoning, model, as_of_us)


@dataclass(frozen=True)
class _Task:
    """One batch (or a piece of a file not read yet) to validate and prepare for sorting."""

    batch: RawEvents | Piece
    config: LaneConfig
    now_us: int
    key: bytes  # SortedEvents.key


def _prepared(task: _Task) -> Prepared:
    """A batch read, checked and made ready to sort: the part of a file's first pass that
    each core can do on its own (see :func:`~beatlight.streams.pool.ordered_map`)."""
    raw = _read(task.batch)
    return prepare(raw, checked(raw, task.config, now_us=task.now_us), task.key)


def _read(batch: RawEvents | Piece) -> RawEvents:
    return batch if isinstance(batch, RawEvents) else batch.read()


def _with_zones(
    found: BatchReports, zoning: Zoning | None, model: ZoneModel | None, as_of_us: int
) -> BatchReports:
    """The zones' figures added to the document (SPEC Z4), after its ward figures."""
    if zoning is None or model is None:
        return found
    started = time.perf_counter()
    runs = model.finish()
    found.document["zones"] = zone_entries(zoning.zones, runs, zoning.config, as_of_us)
    found.zone_runs, found.first_us = runs, model.first_us
    log.info("figures of %d zones in %.1f s", len(zoning.zones), time.perf_counter() - started)
    return found


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
    zoning: Zoning | None,
) -> tuple[Lane, BatchHours | None, int, int, ZoneModel | None]:
    """One lane over the sorted events: the lane, the trend hours, duplicates, events
    at or after ``as_of`` and the zones' model fed the same accepted pings."""
    trend = None if hours is None else BatchHours(geography, config, 1, as_of_us, hours, keep_us)
    lane = Lane(geography, config, ignore_from_us=as_of_us, hourly=hours is not None,
                hours=None if trend is None else trend.wanted, ordered=True)  # fmt: skip
    model = None if zoning is None else zoning.model(as_of_us)
    duplicates = after = counted = 0
    # The next slabs are read and de-duplicated on another core while this one is counted.
    for part in read_ahead(events.sorted()):
        duplicates += part.duplicates
        after += int(np.count_nonzero(part.events.ts_us >= as_of_us))
        for start in range(0, len(part.events), _ROWS):
            outcome = lane.admit(part.events.take(slice(start, start + _ROWS)))
            if model is not None:
                _feed(model, outcome, as_of_us)
            if trend is not None:
                trend.receive(0, lane, outcome)
                trend.expire([lane])
        counted += len(part.events) + part.duplicates
        if progress.counted is not None:
            progress.counted(counted, len(events))
    return lane, trend, duplicates, after, model


def _feed(model: ZoneModel, outcome: Outcome, as_of_us: int | None) -> None:
    """The pings a lane accepted (before ``as_of``) into the zones' model."""
    e = outcome.events
    rows = np.flatnonzero(outcome.accepted)
    if as_of_us is not None:
        rows = rows[e.ts_us[rows] < as_of_us]
    if len(rows):
        model.add(e.unit[rows], e.ts_us[rows], e.event_id[rows], e.mode[rows], e.lon[rows],
                  e.lat[rows])  # fmt: skip


def _in_arrival_order(
    geography: Geography,
    batches: Iterable[RawEvents | Piece],
    config: LaneConfig,
    *,
    now_us: int,
    as_of_us: int | None,
    partitions: int,
    progress: Progress,
    hours: Callable[[int], bool] | None,
    keep_us: int | None,
    zoning: Zoning | None,
    workers: int,
) -> BatchReports:
    """The events as ``partitions`` stream lanes would receive them (lateness applies).

    With zones, each lane's accepted pings are kept and fed to the zones' model in
    time order once ``as_of`` is known."""
    started = time.perf_counter()
    hourly = hours is not None
    trend = BatchHours(geography, config, partitions, as_of_us, hours, keep_us) if hourly else None
    lanes = [Lane(geography, config, ignore_from_us=as_of_us, hourly=hourly,
                  hours=None if trend is None else trend.wanted)
             for _ in range(partitions)]  # fmt: skip
    rows = 0
    accepted: list[Outcome] = []
    for raw in ordered_map(_read, batches, workers=workers):
        rows += len(raw)
        if partitions == 1:
            parts = [(0, lanes[0], raw)]
        else:
            lane_of = partitions_of(raw.columns["unit"], partitions)
            chosen = [(p, lane, np.flatnonzero(lane_of == p)) for p, lane in enumerate(lanes)]
            parts = [(p, lane, raw.take(c.tolist())) for p, lane, c in chosen if len(c)]
        for p, lane, part in parts:
            outcome = lane.ingest(part, now_us=now_us)
            if zoning is not None:
                accepted.append(_accepted_only(outcome))
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
    model = None
    if zoning is not None:
        model = zoning.model(as_of_us)
        every = _concat([o.events for o in accepted]) if accepted else None
        if every is not None and len(every):
            every = every.take(np.argsort(every.ts_us, kind="stable"))
            ok = np.ones(len(every), dtype=bool)
            _feed(model, Outcome(every, ok, ~ok, np.full(len(every), -1)), as_of_us)
    return _with_zones(BatchReports(document, found), zoning, model, as_of_us)


def _concat(parts: list[ValidEvents]) -> ValidEvents:
    return ValidEvents(*(np.concatenate([getattr(p, f.name) for p in parts])
                         for f in dataclasses.fields(ValidEvents)))  # fmt: skip


def _accepted_only(outcome: Outcome) -> Outcome:
    rows = np.flatnonzero(outcome.accepted)
    events = outcome.events.take(rows)
    ok = np.ones(len(rows), dtype=bool)
    return Outcome(events, ok, ~ok, outcome.ward[rows])


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
