"""The simulated force, planned from the wards: where each unit patrols and on which shift.

Foot beats are runs of neighbouring wards along a Hilbert curve; cycle beats are a few
neighbouring wards, mostly small ones; vehicles work from stations spread across the
force. A share of wards is neglected (few visits), so the figures have something to show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from beatlight.streams.events import CYCLE, FOOT, VEHICLE
from beatlight.streams.simulate.config import SimulationConfig, SimulationError, WardsLike

__all__ = ["POOL", "SHIFT_NAMES", "Area", "Roster", "setup"]

SHIFT_NAMES = ("early", "late", "night")
# Shift mix per mode: small hours get fewer units, and few of them on foot.
_SHIFT_MIX = {FOOT: (0.5, 0.45, 0.05), CYCLE: (0.6, 0.4, 0.0), VEHICLE: (0.35, 0.35, 0.3)}
_CYCLE_BEAT = 3  # wards per cycle beat
POOL = 32  # random interior points kept per ward, for placements and targets


@dataclass(frozen=True)
class Area:
    geoms: np.ndarray  # prepared ward polygons in the metric CRS
    anchor: np.ndarray  # (n, 2) a point inside each ward
    pool: np.ndarray  # (n, POOL, 2) random points inside each ward
    demand: np.ndarray  # probability of a ward being a vehicle's target
    demand_cdf: np.ndarray
    area_m2: np.ndarray
    reach_m: float  # how far from its station a vehicle's targets typically are


@dataclass(frozen=True)
class Roster:
    names: list[str]
    mode: np.ndarray
    shift: np.ndarray
    beat: np.ndarray  # (units, max beat) ward indices, -1 padded
    beat_len: np.ndarray
    station: np.ndarray  # (units, 2) where vehicles start and take breaks


def setup(
    wards: WardsLike, config: SimulationConfig
) -> tuple[Area, Roster, np.random.Generator, tuple[np.random.Generator, np.random.Generator]]:
    n = len(wards.codes)
    if n == 0:
        raise SimulationError("no wards to simulate: the boundary set is empty")
    # Separate streams: changing a fault rate must not move a patrol or its GPS noise.
    plan, move, feed, faults = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)
    )
    geoms = shapely.from_wkb(shapely.to_wkb(np.asarray(wards.metric.to_numpy(), dtype=object)))
    if shapely.is_empty(geoms).any() or shapely.is_missing(geoms).any():
        raise SimulationError("every ward needs a non-empty geometry; repair the boundaries first")
    shapely.prepare(geoms)
    anchor = shapely.get_coordinates(shapely.point_on_surface(geoms))
    pool = _interior_points(geoms, anchor, plan)
    # Along a Hilbert curve, consecutive wards are neighbours: contiguous beats.
    order = np.argsort(wards.metric.hilbert_distance().to_numpy(), kind="stable")
    neglected = np.zeros(n, bool)
    neglected[plan.permutation(n)[: min(round(config.neglected_share * n), n - 1)]] = True
    demand = plan.lognormal(0.0, 0.5, n) * np.where(neglected, 0.25, 1.0)
    area_m2 = shapely.area(geoms)
    n_stations = max(1, round(n / 12))
    reach = max(2000.0, 0.5 * math.sqrt(area_m2.sum() / n_stations))
    demand /= demand.sum()
    area = Area(geoms, anchor, pool, demand, np.cumsum(demand), area_m2, reach)
    roster = _plan_roster(area, order[~neglected[order]], order, config, plan)
    return area, roster, move, (feed, faults)


def _interior_points(geoms: np.ndarray, anchor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(geoms)
    bounds = shapely.bounds(geoms)
    pool = np.repeat(anchor[:, None, :], POOL, axis=1)  # fallback for slivers
    have = np.zeros(n, np.int64)
    for _ in range(40):
        need = np.nonzero(have < POOL)[0]
        if need.size == 0:
            break
        idx = np.repeat(need, 4 * POOL)
        x = rng.uniform(bounds[idx, 0], bounds[idx, 2])
        y = rng.uniform(bounds[idx, 1], bounds[idx, 3])
        ok = shapely.contains_xy(geoms[idx], x, y)
        idx, x, y = idx[ok], x[ok], y[ok]
        rank = np.arange(idx.size) - np.searchsorted(idx, idx)
        slot = have[idx] + rank
        keep = slot < POOL
        pool[idx[keep], slot[keep]] = np.column_stack([x[keep], y[keep]])
        have += np.bincount(idx[keep], minlength=n)
    return pool


def _plan_roster(
    area: Area,
    patrolled: np.ndarray,
    order: np.ndarray,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> Roster:
    n_wards = len(area.geoms)
    n = config.units if config.units is not None else max(6, math.ceil(n_wards / 2))
    n_foot = round(n * config.foot_share)
    n_cycle = min(round(n * config.cycle_share), n - n_foot)
    mode = np.array([FOOT] * n_foot + [CYCLE] * n_cycle + [VEHICLE] * (n - n_foot - n_cycle))
    # Rostered, not drawn: each mode's shifts follow its mix as closely as counts allow.
    shift = np.zeros(n, np.int64)
    for m in (FOOT, CYCLE, VEHICLE):
        units = np.nonzero(mode == m)[0]
        share = np.array(_SHIFT_MIX[m]) * units.size
        quota = np.floor(share).astype(np.int64)
        quota[np.argsort(quota - share, kind="stable")[: units.size - quota.sum()]] += 1
        shift[units] = rng.permutation(np.repeat(np.arange(3), quota))
    beats: list[list[int]] = [[] for _ in range(n)]
    for u, group in zip(np.nonzero(mode == FOOT)[0], _split_beats(patrolled, n_foot), strict=True):
        beats[u] = rng.permutation(group).tolist()
    # Cycle beats: a few neighbouring wards, mostly in town (small wards).
    urban = 1.0 / area.area_m2[patrolled]
    for u in np.nonzero(mode == CYCLE)[0]:
        first = rng.choice(patrolled.size, p=urban / urban.sum())
        beats[u] = patrolled[first : first + _CYCLE_BEAT].tolist()
    # Stations spread out along the curve, one per dozen wards or so.
    groups = np.array_split(order, max(1, round(n_wards / 12)))
    stations = [g[np.argmax(area.demand[g])] for g in groups]
    station_ward = np.array(stations)[rng.permutation(n) % len(stations)]
    for vehicle in np.nonzero(mode == VEHICLE)[0].tolist():
        beats[vehicle] = [int(station_ward[vehicle])]
    width = max(len(b) for b in beats)
    beat = np.full((n, width), -1, np.int64)
    for row, wards in enumerate(beats):
        beat[row, : len(wards)] = wards
    return Roster(
        _pseudonyms(n, rng),
        mode,
        shift,
        beat,
        np.array([len(b) for b in beats]),
        area.anchor[station_ward],
    )


def _split_beats(patrolled: np.ndarray, count: int) -> list[np.ndarray]:
    if count == 0:
        return []
    if count >= patrolled.size:  # more units than wards: share them round the wards
        return [patrolled[[k % patrolled.size]] for k in range(count)]
    return np.array_split(patrolled, count)


def _pseudonyms(n: int, rng: np.random.Generator) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        names = list(
            dict.fromkeys(names + [f"u-{v:08x}" for v in rng.integers(0, 2**32, n).tolist()])
        )
    return names[:n]
