"""``beatlight replay``: an events file onto ``patrol.presence``, in event-time order.

SPEC "Replays are in event-time order": by default the events go out sorted by
``ts`` (ties: the line text, so the copy of a repeated ``event_id`` that the batch
report counts, the earliest, arrives first), so a backfill of an export in any order
gives the batch report's figures. Lines whose ``ts`` cannot be read go last (the
worker rejects them). ``keep_order=True`` sends the lines as they stand.

Sorting takes two passes over bounded memory: *reading* encodes each line
(:mod:`beatlight.streams.outbound`), dead-letters at once what cannot travel, and adds the
rest to an :class:`~beatlight.streams.ordering.ExternalSort` as (``ts_us``, key, value, line)
rows, spilled to a private temporary folder in sorted runs; *sending* reads them back
in order, a slab at a time. The text that breaks ties is the batch report's: the line,
or for CSV and Parquet rows the event's SPEC fields as JSON. Lines may hold what must
not travel, so they are not sorted: they go to an unnamed temporary file, gone with
the process, and are read back for rows of one time only.

Every line is accounted for: sent, or dead-lettered with its reason, file name and
line number (:meth:`~beatlight.runtime.producers.PresenceProducer.dead_letter`). A bad line
never stops a replay.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from beatlight.runtime.producers import PresenceProducer
from beatlight.streams.files import EventsFile, open_events
from beatlight.streams.outbound import Outbound, Rejection, encode_event
from beatlight.streams.timestamps import timestamps_us

__all__ = ["Progress", "ReplayStats", "replay_file"]

#: ``progress(phase, done, total)``: phase ``reading`` (bytes of the file) or ``sending``
#: (events, or bytes of the file with ``keep_order``).
Progress = Callable[[str, int, int], None]

_LAST = np.iinfo(np.int64).max  # where a line whose ts cannot be read is sorted
_BLOCK_ROWS = 10_000  # lines read at a time


@dataclass
class ReplayStats:
    """What a replay did with a file's events."""

    file: str
    in_time_order: bool
    events: int = 0  # lines or rows read (blank lines are not events)
    sent: int = 0  # to the presence topic
    rejected: Counter[str] = field(default_factory=Counter)  # dead-lettered here, by reason
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def replay_file(
    path: str | Path,
    producer: PresenceProducer,
    *,
    keep_order: bool = False,
    progress: Progress | None = None,
    run_rows: int = 100_000,
    spill_dir: str | Path | None = None,
) -> ReplayStats:
    """Send every event of an events file (NDJSON, CSV or Parquet; NDJSON and CSV may
    be gzipped), in ``ts`` order unless ``keep_order``; ends with a flush.

    ``run_rows`` events are sorted in memory at a time; ``spill_dir`` is where sorted
    runs go (default: the system's temporary folder).
    """
    source = open_events(path, max_event_bytes=producer.max_event_bytes)
    stats = ReplayStats(source.path.name, in_time_order=not keep_order)
    report = progress or _no_progress
    sent, rejected = producer.sent, Counter(producer.rejected)
    started = time.perf_counter()
    if keep_order:
        _send_as_they_stand(source, producer, stats, report)
    else:
        _send_in_time_order(source, producer, stats, report, run_rows, spill_dir)
    producer.flush()
    stats.sent = producer.sent - sent
    stats.rejected = producer.rejected - rejected
    stats.seconds = time.perf_counter() - started
    return stats


@dataclass(frozen=True, slots=True)
class _Line:
    """One line or row of the file: its number, its text, and what may travel of it."""

    number: int
    text: bytes
    outcome: Outbound | Rejection


def _send_as_they_stand(
    source: EventsFile, producer: PresenceProducer, stats: ReplayStats, report: Progress
) -> None:
    for lines, done in _read(source, producer.max_event_bytes):
        for line in lines:
            producer.send_outbound(line.outcome, file=stats.file, line=line.number)
        stats.events += len(lines)
        report("sending", done, source.size_bytes)


