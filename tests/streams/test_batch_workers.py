"""The batch report is the same document, byte for byte, whatever the number of workers
that read and check the file (``batch_reports(workers=...)``, ``beatlight report
--workers``), in any line order, from NDJSON plain or gzipped, CSV or Parquet."""

from __future__ import annotations

import gzip
import random

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beatlight.configs import lane_config
from beatlight.streams import files
from beatlight.streams.batch import NoValidEvents, batch_reports
from beatlight.streams.files import open_events
from tests.feeds import shuffled
from tests.streams.test_file_order import _NOW_US, _messy
from tests.streams.test_report_vs_oracle import _geography

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    wards, geography = _geography(tmp_path_factory.mktemp("wards"))
    return geography, _messy(7, wards, units=4)


def _document(geography, path, *, workers: int, rows: int = 300, **options) -> bytes:  # noqa: ANN001
    keep_text = options.get("partitions") is None
    pieces = open_events(path).pieces(rows, keep_text=keep_text)
    found = batch_reports(geography, pieces, lane_config(), now_us=_NOW_US, workers=workers,
                          spill_rows=500, **options)  # fmt: skip
    return orjson.dumps(found.document, option=orjson.OPT_INDENT_2)


def _write(path, lines: list[bytes]):  # noqa: ANN001, ANN202
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def test_any_number_of_workers_gives_the_identical_document(feed, tmp_path, monkeypatch):
    geography, lines = feed
    monkeypatch.setattr(files, "_READ_BYTES", 4096)  # many reads a piece
    expected = _document(geography, _write(tmp_path / "given.ndjson", lines), workers=1)
    mixed = shuffled(lines, 3)
    for name, order in (("given.ndjson.gz", lines), ("mixed.ndjson", mixed),
                        ("mixed.ndjson.gz", mixed)):  # fmt: skip
        path = _write(tmp_path / name, order)
        for workers in (1, 2, 3):
            assert _document(geography, path, workers=workers) == expected, (name, workers)


def test_partitions_read_by_workers_replay_the_same_stream(feed, tmp_path):
    geography, lines = feed
    path = _write(tmp_path / "given.ndjson", lines)
    one = _document(geography, path, workers=1, partitions=3)
    assert _document(geography, path, workers=2, partitions=3) == one


def test_parquet_and_csv_by_workers(feed, tmp_path):
    geography, lines = feed
    events = _typed([orjson.loads(line) for line in lines if _is_json_object(line)])
    random.Random(5).shuffle(events)
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pylist(events), parquet, row_group_size=200)
    csv = tmp_path / "e.csv"
    cells = [",".join("" if e[k] is None else str(e[k]) for k in _FIELDS) for e in events]
    csv.write_text("\n".join([",".join(_FIELDS), *cells]) + "\n")
    for path in (parquet, csv):
        assert _document(geography, path, workers=2) == _document(geography, path, workers=1)


def test_no_valid_event_is_still_an_error_with_workers(tmp_path):
    _, geography = _geography(tmp_path)
    path = _write(tmp_path / "bad.ndjson", [b"{oops", b'{"unit": "u1"}'] * 50)
    with pytest.raises(NoValidEvents, match="no valid event among 100 rows"):
        _document(geography, path, workers=2, rows=7)


_FIELDS = ("event_id", "unit", "ts", "lat", "lon", "mode", "accuracy_m")


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _typed(events: list[dict]) -> list[dict]:
    """The events a typed export can hold: numbers as numbers, texts as texts."""
    numbers, texts = (float, int, type(None)), (str, type(None))
    return [
        {k: e.get(k) for k in _FIELDS}
        for e in events
        if all(type(e.get(k)) in numbers for k in ("lat", "lon", "accuracy_m"))
        and all(type(e.get(k)) in texts for k in ("event_id", "unit", "ts", "mode"))
    ]
