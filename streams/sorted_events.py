"""A file as a complete record: its valid events in time order, each ``event_id`` once.

SPEC "Event time, order and lateness": the batch report's figures depend only on a
file's lines, never on their order. :class:`SortedEvents` takes the file's batches
in whatever order they come, validates them, and gives back the valid events sorted
by ``ts``, in bounded memory (:class:`~beatlight.streams.ordering.ExternalSort`). Of the copies
of one ``event_id`` the one with the earliest ``ts`` counts (ties: the smaller line
text); the rest are duplicates. No Kafka, no clock.

The line texts only break ties between copies of one event at one time (rare), so they
are not sorted: they go to a file of their own as they come, and each event keeps where
its text is. Pings of one time reach the presence model in an order that depends on the
file, which changes no figure (the model orders them by ``ts`` and ``event_id``).

:func:`robust_latest` is the default ``as_of``'s rule: the latest event time that a
minority of units with clocks ahead cannot move.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from beatlight.streams.events import RawEvents, ValidEvents
from beatlight.streams.intake import watermark_rank
from beatlight.streams.ordering import ExternalSort

__all__ = ["Sorted", "SortedEvents", "robust_latest"]


@dataclass
class Sorted:
    """One slab of the sorted events, duplicates removed."""

    events: ValidEvents
    duplicates: int


class SortedEvents:
    """The valid events of a file in ``ts`` order, each ``event_id`` once."""

    def __init__(self, *, run_rows: int = 400_000, directory: str | Path | None = None) -> None:
        self._sort = ExternalSort(["ts_us"], run_rows=run_rows, directory=directory)
        self._texts = tempfile.TemporaryFile(prefix="beatlight-lines-", dir=directory)
        self._texts_size = 0
        #: Rejections by reason (the SPEC's checks; nothing is ``too_late`` in a file).
        self.rejected: Counter[str] = Counter()
        #: Each unit's latest time over every valid copy, and over the copies that count
        #: (known once :meth:`sorted` has gone through; the two differ only when a later
        #: copy of an event is a unit's latest).
        self.latest_copies: dict[str, int] = {}
        self.latest: dict[str, int] = {}

    def __enter__(self) -> SortedEvents:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._sort.close()
        self._texts.close()

    def __len__(self) -> int:
        """Valid events taken (copies included)."""
        return len(self._sort)

    def add(self, raw: RawEvents, events: ValidEvents) -> None:
        """One batch, in any order: ``events`` are ``raw`` validated."""
        ok = events.ok
        self.rejected.update(events.reason[~ok].tolist())
        rows = np.flatnonzero(ok)
        if not len(rows):
            return
        texts = raw.lines(rows.tolist())
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        self._texts.write(b"".join(texts))
        at = self._texts_size + np.cumsum(lengths) - lengths
        self._texts_size += int(lengths.sum())
        table = pa.table(
            {
                "ts_us": pa.array(events.ts_us[rows], pa.int64()),
                "event_id": pa.array(events.event_id[rows], pa.string()),
                "unit": pa.array(events.unit[rows], pa.string()),
                "lat": pa.array(events.lat[rows]),
                "lon": pa.array(events.lon[rows]),
                "mode": pa.array(events.mode[rows]),
                "text_at": pa.array(at, pa.int64()),
                "text_len": pa.array(lengths, pa.int64()),
            }
        )
        last = table.group_by("unit").aggregate([("ts_us", "max")])
        latest = self.latest_copies
        units, times = last.column("unit").to_pylist(), last.column("ts_us_max").to_pylist()
        for unit, t in zip(units, times, strict=True):
            if t > latest.get(unit, t - 1):
                latest[unit] = t
        self._sort.add(table)

    def sorted(self) -> Iterator[Sorted]:
        """The events in ``ts`` order, the copy of each id that counts only; may be
        called again. Fills :attr:`latest` on the way."""
        latest: dict[str, int] = {}
        seen = _SeenIds()
        self._texts.flush()
        for slab in self._sort.sorted():
            ts = slab.column("ts_us").to_numpy()
            # Each id and unit as a code into its distinct values (Arrow's hashing, no
            # Python string per row); the distinct ids in order of first appearance.
            ids = pc.dictionary_encode(slab.column("event_id").combine_chunks())
            id_code = ids.indices.to_numpy()
            id_text = ids.dictionary.to_numpy(zero_copy_only=False)
            keep = self._first_copies(slab, id_code, ts)
            new = seen.first_time(id_text)  # ids counted in an earlier slab: duplicates
            keep &= new[id_code]
            rows = np.flatnonzero(keep)
            units = pc.dictionary_encode(slab.column("unit").combine_chunks())
            unit_code = units.indices.to_numpy()[rows]
            unit_text = units.dictionary.to_numpy(zero_copy_only=False)
            # In time order: the last row of each unit in a slab is its latest yet.
            last = len(rows) - 1 - np.unique(unit_code[::-1], return_index=True)[1]
            latest.update(zip(unit_text[unit_code[last]].tolist(), ts[rows][last].tolist(),
                              strict=True))  # fmt: skip
            events = ValidEvents(
                event_id=id_text[id_code[rows]],
                unit=unit_text[unit_code],
                ts_us=ts[rows],
                lat=slab.column("lat").to_numpy()[rows],
                lon=slab.column("lon").to_numpy()[rows],
                mode=slab.column("mode").to_numpy()[rows],
                reason=np.full(len(rows), None, dtype=object),
                position=np.zeros(len(rows), dtype=np.int64),
            )
            yield Sorted(events, slab.num_rows - len(rows))
        self.latest = latest

    def _first_copies(self, slab: pa.Table, code: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Within a slab (every row of each time in it, in time order): the copy of each
        id that counts. An id met in an earlier slab was met at an earlier time still."""
        n = len(code)
        keep = np.zeros(n, dtype=bool)
        keep[np.unique(code, return_index=True)[1]] = True
        # Copies of one id at one time: the smaller line text counts, wherever it stood.
        again = np.flatnonzero(np.bincount(code)[code] > 1)
        if not len(again):
            return keep
        order = again[np.lexsort((ts[again], code[again]))]
        same = (code[order][1:] == code[order][:-1]) & (ts[order][1:] == ts[order][:-1])
        tied = np.union1d(order[1:][same], order[:-1][same])
        if not len(tied):
            return keep
        at = slab.column("text_at").to_numpy()[tied]
        size = slab.column("text_len").to_numpy()[tied]
        fd = self._texts.fileno()
        texts = [os.pread(fd, n, a) for a, n in zip(at.tolist(), size.tolist(), strict=True)]
        best: dict[tuple[int, int], tuple[bytes, int]] = {}
        for k, row in enumerate(tied.tolist()):
            key = (int(code[row]), int(ts[row]))
            if key not in best or texts[k] < best[key][0]:
                best[key] = (texts[k], row)
        kept = np.flatnonzero(keep)
        counted = dict(zip(code[kept].tolist(), kept.tolist(), strict=True))
        for (event_id, t), (_, row) in best.items():
            now = counted[event_id]
            if ts[now] == t:  # the id's earliest copies are these tied ones
                keep[now] = False
                keep[row] = True
        return keep


