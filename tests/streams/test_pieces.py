"""An events file read in pieces (``EventsFile.pieces``) gives the batches a line-by-line
read gives: the same rows, line numbers, reasons and texts, whatever the file's faults,
however the reads cut it, and parsed in whichever process."""

from __future__ import annotations

import gzip
import io
import pickle
import random
from itertools import islice

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beatlight.streams import files
from beatlight.streams.events import RawEvents, parse_lines
from beatlight.streams.files import EventsFileError, open_events

pytestmark = pytest.mark.unit

GOOD = {"event_id": "e", "unit": "u1", "ts": "2026-11-20T10:00:00Z", "lat": 52.5, "lon": -2.0}


def _line(i: int, **change: object) -> bytes:
    return orjson.dumps({**GOOD, "event_id": f"e{i}", **change})


def _messy(seed: int) -> bytes:
    """Good lines, copies, malformed and blank lines, CRLF, an oversize line, shuffled;
    the last line without its line break."""
    rng = random.Random(seed)
    lines = [_line(i, unit=f"u{i % 3}") for i in range(40)]
    lines += [lines[3], lines[3], lines[17]]  # copies
    lines += [b"{not json", b"[1, 2]", b"", b"   ", b"\xff\xfe", _line(99) + b"\r"]
    lines += [_line(100, note="x" * 9000)]  # too large
    lines += [_line(101, lat="north"), orjson.dumps({"unit": "u1"})]
    rng.shuffle(lines)
    return b"\n".join(lines)


def _line_by_line(data: bytes, rows: int, keep_text: bool) -> list[RawEvents]:
    """What the reader did before pieces: ``rows`` lines at a time from the file's lines."""
    lines = iter(io.BytesIO(data))
    batches, number = [], 1
    while block := list(islice(lines, rows)):
        batches.append(parse_lines(block, max_event_bytes=8192, first_position=number,
                                   keep_text=keep_text))  # fmt: skip
        number += len(block)
    return batches


def _same(ours: list[RawEvents], theirs: list[RawEvents]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert (a.columns, a.reason, a.position, a.text) == (b.columns, b.reason, b.position,
                                                             b.text)  # fmt: skip


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 50, 50_000])
@pytest.mark.parametrize("read_bytes", [1, 5, 64, 1 << 22])
def test_pieces_give_the_batches_of_a_line_by_line_read(tmp_path, monkeypatch, rows, read_bytes):
    monkeypatch.setattr(files, "_READ_BYTES", read_bytes)
    data = _messy(rows + read_bytes)
    for name, content in (("e.ndjson", data), ("e.ndjson.gz", gzip.compress(data))):
        path = tmp_path / name
        path.write_bytes(content)
        for keep_text in (False, True):
            pieces = list(open_events(path).pieces(rows, keep_text=keep_text))
            _same([p.read() for p in pieces], _line_by_line(data, rows, keep_text))
            assert [p.done for p in pieces] == sorted(p.done for p in pieces)
            assert pieces[-1].done == len(content)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"\n\n\n",
        _line(1),
        _line(1) + b"\n",
        _line(1) + b"\n\n" + _line(2),
        b"\n".join(_line(i) for i in range(10)) + b"\n",
    ],  # fmt: skip
    ids=[
        "empty",
        "one break",
        "blank lines",
        "no break",
        "one line",
        "blank between",
        "ten lines",
    ],  # fmt: skip
)
def test_edges_of_a_file(tmp_path, data):
    path = tmp_path / "e.ndjson"
    path.write_bytes(data)
    for rows in (1, 3, 10):
        pieces = list(open_events(path).pieces(rows, keep_text=True))
        _same([p.read() for p in pieces], _line_by_line(data, rows, True))


def test_rows_keep_their_line_numbers_across_pieces(tmp_path):
    path = tmp_path / "e.ndjson"
    path.write_bytes(b"\n".join([_line(1), b"", _line(3), b"oops", _line(5)]) + b"\n")
    batches = [p.read() for p in open_events(path).pieces(2)]
    assert [b.position for b in batches] == [[1], [3, 4], [5]]
    assert batches[1].reason == [None, "malformed_json"]


def test_a_piece_is_read_alike_in_another_process(tmp_path):
    """A piece holds its data, not the file: pickled (as to a worker), it reads the same."""
    path = tmp_path / "e.ndjson"
    path.write_bytes(_messy(1))
    for piece in open_events(path).pieces(4, keep_text=True):
        _same([pickle.loads(pickle.dumps(piece)).read()], [piece.read()])


def test_parquet_pieces_are_its_row_batches(tmp_path):
    path = tmp_path / "e.parquet"
    rows = [{**GOOD, "event_id": f"e{i}", "lat": 52.0 + i / 100} for i in range(7)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    pieces = list(open_events(path).pieces(3))
    batches = [pickle.loads(pickle.dumps(p)).read() for p in pieces]
    assert [b.position for b in batches] == [[1, 2, 3], [4, 5, 6], [7]]
    assert sum((b.columns["event_id"] for b in batches), []) == [r["event_id"] for r in rows]
    assert batches[0].columns["mode"] == [None] * 3  # an absent column: all absent
    assert pieces[-1].done == path.stat().st_size


def test_a_truncated_gzip_file_says_which_file(tmp_path):
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(gzip.compress(b"\n".join(_line(i) for i in range(2000)))[:-40])
    with pytest.raises(EventsFileError, match=r"cut\.ndjson\.gz: cannot be read to the end"):
        list(open_events(path).pieces(100))
