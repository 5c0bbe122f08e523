"""Rows in event-time order whatever order they came in, in bounded memory.

A file is a complete record (SPEC "Event time, order and lateness"): the batch report
and a replay must give the same result however the file's lines were sorted. Both
put the rows in order of an int64 key (``ts_us``, then other columns to break ties)
before they use them. A file can be larger than memory, so :class:`ExternalSort`
sorts runs of rows in memory, spills each run to a compressed Arrow IPC file, and
merges the runs back in *slabs*: consecutive key ranges that hold a bounded number
of rows from each run, each sorted in memory. No Kafka, no clock.

Only the first key column is held in memory for every row (8 bytes a row); the other
columns stay on disk until their slab is read.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["ExternalSort"]

_BATCH_ROWS = 65_536  # rows per record batch in a run file: the unit read back


class ExternalSort:
    """Arrow rows in the order of ``by`` (its first column int64 without nulls).

    ``run_rows``: rows sorted in memory at a time (and about the rows of a slab).
    ``directory``: where runs are spilled (a private temporary folder, removed by
    :meth:`close`). A sort that never fills a run never touches the disk.
    """

    def __init__(
        self,
        by: Sequence[str],
        *,
        run_rows: int = 500_000,
        directory: str | Path | None = None,
    ) -> None:
        if not by:
            raise ValueError("ExternalSort needs at least one column to sort by")
        self.by = list(by)
        self.run_rows = max(int(run_rows), 1)
        self._parent = directory
        self._folder: Path | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._runs: list[_Run] = []
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def __enter__(self) -> ExternalSort:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add(self, table: pa.Table | pa.RecordBatch) -> None:
        """Take rows in any order; any number of calls, each with the same columns."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not table.num_rows:
            return
        key = table.column(self.by[0])
        if not pa.types.is_int64(key.type) or key.null_count:
            raise ValueError(f"the first sort column {self.by[0]!r} must be int64 without nulls")
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self._rows += table.num_rows
        if self._pending_rows >= self.run_rows:
            self._spill()

    def sorted(self) -> Iterator[pa.Table]:
        """Every row added, in order, as consecutive tables (slabs); may be called again.

        Rows whose first key is equal are always in the same slab, so a caller can
        resolve ties (duplicates of one key) within a slab, and the slabs are the same
        on every call.
        """
        if not self._runs:
            if self._pending:
                table = self._sort(pa.concat_tables(self._pending))
                self._pending = [table]
                keys = table.column(self.by[0]).to_numpy()
                start = 0
                while start < len(keys):
                    # Never between two rows with the same key (see above).
                    end = min(start + self.run_rows, len(keys))
                    if end < len(keys):
                        end = int(np.searchsorted(keys, keys[end - 1], side="right"))
                    yield table.slice(start, end - start)
                    start = end
            return
        self._spill()
        runs = [_Cursor(run) for run in self._runs]
        step = max(self.run_rows // len(runs), 1)
        try:
            while True:
                live = [run for run in runs if run.at < run.rows]
                if not live:
                    return
                # The slab ends at the key ``step`` rows on in the run where that comes
                # soonest: that run gives step + 1 rows, every other run at most that many
                # (plus rows of an equal key).
                ahead = [r.keys[r.at + step] for r in live if r.at + step < r.rows]
                upto = min(ahead) if ahead else None
                parts = [run.take_through(upto) for run in live]
                yield self._sort(pa.concat_tables([p for p in parts if p.num_rows]))
        finally:
            for run in runs:
                run.close()

    def close(self) -> None:
        """Drop every run and the spill folder."""
        for run in self._runs:
            run.close()
        self._runs = []
        self._pending = []
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _sort(self, table: pa.Table) -> pa.Table:
        return table.sort_by([(name, "ascending") for name in self.by])

    def _spill(self) -> None:
        if not self._pending:
            return
        table = self._sort(pa.concat_tables(self._pending).combine_chunks())
        self._pending, self._pending_rows = [], 0
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="beatlight-sort-", dir=self._parent))
        path = self._folder / f"run-{len(self._runs):05d}.arrow"
        options = ipc.IpcWriteOptions(compression="lz4")
        sizes = []
        with pa.OSFile(str(path), "wb") as sink:
            with ipc.new_file(sink, table.schema, options=options) as writer:
                for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
                    writer.write_batch(batch)
                    sizes.append(batch.num_rows)
        keys = table.column(self.by[0]).to_numpy()
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._runs.append(_Run(path, keys, starts))


@dataclass(frozen=True)
class _Run:
    """One sorted run on disk, and its keys in memory."""

    path: Path
    keys: np.ndarray
    starts: np.ndarray  # the first row of each record batch

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


class _Cursor:
    """How far one pass has read a run."""

    def __init__(self, run: _Run) -> None:
        self.keys = run.keys
        self.rows = len(run.keys)
        self.at = 0
        self._run = run
        self._file = pa.OSFile(str(run.path), "rb")
        reader = ipc.open_file(self._file)
        self._reader = reader
        self._cached: tuple[int, pa.RecordBatch] | None = None

    def take_through(self, upto: int | None) -> pa.Table:
        """The rows from here whose key is at most ``upto`` (all if ``None``)."""
        end = self.rows if upto is None else int(np.searchsorted(self.keys, upto, side="right"))
        table = self._read(self.at, end)
        self.at = end
        return table

    def close(self) -> None:
        self._cached = None
        self._file.close()

    def _read(self, start: int, end: int) -> pa.Table:
        reader = self._reader
        if start >= end:
            return reader.schema.empty_table()
        starts = self._run.starts.tolist()
        batches = []
        i = int(np.searchsorted(self._run.starts, start, side="right")) - 1
        while i < len(starts) and starts[i] < end:
            batch = self._batch(i)
            lo = max(start - starts[i], 0)
            hi = min(end - starts[i], batch.num_rows)
            batches.append(batch.slice(lo, hi - lo))
            i += 1
        return pa.Table.from_batches(batches, schema=reader.schema)

    def _batch(self, i: int) -> pa.RecordBatch:
        # A slab usually ends inside a batch; the next slab starts in the same one.
        if self._cached is None or self._cached[0] != i:
            self._cached = (i, self._reader.get_batch(i))
        return self._cached[1]