def robust_latest(latest: Iterable[int], lateness_us: int) -> int | None:
    """The latest of the units' latest event times that is not running ahead.

    The units' latest times are taken in time order through the watermark rule of
    :mod:`beatlight.streams.intake` (the k-th latest of the units heard from within the
    lateness); a time more than the lateness ahead of that watermark is a clock
    running ahead and is passed over. ``None`` without units.
    """
    times = sorted(latest)
    if not times:
        return None
    watermark = times[0]
    start = 0  # times[start:i + 1] are the recent units
    for i in range(len(times)):
        recent = i + 1 - start
        watermark = max(watermark, times[i + 1 - watermark_rank(recent)])
        while times[start] < watermark - lateness_us:
            start += 1
    return max(t for t in times if t <= watermark + lateness_us)


class _SeenIds:
    """Event ids met so far, as 128-bit digests (16 bytes an id, not a string): two
    64-bit string hashes of the process (SipHash, keyed per process), of the id and of
    the id behind a prefix.

    Kept in sorted levels that merge as they grow (as a log-structured merge tree):
    each lookup is a binary search per level, each id is merged O(log n) times.
    """

    def __init__(self) -> None:
        self._levels: list[tuple[np.ndarray, np.ndarray]] = []

    def first_time(self, ids: np.ndarray) -> np.ndarray:
        """Which of these distinct ids were not met before; remember them all."""
        if not len(ids):
            return np.zeros(0, dtype=bool)
        n = len(ids)
        high = np.fromiter(map(hash, ids), np.int64, n)
        low = np.fromiter(map(hash, map("\x00".__add__, ids)), np.int64, n)
        # Searching in sorted order keeps each search near the last (numpy starts there).
        order = np.argsort(high, kind="stable")
        high, low = high[order], low[order]
        new = np.ones(len(ids), dtype=bool)
        for known_high, known_low in self._levels:
            lo = np.searchsorted(known_high, high, side="left")
            hi = np.searchsorted(known_high, high, side="right")
            for i in np.flatnonzero(hi > lo).tolist():  # met before, or a 64-bit collision
                if (known_low[lo[i] : hi[i]] == low[i]).any():
                    new[i] = False
        level = (high[new], low[new])
        while self._levels and len(self._levels[-1][0]) <= 2 * len(level[0]):
            old_high, old_low = self._levels.pop()
            both = np.concatenate([old_high, level[0]])
            # Two sorted runs: a stable (tim)sort merges them in linear time.
            merged = np.argsort(both, kind="stable")
            level = (both[merged], np.concatenate([old_low, level[1]])[merged])
        self._levels.append(level)
        out = np.empty(len(ids), dtype=bool)
        out[order] = new
        return out