def _send_in_time_order(
    source: EventsFile,
    producer: PresenceProducer,
    stats: ReplayStats,
    report: Progress,
    run_rows: int,
    spill_dir: str | Path | None,
) -> None:
    import pyarrow as pa

    from beatlight.streams.ordering import ExternalSort

    # The runs hold only what may travel; the lines, which may name an officer, go to an
    # unnamed file that vanishes with the process, read back only to break ties.
    with (
        ExternalSort(["ts_us"], run_rows=run_rows, directory=spill_dir) as sorter,
        tempfile.TemporaryFile(prefix="beatlight-replay-", dir=spill_dir) as texts,
    ):
        written = 0
        for lines, done in _read(source, producer.max_event_bytes):
            stats.events += len(lines)
            kept: list[_Line] = []
            events: list[Outbound] = []
            for line in lines:
                if isinstance(line.outcome, Rejection):
                    producer.dead_letter(line.outcome.reason, file=stats.file, line=line.number)
                else:
                    kept.append(line)
                    events.append(line.outcome)
            ts_us, unreadable = timestamps_us([event.ts for event in events])
            ts_us[unreadable] = _LAST
            lengths = np.fromiter((len(line.text) for line in kept), np.int64, len(kept))
            texts.write(b"".join(line.text for line in kept))
            sorter.add(
                pa.table({
                    "ts_us": pa.array(ts_us, pa.int64()),
                    "text_at": pa.array(written + np.cumsum(lengths) - lengths, pa.int64()),
                    "text_len": pa.array(lengths, pa.int64()),
                    "key": pa.array([event.key for event in events], pa.binary()),
                    "value": pa.array([event.value for event in events], pa.binary()),
                    "line": pa.array([line.number for line in kept], pa.int64()),
                })
            )  # fmt: skip
            written += int(lengths.sum())
            report("reading", done, source.size_bytes)
        texts.flush()
        total, done = len(sorter), 0
        report("sending", 0, total)
        for slab in sorter.sorted():
            order = _ties_by_text(slab, texts.fileno())
            columns = zip(
                slab.column("key").take(order).to_pylist(),
                slab.column("value").take(order).to_pylist(),
                slab.column("line").take(order).to_pylist(),
                strict=True,
            )
            for key, value, number in columns:
                producer.send_outbound(Outbound(value, key, None), file=stats.file, line=number)
            done += slab.num_rows
            report("sending", done, total)


def _ties_by_text(slab: Any, fd: int) -> np.ndarray:
    """The order of a slab's rows (sorted by ``ts_us``) with rows of one time by line text.

    A slab holds every row of each of its times (:meth:`ExternalSort.sorted`).
    """
    ts = slab.column("ts_us").to_numpy()
    order = np.arange(len(ts))
    same = ts[1:] == ts[:-1]
    tied = np.zeros(len(ts), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = np.flatnonzero(tied)
    if not len(rows):
        return order
    at = slab.column("text_at").to_numpy()[rows].tolist()
    size = slab.column("text_len").to_numpy()[rows].tolist()
    keys = [(t, os.pread(fd, n, a)) for t, a, n in zip(ts[rows].tolist(), at, size, strict=True)]
    # Times stay grouped and ascending along ``rows``, so the sorted rows fit back in place.
    order[rows] = rows[sorted(range(len(rows)), key=keys.__getitem__)]
    return order


def _read(source: EventsFile, max_event_bytes: int) -> Iterator[tuple[list[_Line], int]]:
    """Blocks of the file's events as they may travel, each with the bytes of the file
    read so far. The batch report's own reader: the same verdict, and the same text to
    break ties with (:meth:`~beatlight.streams.events.RawEvents.line`), for every line."""
    for raw, done in source.chunks(_BLOCK_ROWS, keep_text=True):
        lines = []
        for i, number in enumerate(raw.position):
            reason = raw.reason[i]
            if reason is not None:
                lines.append(_Line(number, b"", Rejection(reason)))
            else:
                outcome = encode_event(raw.record(i), max_event_bytes=max_event_bytes)
                lines.append(_Line(number, raw.line(i), outcome))
        yield lines, done


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    pass
