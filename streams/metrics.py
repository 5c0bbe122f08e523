"""Figures per area and window from merged presence (SPEC rules 4-12).

:func:`figures` turns a :class:`~beatlight.streams.presence.Partial` (one lane's, or the
merge of all lanes') into the SPEC's metrics for every area and window;
:func:`fairness` summarises the wards of one window. Both are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from beatlight.geo.areas import Areas
from beatlight.streams.presence import ModelParams, Partial
from beatlight.streams.runs import longest_gaps, overlap

__all__ = ["STATUSES", "WindowFigures", "fairness", "figures", "gini", "statuses"]

STATUSES = ("green", "amber", "red", "none")
_NONE = np.iinfo(np.int64).min
_WEEK_S = 7 * 86_400


@dataclass
class WindowFigures:
    """One window's figures, one array entry per area (see :class:`geo.areas.Areas`)."""

    window: str
    patrol_minutes: np.ndarray
    foot_minutes: np.ndarray
    unit_minutes: np.ndarray
    longest_gap_minutes: np.ndarray
    distinct_units: np.ndarray
    visits: np.ndarray
    koper_visits: np.ndarray
    coverage: np.ndarray
    last_seen_us: np.ndarray  # int64, _NONE when no ping in the window
    target_minutes: np.ndarray
    attainment: np.ndarray  # NaN when the target is 0
    status: np.ndarray  # object: one of STATUSES


def figures(partial: Partial, areas: Areas, params: ModelParams) -> dict[str, WindowFigures]:
    """Every metric of every area, for each window ending at ``partial.as_of_us``."""
    n = len(areas)
    per_slot = params.slot_us / 60_000_000  # minutes per slot: S / 60
    out: dict[str, WindowFigures] = {}
    seconds = dict(params.windows)
    p_area, p_start, p_end = partial.present
    f_area, f_start, f_end = partial.foot
    area_last = _area_last_seen(partial.ward_last_seen, areas)
    for i, (name, lo, hi) in enumerate(params.window_slots(partial.as_of_us)):
        patrol = np.bincount(p_area, weights=overlap(p_start, p_end, lo, hi), minlength=n)
        foot = np.bincount(f_area, weights=overlap(f_start, f_end, lo, hi), minlength=n)
        gap = longest_gaps(p_area, p_start, p_end, n, lo, hi)
        patrol_minutes = patrol * per_slot
        target = areas.target_minutes_per_week * seconds[name] / _WEEK_S
        with np.errstate(divide="ignore", invalid="ignore"):
            attainment = np.where(target > 0, patrol_minutes / target, np.nan)
        last_seen = np.where(area_last >= lo * params.slot_us, area_last, _NONE)
        out[name] = WindowFigures(
            window=name,
            patrol_minutes=patrol_minutes,
            foot_minutes=foot * per_slot,
            unit_minutes=partial.unit_slots[i] * per_slot,
            longest_gap_minutes=gap * per_slot,
            distinct_units=partial.distinct_units[i],
            visits=partial.visits[i],
            koper_visits=partial.koper_visits[i],
            coverage=_coverage(partial, areas, i),
            last_seen_us=last_seen,
            target_minutes=target,
            attainment=attainment,
            status=statuses(patrol_minutes, attainment),
        )
    return out


def fairness(window: WindowFigures, areas: Areas) -> dict[str, float | None]:
    """Rule 12 over the wards of one window: Gini of patrol per km² and per 1,000 residents,
    and the shares of wards and residents in ``red`` (and in ``none``) wards."""
    wards = areas.of_level("ward")
    minutes = window.patrol_minutes[wards]
    km2 = areas.area_km2[wards]
    population = areas.population[wards]
    status = window.status[wards]
    known = ~np.isnan(population) & (population > 0)
    per_resident = minutes[known] / (population[known] / 1000.0)
    result: dict[str, float | None] = {
        "gini_minutes_per_km2": gini(minutes / km2),
        "gini_minutes_per_1000_residents": gini(per_resident) if known.any() else None,
    }
    for label in ("red", "none"):
        hit = status == label
        result[f"share_wards_{label}"] = float(hit.mean()) if len(wards) else None
        total = population[known].sum()
        result[f"share_residents_{label}"] = (
            float(population[known & hit].sum() / total) if known.any() and total > 0 else None
        )
    return result


