"""Areas: the wards and their roll-ups (neighbourhood, district, force), SPEC rules 11 and 13.

Every area gets an index. Wards come first (area index = ward index, in code
order), then neighbourhoods, districts and the force, each sorted by code.
``ward_areas[w]`` lists the areas ward ``w`` belongs to, so the presence model
can credit one unit-slot to all of them at once; a roll-up's figures are then
computed from its own union of unit-slots and cells, never by adding wards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from beatlight.geo.cells import unique_cells

__all__ = ["LEVELS", "Areas", "build_areas"]

LEVELS = ("ward", "neighbourhood", "district", "force")
FORCE_CODE = "force"
T = TypeVar("T")


@dataclass(frozen=True)
class Areas:
    """Wards and roll-ups with their attributes and grid cells."""

    level: np.ndarray  # object: one of LEVELS
    code: np.ndarray  # object
    name: np.ndarray  # object
    area_km2: np.ndarray  # float64 (roll-up: sum of its wards)
    population: np.ndarray  # float64, NaN when unknown (roll-up: NaN unless all wards known)
    target_minutes_per_week: np.ndarray  # float64 (roll-up: sum of its wards, rule 11)
    wards: tuple[np.ndarray, ...]  # ward indices of each area
    ward_areas: np.ndarray  # int32 (n_wards, 4): ward, neighbourhood, district (-1), force
    n_cells: int  # cells of all wards, compactly numbered 0..n_cells-1
    area_cell_keys: np.ndarray  # int64 sorted: area * n_cells + cell, for every cell of every area
    cell_count: np.ndarray  # int64 cells per area

    @property
    def n_wards(self) -> int:
        return self.ward_areas.shape[0]

    def __len__(self) -> int:
        return len(self.code)

    def derived(self, key: str, build: Callable[[Areas], T]) -> T:
        """``build(self)``, worked out once and kept with these areas: what every snapshot
        of one geography needs again (cell layouts, report descriptions, digests)."""
        kept = self.__dict__.setdefault("_derived", {})  # beside the frozen fields
        if key not in kept:
            kept[key] = build(self)
        return kept[key]

    def of_level(self, level: str) -> np.ndarray:
        """Indices of the areas of one level, in code order."""
        return np.flatnonzero(self.level == level)

    @property
    def ward_cell_keys(self) -> np.ndarray:
        """``ward * n_cells + cell`` for every cell of every ward, sorted: the ward-cell pairs."""
        return self.area_cell_keys[: int(self.cell_count[: self.n_wards].sum())]


def build_areas(
    *,
    codes: Sequence[str],
    names: Sequence[str],
    area_km2: np.ndarray,
    neighbourhood: Sequence[str],
    district: Sequence[str | None] | None,
    district_name: Sequence[str | None] | None,
    population: np.ndarray,
    target_minutes_per_week: np.ndarray,
    ward_cells: Sequence[np.ndarray],
    n_cells: int,
    force_name: str,
) -> Areas:
    """Assemble the area table from per-ward attributes and compact ward cell indices."""
    n = len(codes)
    if list(codes) != sorted(codes):
        raise ValueError("wards must be sorted by code")
    ward_idx = np.arange(n)
    neighbourhoods = sorted(set(neighbourhood))
    districts = sorted({d for d in (district or []) if d})
    district_names: dict[str, str] = {}
    for d, dn in zip(district or [None] * n, district_name or [None] * n, strict=True):
        if d and d not in district_names:
            district_names[d] = dn or d

    level = ["ward"] * n + ["neighbourhood"] * len(neighbourhoods)
    level += ["district"] * len(districts) + ["force"]
    code = list(codes) + neighbourhoods + districts + [FORCE_CODE]
    name = list(names) + neighbourhoods + [district_names[d] for d in districts] + [force_name]

    nb_index = {c: n + i for i, c in enumerate(neighbourhoods)}
    d_index = {c: n + len(neighbourhoods) + i for i, c in enumerate(districts)}
    force = len(code) - 1
    ward_areas = np.full((n, 4), -1, dtype=np.int32)
    ward_areas[:, 0] = ward_idx
    ward_areas[:, 1] = [nb_index[c] for c in neighbourhood]
    if district is not None:
        ward_areas[:, 2] = [d_index[d] if d else -1 for d in district]
    ward_areas[:, 3] = force

    members: list[list[int]] = [[w] for w in range(n)] + [[] for _ in range(len(code) - n)]
    for w in range(n):
        for a in ward_areas[w, 1:]:
            if a >= 0:
                members[a].append(w)
    wards = tuple(np.asarray(m, dtype=np.int64) for m in members)

    area = np.asarray(area_km2, dtype=float)
    pop = np.asarray(population, dtype=float)
    target = np.asarray(target_minutes_per_week, dtype=float)
    area_all = np.array([area[m].sum() for m in wards])
    pop_all = np.array(
        [pop[m].sum() if len(m) and not np.isnan(pop[m]).any() else np.nan for m in wards]
    )
    target_all = np.array([target[m].sum() for m in wards])

    keys, counts = _area_cells(wards, ward_cells, n_cells)
    return Areas(
        level=np.array(level, dtype=object),
        code=np.array(code, dtype=object),
        name=np.array(name, dtype=object),
        area_km2=area_all,
        population=pop_all,
        target_minutes_per_week=target_all,
        wards=wards,
        ward_areas=ward_areas,
        n_cells=int(n_cells),
        area_cell_keys=keys,
        cell_count=counts,
    )


def _area_cells(
    wards: tuple[np.ndarray, ...], ward_cells: Sequence[np.ndarray], n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each area's cells are the union of its wards' cells (rule 7, rule 11)."""
    parts = []
    counts = np.zeros(len(wards), dtype=np.int64)
    for a, members in enumerate(wards):
        if len(members) == 1:
            cells = np.asarray(ward_cells[members[0]], dtype=np.int64)
        else:
            cells = unique_cells(np.concatenate([ward_cells[w] for w in members]))
        counts[a] = len(cells)
        parts.append(a * np.int64(n_cells) + cells)
    keys = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    return keys, counts  # already sorted: areas ascend, cells ascend within each
