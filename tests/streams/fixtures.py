"""Hand-made areas and a tiny driver for presence-model tests (no geometry needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from beatlight.configs import model_params
from beatlight.geo.areas import Areas, build_areas
from beatlight.streams.events import MODES, ValidEvents
from beatlight.streams.metrics import WindowFigures, figures
from beatlight.streams.presence import ModelParams, Partial, PresenceLane

T0 = 1_795_392_000  # 2026-11-23T00:00:00Z, a slot and hour boundary
S = 60


def tiny_areas() -> Areas:
    """Wards A, B (neighbourhood N1) and C (N2), one district, four cells each."""
    return build_areas(
        codes=["A", "B", "C"],
        names=["Ward A", "Ward B", "Ward C"],
        area_km2=np.array([1.0, 2.0, 4.0]),
        neighbourhood=["N1", "N1", "N2"],
        district=["D1", "D1", "D1"],
        district_name=["District 1"] * 3,
        population=np.array([1000.0, 2000.0, 3000.0]),
        target_minutes_per_week=np.array([600.0, 600.0, 1200.0]),
        ward_cells=[np.arange(0, 4), np.arange(3, 8), np.arange(8, 12)],  # cell 3 shared by A, B
        n_cells=12,
        force_name="Force",
    )


@dataclass(frozen=True)
class Ping:
    unit: str
    t: float  # seconds after T0
    ward: int  # -1 outside
    mode: str = "unknown"
    cell: int = -1
    event_id: str | None = None

    def eid(self, i: int) -> str:
        return self.event_id or f"{self.unit}-{i:06d}"


def add_pings(lane: PresenceLane, pings: list[Ping], offset: int = 0) -> None:
    lane.add(
        np.array([p.unit for p in pings], dtype=object),
        np.array([int(round((T0 + p.t) * 1_000_000)) for p in pings], dtype=np.int64),
        np.array([p.eid(offset + i) for i, p in enumerate(pings)], dtype=object),
        np.array([p.ward for p in pings], dtype=np.int32),
        np.array([MODES.index(p.mode) for p in pings], dtype=np.int8),
        np.array([p.cell for p in pings], dtype=np.int64),
    )


def as_of_us(seconds_after_t0: float) -> int:
    return int(round((T0 + seconds_after_t0) * 1_000_000))


def run(
    pings: list[Ping], as_of: float, areas: Areas | None = None, params: ModelParams | None = None
) -> tuple[Partial, dict[str, WindowFigures]]:
    """All pings in one go, figures as of ``as_of`` seconds after T0."""
    areas = areas or tiny_areas()
    params = params or model_params()
    lane = PresenceLane(areas, params)
    add_pings(lane, pings)
    partial = lane.partial(as_of_us(as_of))
    return partial, figures(partial, areas, params)


def valid_events(rows: list[tuple[str, str, int]]) -> ValidEvents:
    """Valid events with these ``(event_id, unit, ts_us)``, at (0, 0), mode unknown."""
    n = len(rows)
    return ValidEvents(
        event_id=np.array([r[0] for r in rows], dtype=object),
        unit=np.array([r[1] for r in rows], dtype=object),
        ts_us=np.array([r[2] for r in rows], dtype=np.int64),
        lat=np.zeros(n),
        lon=np.zeros(n),
        mode=np.zeros(n, dtype=np.int8),
        reason=np.array([None] * n, dtype=object),
        position=np.arange(n, dtype=np.int64),
    )