def gini(values: np.ndarray) -> float | None:
    """Gini coefficient, sum |xi - xj| / (2 n² mean); ``None`` when empty or all zero.

    >>> gini(np.array([1.0, 1.0, 1.0]))
    0.0
    >>> gini(np.array([0.0, 0.0, 3.0]))
    0.6666666666666666
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    total = x.sum()
    if n == 0 or total <= 0:
        return None
    rank = np.arange(1, n + 1)
    # Sorted form of the mean absolute difference: exact, O(n log n).
    return float((2.0 * np.sum(rank * x) / (n * total)) - (n + 1) / n)


def statuses(patrol_minutes: np.ndarray, attainment: np.ndarray) -> np.ndarray:
    """Rule 10: green ≥ 1, amber ≥ 0.75, red below; none when nobody was there."""
    with np.errstate(invalid="ignore"):
        status = np.where(
            np.isnan(attainment) | (attainment >= 1.0),
            "green",
            np.where(attainment >= 0.75, "amber", "red"),
        ).astype(object)
    status[patrol_minutes == 0] = "none"
    return status


def _area_last_seen(ward_last: np.ndarray, areas: Areas) -> np.ndarray:
    last = np.full(len(areas), _NONE, dtype=np.int64)
    for level in range(areas.ward_areas.shape[1]):
        target = areas.ward_areas[:, level]
        member = target >= 0
        np.maximum.at(last, target[member], ward_last[member])
    return last


def _coverage(partial: Partial, areas: Areas, window: int) -> np.ndarray:
    """Rule 7: share of an area's cells holding a ping of one of its wards in the window."""
    layout = _cell_layout(areas)
    hit = np.zeros(len(areas.area_cell_keys) + 1, dtype=bool)  # the last entry: no such cell
    # Rows by index, not by a boolean mask over (pairs, 4): half the time.
    hit[layout.pair_positions[np.flatnonzero(partial.covered[window])]] = True
    stray = partial.stray[window]
    if len(stray):
        hit[_area_cell_positions(areas, stray // areas.n_cells, stray % areas.n_cells)] = True
    covered = np.zeros(len(areas), dtype=np.int64)
    if len(hit) > 1:
        counts = np.add.reduceat(hit[:-1].view(np.uint8), layout.area_starts, dtype=np.int64)
        covered = np.where(areas.cell_count > 0, counts, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(areas.cell_count > 0, covered / areas.cell_count, 0.0)


@dataclass(frozen=True)
class _CellLayout:
    """Where each ward-cell pair counts, precomputed once per geography."""

    #: ``(pairs, 4)`` positions in ``areas.area_cell_keys`` of the pair's cell in each area
    #: its ward belongs to (``len(area_cell_keys)`` where there is none).
    pair_positions: np.ndarray
    #: First position of each area's cells in ``area_cell_keys`` (for ``np.add.reduceat``).
    area_starts: np.ndarray


def _cell_layout(areas: Areas) -> _CellLayout:
    return areas.derived("metrics.cell_layout", _build_cell_layout)


def _build_cell_layout(areas: Areas) -> _CellLayout:
    n_cells = np.int64(areas.n_cells)
    pairs = areas.ward_cell_keys
    positions = _area_cell_positions(areas, pairs // n_cells, pairs % n_cells)
    starts = np.concatenate(([0], np.cumsum(areas.cell_count)[:-1])).astype(np.int64)
    # reduceat needs valid indices; an area without cells gets a count fixed to 0 above.
    starts = np.minimum(starts, max(len(areas.area_cell_keys) - 1, 0))
    return _CellLayout(positions, starts)


def _area_cell_positions(areas: Areas, ward: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Positions in ``area_cell_keys`` of each (ward, cell)'s cell in the ward's areas.

    Only cells of the area count: a ping on a ward's edge can sit in a cell that
    meets the ward with zero area. Those, and missing areas, map to
    ``len(area_cell_keys)``.
    """
    keys_all = areas.area_cell_keys
    targets = areas.ward_areas[np.asarray(ward, dtype=np.int64)]  # (k, 4)
    keys = targets.astype(np.int64) * np.int64(areas.n_cells) + np.asarray(cell)[:, None]
    pos = np.searchsorted(keys_all, keys)
    found = (targets >= 0) & (pos < len(keys_all))
    found[found] = keys_all[pos[found]] == keys[found]
    return np.where(found, pos, len(keys_all))
