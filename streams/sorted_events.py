"""A file as a complete record: its valid events in time order, each ``event_id`` once.

SPEC "Event time, order and lateness": the batch report's figures depend only on a
file's lines, never on their order. :class:`SortedEvents` takes the file's batches
in whatever order they come, validates them, and gives back the valid events sorted
by ``ts``, in bounded memory (:class:`~beatlight.streams.ordering.ExternalSort`). Of the copies
of one ``event_id`` the one with the earliest ``ts`` counts (ties: the smaller line
text); the rest are duplicates. No Kafka, no clock.

:func:`prepare` turns a validated batch into the rows kept, in any process (the batch
report prepares a file's pieces on every core); :meth:`SortedEvents.take` takes them in.
Each id travels with a 128-bit digest (two SipHash digests under a key drawn afresh
for each file), so telling a copy from a new id needs no Python string per row: only the
ids whose digest more than one row has (a percent or two) are ever looked up.

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

__all__ = ["Prepared", "Sorted", "SortedEvents", "prepare", "robust_latest"]


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
        #: Seeds the ids' digests (:func:`prepare`): fresh each time, as Python's own hash.
        self.key = os.urandom(16)
        self._ids: list[np.ndarray] = []  # every valid row's id_high, until sorted()
        self._repeated: np.ndarray | None = None

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
        self.take(prepare(raw, events, self.key))

    def take(self, batch: Prepared) -> None:
        """One batch made ready by :func:`prepare` (with :attr:`key`), in any order."""
        self.rejected.update(batch.rejected)
        table = batch.table
        if not table.num_rows:
            return
        lengths = table.column("text_len").to_numpy()
        self._texts.write(batch.texts)
        at = self._texts_size + np.cumsum(lengths) - lengths
        self._texts_size += len(batch.texts)
        latest = self.latest_copies
        for unit, t in batch.latest.items():
            if t > latest.get(unit, t - 1):
                latest[unit] = t
        self._ids.append(table.column("id_high").to_numpy())
        self._sort.add(table.append_column("text_at", pa.array(at, pa.int64())))

    def sorted(self) -> Iterator[Sorted]:
        """The events in ``ts`` order, the copy of each id that counts only; may be
        called again. Fills :attr:`latest` on the way."""
        latest: dict[str, int] = {}
        seen = _SeenIds(self._repeated_ids())
        self._texts.flush()
        for slab in self._sort.sorted():
            ts = slab.column("ts_us").to_numpy()
            # Each id and unit as a code into its distinct values (Arrow's hashing, no
            # Python string per row); the distinct ids in order of first appearance.
            ids = pc.dictionary_encode(slab.column("event_id").combine_chunks())
            id_code = ids.indices.to_numpy()
            id_text = ids.dictionary.to_numpy(zero_copy_only=False)
            keep = self._first_copies(slab, id_code, ts)
            first = np.unique(id_code, return_index=True)[1]  # each id's first row
            high, low = slab.column("id_high").to_numpy(), slab.column("id_low").to_numpy()
            new = seen.first_time(high[first], low[first])  # met in an earlier slab: copies
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

    def _repeated_ids(self) -> np.ndarray:
        """The id digests' first halves that more than one valid row has, sorted."""
        if self._repeated is None:
            high = np.concatenate(self._ids) if self._ids else np.zeros(0, dtype=np.int64)
            self._ids = []
            high.sort()
            self._repeated = np.unique(high[1:][high[1:] == high[:-1]])
        return self._repeated

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


@dataclass
class Prepared:
    """A batch's valid rows as :class:`SortedEvents` keeps them, and its rejections: what
    :func:`prepare` makes of a batch, in any process."""

    #: ts_us, event_id, unit, lat, lon, mode, the id's digest (id_high, id_low), text_len.
    table: pa.Table
    #: The rows' texts, one after another.
    texts: bytes
    rejected: Counter[str]
    #: Each unit's latest time in the batch.
    latest: dict[str, int]
    #: Rows in the batch, valid or not.
    rows: int


def prepare(raw: RawEvents, events: ValidEvents, key: bytes) -> Prepared:
    """The valid rows of one batch (``events``: ``raw`` validated) ready to be sorted.

    ``key``: the 16 bytes that seed the ids' digests (:attr:`SortedEvents.key`)."""
    ok = events.ok
    rejected = Counter(events.reason[~ok].tolist())
    rows = np.flatnonzero(ok)
    texts = raw.lines(rows.tolist())
    ids = events.event_id[rows]
    table = pa.table(
        {
            "ts_us": pa.array(events.ts_us[rows], pa.int64()),
            "event_id": pa.array(ids, pa.string()),
            "unit": pa.array(events.unit[rows], pa.string()),
            "lat": pa.array(events.lat[rows]),
            "lon": pa.array(events.lon[rows]),
            "mode": pa.array(events.mode[rows]),
            "id_high": pa.array(_digest(ids, key[:8]), pa.int64()),
            "id_low": pa.array(_digest(ids, key[8:]), pa.int64()),
            "text_len": pa.array(np.fromiter(map(len, texts), np.int64, len(texts)), pa.int64()),
        }
    )
    last = table.group_by("unit").aggregate([("ts_us", "max")])
    latest = dict(zip(last.column("unit").to_pylist(), last.column("ts_us_max").to_pylist(),
                      strict=True))  # fmt: skip
    return Prepared(table, b"".join(texts), rejected, latest, len(raw))


def _digest(ids: np.ndarray, key: bytes) -> np.ndarray:
    """64-bit SipHash digests of the ids under ``key`` (8 bytes), the same in any process."""
    from pandas.util import hash_array

    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    return hash_array(ids, hash_key=key.hex(), categorize=False).view(np.int64)


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
    """Event ids met so far, by their 128-bit digests (:func:`prepare`).

    Only ids whose digest's first half more than one row of the file has can be met
    again (``repeated``: a percent or two of them); only those are looked at and kept.
    """

    def __init__(self, repeated: np.ndarray) -> None:
        self._repeated = repeated
        self._seen: set[tuple[int, int]] = set()

    def first_time(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Which of these distinct ids (their digests) were not met before; remember them."""
        new = np.ones(len(high), dtype=bool)
        if not len(self._repeated):
            return new
        at = np.searchsorted(self._repeated, high).clip(max=len(self._repeated) - 1)
        maybe = np.flatnonzero(self._repeated[at] == high)
        seen = self._seen
        digests = zip(high[maybe].tolist(), low[maybe].tolist(), strict=True)
        for i, digest in zip(maybe.tolist(), digests, strict=True):
            if digest in seen:
                new[i] = False
            else:
                seen.add(digest)
        return new
