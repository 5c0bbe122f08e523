"""Run arithmetic: the sort order every merge of runs relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streams.runs import group_first, lexsort, merge_runs, sorted_unique

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
