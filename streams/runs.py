"""Vectorised arithmetic on runs of slots: half-open intervals ``[start, end)`` grouped by a key.

Presence is stored as runs, not as one row per slot: a foot officer who stays in a
ward for two hours is one run, not 120 rows. Every function here takes and
returns parallel NumPy arrays and loops over nothing in Python. :class:`AreaRuns`
and :class:`UnitRuns` name those arrays; :class:`RunStore` keeps final runs as they
accumulate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from beatlight.streams.sorting import lexsort

__all__ = [
    "AreaRuns",
    "RunStore",
    "UnitRuns",
    "longest_gaps",
    "merge_later_runs",
    "merge_runs",
    "merge_sorted_runs",
    "overlap",
]


@dataclass(frozen=True, slots=True, eq=False)
class AreaRuns:
    """Runs of slots ``[start, end)`` per area: parallel int64 arrays.

    Merged (:meth:`merged`), they are disjoint and sorted by area, then start. They
    unpack as ``area, start, end``.
    """

    area: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.area, self.start, self.end))

    @property
    def rows(self) -> int:
        return len(self.area)

    @classmethod
    def empty(cls) -> AreaRuns:
        return cls(*_empty(3))

    @classmethod
    def concat(cls, parts: Iterable[AreaRuns]) -> AreaRuns:
        """The runs of every part, one after the other (not merged)."""
        return cls(*_concat((cls.empty(), *parts)))

    def merged(self) -> AreaRuns:
        """The union of each area's runs (see :func:`merge_runs`)."""
        return AreaRuns(*merge_runs(self.area, self.start, self.end))

    def where(self, keep: np.ndarray) -> AreaRuns:
        return AreaRuns(self.area[keep], self.start[keep], self.end[keep])

    def clipped(self, lo: int) -> AreaRuns:
        """The runs' slots from ``lo`` on."""
        keep = self.end > lo
        return AreaRuns(self.area[keep], np.maximum(self.start[keep], lo), self.end[keep])

    def before(self, hi: int) -> AreaRuns:
        """The runs' slots before ``hi``."""
        end = np.minimum(self.end, hi)
        keep = end > self.start
        return AreaRuns(self.area[keep], self.start[keep], end[keep])


@dataclass(frozen=True, slots=True, eq=False)
class UnitRuns:
    """Runs of slots ``[start, end)`` per area and unit: one run per visit (SPEC rule 6).

    Merged, they are sorted by area, unit, then start. They unpack as
    ``area, unit, start, end``.
    """

    area: np.ndarray
    unit: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.area, self.unit, self.start, self.end))

    @property
    def rows(self) -> int:
        return len(self.area)

    @classmethod
    def empty(cls) -> UnitRuns:
        return cls(*_empty(4))

    @classmethod
    def concat(cls, parts: Iterable[UnitRuns]) -> UnitRuns:
        return cls(*_concat((cls.empty(), *parts)))

    def where(self, keep: np.ndarray) -> UnitRuns:
        return UnitRuns(self.area[keep], self.unit[keep], self.start[keep], self.end[keep])

    def by_area(self) -> AreaRuns:
        """The same runs without their units (not merged)."""
        return AreaRuns(self.area, self.start, self.end)


#: Either kind of runs: a function taking ``R`` returns the kind it was given.
R = TypeVar("R", AreaRuns, UnitRuns)


def union_later(final: R, new: R) -> R:
    """Merged final runs united with newer ones: one run per visit (rule 6).

    The new runs usually start where the final ones stop, and are then placed without
    sorting the weeks of final runs again (:func:`merge_later_runs`).
    """
    if new.rows == 0:
        return final
    if isinstance(final, AreaRuns):
        return AreaRuns(*merge_later_runs((final.area, final.start, final.end),
                                          (new.area, new.start, new.end)))  # fmt: skip
    (fa, fu, fs, fe), (na, nu, ns, ne) = final, new
    width = np.int64(max(int(fu.max(initial=0)), int(nu.max()), 0) + 1)
    g, s, e = merge_later_runs((fa * width + fu, fs, fe), (na * width + nu, ns, ne))
    return UnitRuns(g // width, g % width, s, e)


class RunStore(Generic[R]):
    """Append-only final runs, merged whenever they have doubled since the last merge."""

    def __init__(self, empty: R) -> None:
        self._parts: list[R] = [empty]
        self._compacted = 0

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self._parts)

    def append(self, runs: R) -> None:
        if runs.rows:
            self._parts.append(runs)
        if self.rows > 2 * self._compacted + 10_000:
            self.replace(self.runs())

    def earliest_end(self) -> int | None:
        """The earliest end slot of any run held (without merging them)."""
        ends = [int(p.end.min()) for p in self._parts if p.rows]
        return min(ends, default=None)

    def runs(self) -> R:
        """All runs, merged (sorted by area[, unit], start)."""
        if len(self._parts) > 1:
            first = self._parts[0]
            merged = union_later(first, type(first).concat(self._parts[1:]))
            self._parts = [merged]
            self._compacted = merged.rows
        return self._parts[0]

    def replace(self, runs: R) -> None:
        self._parts = [runs]
        self._compacted = runs.rows
        self.runs()

    def drop_before(self, cut: int) -> None:
        runs = self.runs()
        self.replace(runs.where(runs.end >= cut))


