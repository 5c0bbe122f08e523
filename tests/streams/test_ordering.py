"""ExternalSort: rows in key order whatever order they came in, spilled or not."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatlight.streams.ordering import ExternalSort

pytestmark = pytest.mark.unit


def _table(keys: list[int], texts: list[bytes]) -> pa.Table:
    return pa.table({"ts_us": pa.array(keys, pa.int64()), "text": pa.array(texts, pa.binary()),
                     "row": pa.array(range(len(keys)), pa.int64())})  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(-5, 40), st.binary(max_size=3)), max_size=300),
    run_rows=st.integers(1, 64),
    add_rows=st.integers(1, 50),
)
def test_any_order_and_any_run_size_give_the_one_sorted_order(rows, run_rows, add_rows):
    keys = [k for k, _ in rows]
    texts = [t for _, t in rows]
    table = _table(keys, texts)
    folder = Path(tempfile.mkdtemp())
    with ExternalSort(["ts_us", "text"], run_rows=run_rows, directory=folder) as ordered:
        for start in range(0, len(rows), add_rows):
            ordered.add(table.slice(start, add_rows))
        assert len(ordered) == len(rows)
        slabs = list(ordered.sorted())
    out = pa.concat_tables([table.schema.empty_table(), *slabs])
    expected = sorted(zip(keys, texts, range(len(rows)), strict=True), key=lambda r: r[:2])
    got = list(zip(*(out.column(c).to_pylist() for c in ("ts_us", "text", "row")), strict=True))
    assert [r[:2] for r in got] == [r[:2] for r in expected]
    assert sorted(r[2] for r in got) == list(range(len(rows)))  # every row once
    # Rows with one key are never split between slabs (callers resolve ties in a slab).
    seen: set[int] = set()
    for slab in slabs:
        slab_keys = set(slab.column("ts_us").to_pylist())
        assert not slab_keys & seen
        seen |= slab_keys
    assert not list(folder.iterdir())  # the spill folder is gone after close
    folder.rmdir()


def test_a_large_sort_spills_runs_and_reads_them_back(tmp_path):
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 10**9, 300_000)
    table = pa.table({"ts_us": keys, "payload": rng.random(len(keys))})
    ordered = ExternalSort(["ts_us"], run_rows=40_000, directory=tmp_path)
    for batch in table.to_batches(max_chunksize=7_000):
        ordered.add(batch)
    assert len(list(tmp_path.iterdir())) == 1  # the private spill folder
    spilled = list(next(tmp_path.iterdir()).iterdir())
    assert len(spilled) == 7  # 280,000 rows in runs of 40,000, the rest pending
    got = np.concatenate([s.column("ts_us").to_numpy() for s in ordered.sorted()])
    ordered.close()
    np.testing.assert_array_equal(got, np.sort(keys))


def test_the_first_key_must_be_int64_without_nulls():
    ordered = ExternalSort(["ts_us"])
    with pytest.raises(ValueError, match="int64 without nulls"):
        ordered.add(pa.table({"ts_us": pa.array([1, None], pa.int64())}))
    with pytest.raises(ValueError, match="int64"):
        ordered.add(pa.table({"ts_us": pa.array(["a"])}))
