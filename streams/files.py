"""Events files: NDJSON, CSV or Parquet (optionally gzipped), read in chunks.

:func:`open_events` checks that a file can be read and looks like events, then
:meth:`EventsFile.chunks` streams it as :class:`~beatlight.streams.events.RawEvents`
batches, so a file of ten million lines never needs ten million dicts at once.
:meth:`EventsFile.pieces` gives the same batches unparsed (whole NDJSON lines, Parquet
row batches), for the batch report to parse on every core.
Columns outside the SPEC's fields are dropped on arrival (their names are
logged, never their values).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np

from beatlight.errors import BeatlightError
from beatlight.streams.events import FIELDS, REQUIRED, RawEvents, parse_lines

__all__ = ["EventsFile", "EventsFileError", "Piece", "open_events"]

log = logging.getLogger("beatlight.events")

_FORMATS = {
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson",
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
_NUMERIC = ("lat", "lon", "accuracy_m")
_READ_BYTES = 1 << 22  # NDJSON is read in blocks of 4 MiB


class EventsFileError(BeatlightError):
    """An events file that cannot be read as events."""


@dataclass
class EventsFile:
    """An events file that has been opened and checked."""

    path: Path
    format: str
    size_bytes: int
    max_event_bytes: int = 8192

    def chunks(
        self, rows: int = 50_000, *, keep_text: bool = False
    ) -> Iterator[tuple[RawEvents, int]]:
        """Batches of raw events in file order, each with the bytes read so far.

        ``keep_text``: NDJSON rows keep their line (:attr:`RawEvents.text`).
        """
        for piece in self.pieces(rows, keep_text=keep_text):
            yield piece.read(), piece.done

    def pieces(self, rows: int = 50_000, *, keep_text: bool = False) -> Iterator[Piece]:
        """The file in pieces of ``rows`` lines (rows), in file order, not parsed yet: each
        :meth:`Piece.read` gives the batch :meth:`chunks` would, in any process.

        NDJSON and Parquet leave their parsing to :meth:`Piece.read`, so pieces can be
        parsed on several cores; CSV's quoting ties a row to the ones before it, so its
        pieces are parsed here.
        """
        try:
            if self.format == "ndjson":
                yield from self._ndjson(rows, keep_text)
            elif self.format == "csv":
                yield from self._csv(rows)
            else:
                yield from self._parquet(rows)
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
            raise EventsFileError(f"{self.path}: cannot be read to the end ({error})") from None

    def _ndjson(self, rows: int, keep_text: bool) -> Iterator[Piece]:
        with self.path.open("rb") as raw, _maybe_gzip(raw, self.path) as stream:
            first = 1
            for data in _line_blocks(stream, rows):
                yield NdjsonPiece(raw.tell(), data, first, self.max_event_bytes, keep_text)
                first += rows

    def _csv(self, rows: int) -> Iterator[Piece]:
        with self.path.open("rb") as raw, _maybe_gzip(raw, self.path) as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = [h.strip() for h in next(reader, [])]
            _check_columns(self.path, header, warn=False)
            wanted = {name: header.index(name) for name in FIELDS if name in header}
            width = len(header)
            number = 2
            while True:
                block = list(islice(reader, rows))
                if not block:
                    return
                records: list[dict[str, Any] | None] = []
                reasons: list[str | None] = []
                for row in block:
                    if len(row) != width:
                        # A row that does not fit the header cannot be read as an event.
                        records.append(None)
                        reasons.append("malformed_json" if row else None)
                        continue
                    records.append({name: _csv_value(name, row[i]) for name, i in wanted.items()})
                    reasons.append(None)
                keep = [i for i, r in enumerate(reasons) if r is not None or records[i] is not None]
                batch = RawEvents.from_records(
                    [records[i] for i in keep],
                    [reasons[i] for i in keep],
                    [number + i for i in keep],
                )
                number += len(block)
                yield ReadPiece(raw.tell(), batch)

    def _parquet(self, rows: int) -> Iterator[Piece]:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(self.path)
        names = parquet.schema_arrow.names
        _check_columns(self.path, names, warn=False)
        columns = [name for name in FIELDS if name in names]
        done = 0
        total_rows = max(parquet.metadata.num_rows, 1)
        for table in parquet.iter_batches(batch_size=rows, columns=columns):
            yield ArrowPiece(int(self.size_bytes * (done + table.num_rows) / total_rows), table,
                             done + 1)  # fmt: skip
            done += table.num_rows


@dataclass(frozen=True)
class Piece:
    """Part of an events file, to be read into raw events by :meth:`read` (in any process:
    a piece holds its data, not the file)."""

    #: The file's bytes read up to the end of this piece (for a progress bar).
    done: int

    def read(self) -> RawEvents:
        raise NotImplementedError


@dataclass(frozen=True)
class ReadPiece(Piece):
    """A piece already read (CSV)."""

    raw: RawEvents

    def read(self) -> RawEvents:
        return self.raw


@dataclass(frozen=True)
class NdjsonPiece(Piece):
    """Whole NDJSON lines, the first of them line ``first`` of the file."""

    data: bytes
    first: int
    max_event_bytes: int
    keep_text: bool

    def read(self) -> RawEvents:
        lines = self.data.split(b"\n")
        if not lines[-1]:
            lines.pop()  # the last line's break, or an empty piece
        return parse_lines(lines, max_event_bytes=self.max_event_bytes,
                           first_position=self.first, keep_text=self.keep_text)  # fmt: skip


@dataclass(frozen=True)
class ArrowPiece(Piece):
    """Parquet rows as Arrow columns, the first of them row ``first`` of the file."""

    table: Any  # pyarrow.RecordBatch
    first: int

    def read(self) -> RawEvents:
        import pyarrow as pa
        import pyarrow.compute as pc

        table, n = self.table, self.table.num_rows
        data: dict[str, list[Any]] = {}
        for name in table.schema.names:
            column = table.column(name)
            if name == "ts" and pa.types.is_timestamp(column.type) and column.type.tz:
                # Arrow's %S carries the fraction of the column's unit.
                column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ", locale="C")
            data[name] = column.to_pylist()
        # Columns straight in: no dict per row (absent columns are all None).
        return RawEvents(
            {name: data[name] if name in data else [None] * n for name in FIELDS},
            [None] * n,
            list(range(self.first, self.first + n)),
        )


def open_events(path: str | Path, *, max_event_bytes: int = 8192) -> EventsFile:
    """Check an events file and say clearly what is wrong with it, if anything."""
    path = Path(path)
    if not path.exists():
        raise EventsFileError(f"{path}: no such events file")
    if not path.is_file():
        raise EventsFileError(f"{path}: not a file")
    suffixes = [s.lower() for s in path.suffixes]
    base = (
        suffixes[-2]
        if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1
        else (suffixes[-1] if suffixes else "")
    )
    kind = _FORMATS.get(base)
    if kind is None:
        raise EventsFileError(
            f"{path}: unknown events format {base or '(no extension)'!r}; "
            "use .ndjson/.jsonl, .csv or .parquet (optionally .gz for NDJSON and CSV)"
        )
    events = EventsFile(path, kind, path.stat().st_size, max_event_bytes)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            _check_columns(path, pq.ParquetFile(path).schema_arrow.names)
        else:
            with path.open("rb") as raw, _maybe_gzip(raw, path) as stream:
                head = stream.readline()
            if kind == "csv":
                header = next(csv.reader([head.decode("utf-8-sig")]), [])
                _check_columns(path, [h.strip() for h in header])
    except EventsFileError:
        raise
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault here
        raise EventsFileError(f"{path}: cannot be read as {kind} ({error})") from None
    return events


def _check_columns(path: Path, columns: list[str], *, warn: bool = True) -> None:
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise EventsFileError(
            f"{path}: not an events file: required column(s) {', '.join(missing)} missing "
            f"(found: {', '.join(columns[:12]) or 'none'}); expected {', '.join(FIELDS)}"
        )
    extra = [name for name in columns if name not in FIELDS]
    if extra and warn:
        # Names only: the values of identifying columns are never read.
        log.warning("%s: dropping columns outside the event schema: %s", path, ", ".join(extra))


def _csv_value(name: str, text: str) -> Any:
    """A CSV cell as the JSON value it stands for: empty → absent, numbers → float."""
    if text == "":
        return None
    if name in _NUMERIC:
        try:
            value = float(text)
        except ValueError:
            return text  # not a number: rejected by validation, as in JSON
        return value if math.isfinite(value) else text
    return text


def _line_blocks(stream: IO[bytes], rows: int) -> Iterator[bytes]:
    """The stream in blocks of ``rows`` whole lines (the last block: what is left), cut
    where ``for line in stream`` would cut them, at ``\\n``."""
    blocks: list[bytes] = []
    lines = 0  # line breaks in blocks
    while True:
        block = stream.read(_READ_BYTES)
        blocks.append(block)
        lines += block.count(b"\n")
        if lines < rows and block:
            continue
        data = b"".join(blocks)
        start = 0
        if lines >= rows:
            breaks = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
            for end in breaks[rows - 1 :: rows].tolist():
                yield data[start : end + 1]
                start = end + 1
            lines -= len(breaks) // rows * rows
        if not block:
            if start < len(data):
                yield data[start:]  # the last lines, the very last without its break
            return
        blocks = [data[start:]]


def _maybe_gzip(raw: IO[bytes], path: Path) -> AbstractContextManager[IO[bytes]]:
    """The decompressed stream of a ``.gz`` file, else the file itself (left open)."""
    if path.suffix.lower() == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return nullcontext(raw)