def merge_runs(
    group: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the runs of each group: overlapping or touching runs become one.

    Returns ``(group, start, end)`` sorted by group then start. Touching runs
    (``end == next start``) merge, because consecutive slots are one visit
    (SPEC rule 6).

    >>> merge_runs(np.array([0, 0, 1]), np.array([5, 1, 1]), np.array([7, 5, 2]))
    (array([0, 1]), array([1, 1]), array([7, 2]))
    """
    group = np.asarray(group, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if len(group) == 0:
        return group, start, end
    order = lexsort((start, group))
    return merge_sorted_runs(group[order], start[order], end[order])


def merge_sorted_runs(
    group: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`merge_runs` of runs already sorted by group, then start: no sort, one pass."""
    if len(group) == 0:
        return group, start, end
    base = start.min()
    span = int(end.max() - base) + 2
    # Numbering the groups 1, 2, ... and offsetting each by its number * span makes one
    # running maximum serve all groups: a run starts wherever its start is beyond
    # everything before it. (Numbers, not the group values: those may be large.)
    new = np.empty(len(group), dtype=bool)
    new[0] = True
    np.not_equal(group[1:], group[:-1], out=new[1:])
    rank = np.cumsum(new) * span
    reach = np.maximum.accumulate(rank + (end - base))
    new[1:] |= rank[1:] + (start[1:] - base) > reach[:-1]
    first = np.flatnonzero(new)
    return group[first], start[first], np.maximum.reduceat(end, first)


def merge_later_runs(
    runs: tuple[np.ndarray, np.ndarray, np.ndarray],
    later: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`merge_runs` of merged ``runs`` and ``later`` runs, none starting before one
    of ``runs`` ends: the next slots to become final, or those after the final ones.

    ``later`` runs then go after every run of their group in ``runs``, so they are
    placed by binary search and joined where they touch, in linear time: no sort of
    the weeks of runs already in order. Other runs are merged the slow way.
    """
    group, start, end = runs
    if len(later[0]) == 0:
        return runs
    if len(group) == 0 or int(later[1].min()) < int(end.max()):
        return merge_runs(*(np.concatenate(pair) for pair in zip(runs, later, strict=True)))
    new_group, new_start, new_end = merge_runs(*later)
    at = np.searchsorted(group, new_group, side="right")
    return merge_sorted_runs(
        np.insert(group, at, new_group),
        np.insert(start, at, new_start),
        np.insert(end, at, new_end),
    )


def overlap(start: np.ndarray, end: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Length of each run inside ``[lo, hi)``."""
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0, None)


def longest_gaps(
    group: np.ndarray, start: np.ndarray, end: np.ndarray, n_groups: int, lo: int, hi: int
) -> np.ndarray:
    """Per group, the longest stretch of ``[lo, hi)`` covered by none of its runs.

    The runs must be merged (disjoint, sorted by group then start), as
    :func:`merge_runs` returns them. A group with no run inside gets ``hi - lo``.
    """
    best = np.full(n_groups, hi - lo, dtype=np.int64)
    s = np.clip(start, lo, hi)
    e = np.clip(end, lo, hi)
    inside = e > s
    g, s, e = group[inside], s[inside], e[inside]
    if len(g) == 0:
        return best
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    last = np.ones(len(g), dtype=bool)
    last[:-1] = g[1:] != g[:-1]
    # Gap before each run: from the previous run's end, or from lo for a group's first.
    before = np.where(first, s - lo, s - np.concatenate(([lo], e[:-1])))
    after = np.where(last, hi - e, 0)
    gap = np.maximum(before, after)
    best[:] = 0
    has = np.zeros(n_groups, dtype=bool)
    has[g] = True
    np.maximum.at(best, g, gap)
    best[~has] = hi - lo
    return best


def _concat(parts: Iterable[Iterable[np.ndarray]]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate(columns) for columns in zip(*parts, strict=True))


def _empty(columns: int) -> tuple[np.ndarray, ...]:
    return tuple(np.empty(0, dtype=np.int64) for _ in range(columns))
