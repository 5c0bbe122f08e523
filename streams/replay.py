"""``beatlight replay``: an events file onto ``patrol.presence``, in event-time order.

SPEC "Replays are in event-time order": by default the events go out sorted by
``ts`` (ties: the line text, so the copy of a repeated ``event_id`` that the batch
report counts, the earliest, arrives first), so a backfill of an export in any order
gives the batch report's figures. Lines whose ``ts`` cannot be read go last (the
worker rejects them). ``keep_order=True`` sends the lines as they stand.

Sorting takes two passes over bounded memory: *reading* encodes each line
(:mod:`streams.outbound`), dead-letters at once what cannot travel, and adds the
rest to an :class:`~streams.ordering.ExternalSort` as (``ts_us``, text, key, value,
line) rows, spilled to a private temporary folder in sorted runs; *sending* reads
them back in order, a slab at a time. The text is the batch report's tie-break: the
line, or for CSV and Parquet rows the event's SPEC fields as JSON.

Every line is accounted for: sent, or dead-lettered with its reason, file name and
line number (:meth:`~streams.producers.PresenceProducer.dead_letter`). A bad line
never stops a replay.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streams.events import timestamps_us
from streams.files import EventsFile, open_events
from streams.outbound import Outbound, Rejection, encode_event
from streams.producers import PresenceProducer

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

    from streams.ordering import ExternalSort

    with ExternalSort(["ts_us", "text"], run_rows=run_rows, directory=spill_dir) as sorter:
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
            sorter.add(
                pa.table({
                    "ts_us": pa.array(ts_us, pa.int64()),
                    "text": pa.array([line.text for line in kept], pa.binary()),
                    "key": pa.array([event.key for event in events], pa.binary()),
                    "value": pa.array([event.value for event in events], pa.binary()),
                    "line": pa.array([line.number for line in kept], pa.int64()),
                })
            )  # fmt: skip
            report("reading", done, source.size_bytes)
        total, done = len(sorter), 0
        report("sending", 0, total)
        for slab in sorter.sorted():
            columns = zip(
                slab.column("key").to_pylist(),
                slab.column("value").to_pylist(),
                slab.column("line").to_pylist(),
                strict=True,
            )
            for key, value, number in columns:
                producer.send_outbound(Outbound(value, key, None), file=stats.file, line=number)
            done += slab.num_rows
            report("sending", done, total)


def _read(source: EventsFile, max_event_bytes: int) -> Iterator[tuple[list[_Line], int]]:
    """Blocks of the file's events as they may travel, each with the bytes of the file
    read so far. The batch report's own reader: the same verdict, and the same text to
    break ties with (:meth:`~streams.events.RawEvents.line`), for every line."""
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
