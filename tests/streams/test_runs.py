"""Run arithmetic: the sort order every merge of runs relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from beatlight.streams.runs import merge_later_runs, merge_runs, merge_sorted_runs
from beatlight.streams.sorting import group_first, lexsort, sorted_unique

pytestmark = pytest.mark.unit

small = hnp.arrays(np.int64, st.shared(st.integers(0, 40), key="n"), elements=st.integers(-50, 50))
wide = hnp.arrays(np.int64, st.shared(st.integers(0, 40), key="n"),
                  elements=st.integers(-(2**62), 2**62))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(small, wide), min_size=1, max_size=3))
def test_lexsort_is_numpys_lexsort_ties_in_array_order(keys):
    # Wide keys do not fit one combined key: the fallback must give the same order.
    assert lexsort(keys).tolist() == np.lexsort(keys).tolist()


def test_group_first_finds_the_first_row_of_each_combination():
    a = np.array([2, 1, 2, 1, 2])
    b = np.array([0, 0, 0, 1, 0])
    assert sorted(group_first([a, b]).tolist()) == [0, 1, 3]


def test_touching_runs_of_a_group_merge_into_one():
    group, start, end = merge_runs(np.array([1, 0, 0, 0]), np.array([0, 5, 1, 9]),
                                   np.array([2, 7, 5, 10]))  # fmt: skip
    assert (group.tolist(), start.tolist(), end.tolist()) == ([0, 0, 1], [1, 9, 0], [7, 10, 2])


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.int64, st.integers(0, 50), elements=st.integers(-(2**62), 2**62)))
def test_sorted_unique_is_numpys_unique(values):
    assert sorted_unique(values).tolist() == np.unique(values).tolist()


def _runs(draw_lists: list[tuple[int, int, int]]) -> tuple[np.ndarray, ...]:
    group = np.array([g for g, _, _ in draw_lists], dtype=np.int64)
    start = np.array([s for _, s, _ in draw_lists], dtype=np.int64)
    end = start + np.array([n for _, _, n in draw_lists], dtype=np.int64)
    return group, start, end


def _listed(runs: tuple[np.ndarray, ...]) -> list[list[int]]:
    return [column.tolist() for column in runs]


run_rows = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40), st.integers(1, 8)),
                    max_size=30)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(run_rows, run_rows, st.integers(0, 60))
def test_later_runs_merge_as_a_full_merge_would(old_rows, new_rows, seam):
    # The runs so far end by the seam; the later ones start at it or after (the next
    # slots to become final), or anywhere (the slow path must give the same answer).
    old = merge_runs(*_runs([(g, min(s, seam - 1), min(n, seam - min(s, seam - 1)))
                             for g, s, n in old_rows if seam > 0]))  # fmt: skip
    for later in (_runs([(g, seam + s, n) for g, s, n in new_rows]), _runs(new_rows)):
        expected = merge_runs(*(np.concatenate(pair) for pair in zip(old, later, strict=True)))
        assert _listed(merge_later_runs(old, later)) == _listed(expected)


def test_a_later_run_touching_the_last_final_one_is_the_same_visit():
    old = (np.array([1, 2]), np.array([3, 0]), np.array([10, 10]))
    later = (np.array([2, 1, 0]), np.array([10, 12, 10]), np.array([11, 13, 11]))
    assert _listed(merge_later_runs(old, later)) == [[0, 1, 1, 2], [10, 3, 12, 0],
                                                     [11, 10, 13, 11]]  # fmt: skip


def test_sorted_runs_merge_whatever_the_size_of_the_group_values():
    # Group values near 2**62 (area * width + unit keys of a big lane) must not overflow.
    group = np.array([2**62, 2**62, 2**62 + 5], dtype=np.int64)
    start, end = np.array([0, 4, 0]), np.array([4, 9, 1])
    assert _listed(merge_sorted_runs(group, start, end)) == [[2**62, 2**62 + 5], [0, 0], [9, 1]]
