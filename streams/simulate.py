"""Seeded simulation of anonymised patrol-presence pings, for demos, tests and benchmarks.

A simulated force works any ward geography: a roster of units (foot, cycle,
vehicle) on early, late and night shifts with breaks and radio silences. Foot
units walk one ward of their beat per shift, cycles ride between the wards of
their beat, vehicles drive between targets across the force and park up at some.
Movement is computed in the wards' metric CRS, all units at once per time step,
and projected to WGS84 in batches.

A feed layer then does what real feeds do: jittered ping intervals, GPS noise,
and the faults a worker must survive (SPEC "The presence event"): duplicates,
late and out-of-order delivery, bad coordinates, missing fields, inaccurate
fixes, truncated JSON lines and identifying fields that must be dropped on
arrival. Events come out in arrival order while only a small reorder heap is
held, so a simulation of any length streams.

Same seed and config, same output: every random draw comes from the seed.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO, cast

import numpy as np
import orjson
import pyproj
import shapely

from beatlight.errors import BeatlightError
from beatlight.streams.events import CYCLE, FOOT, MODES, UNKNOWN, VEHICLE

__all__ = [
    "FAULTS",
    "IDENTIFYING_FIELDS",
    "SimulationConfig",
    "SimulationError",
    "UnitPlan",
    "plan_units",
    "simulate",
    "simulate_annotated",
    "simulate_lines",
    "write_ndjson",
]

_log = logging.getLogger(__name__)

#: Fault labels, in the order of :attr:`SimulationConfig.fault_rates`.
FAULTS = (
    "duplicate",
    "late",
    "out_of_order",
    "bad_coordinates",
    "missing_field",
    "inaccurate",
    "malformed",
    "identifying",
)
#: Fields a careless feed leaks; the SPEC says they are dropped on arrival.
IDENTIFYING_FIELDS = ("officer_name", "collar_number", "badge_id", "radio_id")

Event = dict[str, Any]
Labelled = tuple[Event | str, frozenset[str]]

_SHIFT_NAMES = ("early", "late", "night")
_SHIFT_START_H = np.array([7.0, 15.0, 22.0])  # nominal starts (UTC), staggered per shift
# Shift mix per mode: small hours get fewer units, and few of them on foot.
_SHIFT_MIX = {FOOT: (0.5, 0.45, 0.05), CYCLE: (0.6, 0.4, 0.0), VEHICLE: (0.35, 0.35, 0.3)}
_REST_DAY_P = 0.25
_MAX_OFF = 4  # off-air intervals per shift: one break and up to three radio silences
# Units move in ticks; pings fall between tick positions (interpolated), so the
# tick sets the cost, not the ping rate. A minute is 84 m on foot, 0.5-0.9 km by car.
_TICK_S = 60.0
_BATCH_S = 300.0
_CYCLE_BEAT = 3  # wards per cycle beat
_POOL = 32  # random interior points kept per ward, for placements and targets
_EXCURSION_P = 0.08  # a foot unit meeting its ward's edge steps over instead of turning
_MODE_MISSING_P = 0.01
_MODE_UNKNOWN_P = 0.01
_CLEAN: frozenset[str] = frozenset()
_REQUIRED = ("event_id", "unit", "ts", "lat", "lon")
_FAKE_FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Jamie", "Kim", "Lee", "Ash")
_FAKE_LAST = ("Morgan", "Hughes", "Bennett", "Shaw", "Turner", "Walsh", "Price", "Lloyd")


class SimulationError(BeatlightError, ValueError):
    """A simulation config or geography that cannot be simulated."""


class WardsLike(Protocol):
    """What the simulation needs of :class:`geo.boundaries.Wards` (read-only)."""

    @property
    def codes(self) -> np.ndarray: ...

    @property
    def metric(self) -> Any: ...  # a GeoSeries in ``metric_crs``

    @property
    def metric_crs(self) -> str: ...


def _previous_midnight() -> datetime:
    # The last complete UTC day: the worker rejects events from the future.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; rates are probabilities per emitted ping.

    ``start`` must be timezone-aware; it is normalised to UTC whole seconds.
    ``units=None`` scales the roster with the geography (one unit per two wards,
    at least six).
    """

    seed: int = 1
    start: datetime = field(default_factory=_previous_midnight)
    duration: timedelta = timedelta(days=1)
    units: int | None = None
    ping_seconds: float = 30.0
    foot_share: float = 0.45
    cycle_share: float = 0.1
    neglected_share: float = 0.15
    duplicate_rate: float = 0.01
    late_rate: float = 0.005
    out_of_order_rate: float = 0.02
    bad_coordinate_rate: float = 0.002
    missing_field_rate: float = 0.002
    inaccurate_rate: float = 0.01
    malformed_rate: float = 0.001
    identifying_field_rate: float = 0.02

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise SimulationError("start must be timezone-aware, e.g. 2026-11-22T00:00:00+00:00")
        object.__setattr__(self, "start", self.start.astimezone(UTC).replace(microsecond=0))
        if self.duration <= timedelta(0):
            raise SimulationError("duration must be positive")
        if self.units is not None and self.units < 1:
            raise SimulationError("units must be at least 1 (or None to scale with the wards)")
        # Whole-second timestamps stay strictly increasing per unit at >= 2 s.
        if not self.ping_seconds >= 2.0:
            raise SimulationError("ping_seconds must be at least 2")
        shares = (self.foot_share, self.cycle_share, self.neglected_share)
        if not all(0.0 <= s <= 1.0 for s in shares) or self.foot_share + self.cycle_share > 1.0:
            raise SimulationError("shares must lie in [0, 1] and foot + cycle must not exceed 1")
        for name, rate in zip(FAULTS, self.fault_rates, strict=True):
            if not 0.0 <= rate <= 1.0:
                raise SimulationError(f"{name} rate must lie in [0, 1], got {rate}")

    @property
    def fault_rates(self) -> tuple[float, ...]:
        """The fault probabilities, in :data:`FAULTS` order."""
        return (
            self.duplicate_rate,
            self.late_rate,
            self.out_of_order_rate,
            self.bad_coordinate_rate,
            self.missing_field_rate,
            self.inaccurate_rate,
            self.malformed_rate,
            self.identifying_field_rate,
        )


@dataclass(frozen=True)
class UnitPlan:
    """One unit of the simulated roster: who patrols where (never who they are).

    A foot unit works one ward of its ``beat`` per shift, in beat order; a cycle
    rides between all of its beat's wards; a vehicle's beat is the ward of its
    station, and it drives anywhere, mostly near its station.
    """

    unit: str
    mode: str
    shift: str
    beat: tuple[str, ...]


def simulate(wards: WardsLike, config: SimulationConfig) -> Iterator[Event | str]:
    """Presence events in arrival order: dicts per SPEC, raw ``str`` for broken lines.

    The geography is checked at once; events are generated as they are consumed.
    """
    return (item for item, _ in simulate_annotated(wards, config))


def simulate_lines(wards: WardsLike, config: SimulationConfig) -> Iterator[str]:
    """The simulation as NDJSON lines (without newlines)."""
    dumps = orjson.dumps
    run = simulate_annotated(wards, config)
    return (item if isinstance(item, str) else dumps(item).decode() for item, _ in run)


def write_ndjson(target: str | Path | TextIO | None, lines: Iterable[str]) -> int:
    """Write lines as NDJSON to a path, an open text stream, or stdout (``None``/``"-"``)."""
    if target is None or target == "-":
        return _write_lines(sys.stdout, lines)
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8", newline="\n") as out:
            return _write_lines(out, lines)
    return _write_lines(target, lines)


def simulate_annotated(wards: WardsLike, config: SimulationConfig) -> Iterator[Labelled]:
    """Like :func:`simulate`, with each item's ground truth: the set of faults applied.

    A duplicate re-send is labelled ``duplicate`` (plus its original's faults);
    clean events carry the empty set.
    """
    area, roster, rng_move, rng_feed = _setup(wards, config)
    to_wgs84 = pyproj.Transformer.from_crs(wards.metric_crs, "EPSG:4326", always_xy=True)
    patrol = _Patrol(area, roster, config, rng_move)
    return _run(patrol, _Feed(roster, config, rng_feed, to_wgs84))


def plan_units(wards: WardsLike, config: SimulationConfig) -> tuple[UnitPlan, ...]:
    """The roster :func:`simulate` uses for these wards and this config."""
    _, roster, _, _ = _setup(wards, config)
    codes = [str(c) for c in wards.codes]
    return tuple(
        UnitPlan(name, MODES[mode], _SHIFT_NAMES[shift], tuple(codes[w] for w in beat[:length]))
        for name, mode, shift, beat, length in zip(
            roster.names,
            roster.mode.tolist(),
            roster.shift.tolist(),
            roster.beat.tolist(),
            roster.beat_len.tolist(),
            strict=True,
        )
    )


def _run(patrol: _Patrol, feed: _Feed) -> Iterator[Labelled]:
    for batch in patrol.batches():
        yield from feed.deliver(batch)
    yield from feed.drain()
    _log.info(
        "simulated %d pings of %d units over %d wards; faults %s",
        feed.pings,
        len(patrol.roster.names),
        len(patrol.area.geoms),
        dict(feed.faults),
    )


# --- geography and roster -----------------------------------------------------------


@dataclass(frozen=True)
class _Area:
    geoms: np.ndarray  # prepared ward polygons in the metric CRS
    anchor: np.ndarray  # (n, 2) a point inside each ward
    pool: np.ndarray  # (n, _POOL, 2) random points inside each ward
    demand: np.ndarray  # probability of a ward being a vehicle's target
    demand_cdf: np.ndarray
    area_m2: np.ndarray
    reach_m: float  # how far from its station a vehicle's targets typically are


@dataclass(frozen=True)
class _Roster:
    names: list[str]
    mode: np.ndarray
    shift: np.ndarray
    beat: np.ndarray  # (units, max beat) ward indices, -1 padded
    beat_len: np.ndarray
    station: np.ndarray  # (units, 2) where vehicles start and take breaks


def _setup(
    wards: WardsLike, config: SimulationConfig
) -> tuple[_Area, _Roster, np.random.Generator, tuple[np.random.Generator, np.random.Generator]]:
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
    area = _Area(geoms, anchor, pool, demand, np.cumsum(demand), area_m2, reach)
    roster = _plan_roster(area, order[~neglected[order]], order, config, plan)
    return area, roster, move, (feed, faults)


def _interior_points(geoms: np.ndarray, anchor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(geoms)
    bounds = shapely.bounds(geoms)
    pool = np.repeat(anchor[:, None, :], _POOL, axis=1)  # fallback for slivers
    have = np.zeros(n, np.int64)
    for _ in range(40):
        need = np.nonzero(have < _POOL)[0]
        if need.size == 0:
            break
        idx = np.repeat(need, 4 * _POOL)
        x = rng.uniform(bounds[idx, 0], bounds[idx, 2])
        y = rng.uniform(bounds[idx, 1], bounds[idx, 3])
        ok = shapely.contains_xy(geoms[idx], x, y)
        idx, x, y = idx[ok], x[ok], y[ok]
        rank = np.arange(idx.size) - np.searchsorted(idx, idx)
        slot = have[idx] + rank
        keep = slot < _POOL
        pool[idx[keep], slot[keep]] = np.column_stack([x[keep], y[keep]])
        have += np.bincount(idx[keep], minlength=n)
    return pool


def _plan_roster(
    area: _Area,
    patrolled: np.ndarray,
    order: np.ndarray,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> _Roster:
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
    return _Roster(
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


def _write_lines(out: TextIO, lines: Iterable[str]) -> int:
    count = 0
    for chunk in _chunks(lines):
        out.write("\n".join(chunk) + "\n")
        count += len(chunk)
    out.flush()
    return count


def _chunks(lines: Iterable[str]) -> Iterator[tuple[str, ...]]:
    it = iter(lines)
    while chunk := tuple(itertools.islice(it, 4096)):
        yield chunk


# --- movement -----------------------------------------------------------------------


@dataclass
class _Pings:
    ts: np.ndarray  # epoch seconds
    unit: np.ndarray
    counter: np.ndarray
    x: np.ndarray
    y: np.ndarray
    until: float  # every later ping has ts >= until


class _Patrol:
    """The roster's movement and duty state, advanced one tick at a time for all units."""

    def __init__(
        self, area: _Area, roster: _Roster, config: SimulationConfig, rng: np.random.Generator
    ) -> None:
        self.area, self.roster, self.rng = area, roster, rng
        self.begin = config.start.timestamp()
        self.end = self.begin + config.duration.total_seconds()
        self.interval = config.ping_seconds
        n = len(roster.names)
        self.foot = roster.mode == FOOT
        self.vehicle = roster.mode == VEHICLE
        self.speed = np.where(self.foot, rng.normal(1.4, 0.15, n), rng.normal(4.0, 0.4, n))
        self.x, self.y = np.zeros(n), np.zeros(n)
        self.tx, self.ty = np.zeros(n), np.zeros(n)
        self.heading = np.zeros(n)
        self.wiggle = np.zeros(n)
        self.ward = np.zeros(n, np.int64)
        self.inside = np.ones(n, bool)
        self.hold_until = np.zeros(n)  # pausing on foot, or parked up
        self.next_ping = np.full(n, np.inf)
        self.counter = np.zeros(n, np.int64)
        self.day = np.full(n, math.floor(self.begin / 86_400) - 2)
        self.shift_no = np.zeros(n, np.int64)
        self.shift_start, self.shift_end = np.zeros(n), np.zeros(n)
        self.off = np.zeros((n, _MAX_OFF, 2))
        self.unplaced = np.ones(n, bool)
        for u in range(n):
            while self.shift_end[u] <= self.begin:
                self._next_shift(u)

    def batches(self) -> Iterator[_Pings]:
        t = self.begin
        while t < self.end:
            until = min(t + _BATCH_S, self.end)
            parts = []
            while t < until:
                t_end = min(t + _TICK_S, until)
                parts.append(self._step(t, t_end))
                t = t_end
            ts, unit, counter, x, y = (np.concatenate(col) for col in zip(*parts, strict=True))
            yield _Pings(ts, unit, counter, x, y, until)

    def _step(self, t: float, t_end: float) -> tuple[np.ndarray, ...]:
        for u in np.nonzero(self.shift_end <= t)[0].tolist():
            self._next_shift(u)
        self._place(np.nonzero(self.unplaced & (self.shift_start < t_end))[0], t)
        on_shift = ~self.unplaced & (self.shift_start < t_end) & (self.shift_end > t)
        on_break = (self.off[:, 0, 0] <= t) & (t < self.off[:, 0, 1])
        # Vehicles take breaks at their station; foot units wherever they are.
        park = np.nonzero(on_break & self.vehicle)[0]
        self.x[park], self.y[park] = self.roster.station[park].T
        x0, y0 = self.x.copy(), self.y.copy()
        moving = on_shift & ~on_break
        self._walk(np.nonzero(moving & self.foot)[0], t, t_end - t)
        self._drive(np.nonzero(moving & ~self.foot)[0], t, t_end - t)
        return self._pings(t, t_end, x0, y0)

    def _pings(
        self, t: float, t_end: float, x0: np.ndarray, y0: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """The pings due in [t, t_end): jittered intervals, positions along the tick's move."""
        due = np.nonzero(self.next_ping < t_end)[0]
        # Enough jittered intervals per unit to pass t_end; the surplus is discarded.
        k = math.ceil((t_end - t) / (0.8 * self.interval)) + 1
        steps = self.interval * self.rng.uniform(0.8, 1.2, (due.size, k))
        times = self.next_ping[due, None] + np.cumsum(steps, axis=1) - steps
        within = times < t_end
        self.next_ping[due] = times[np.arange(due.size), within.sum(axis=1)]
        row, col = np.nonzero(within)
        u, tp = due[row], times[row, col]
        live = self._on_air(u, tp) & (tp >= self.begin)
        row, u, tp = row[live], u[live], tp[live]
        rank = np.arange(row.size) - np.searchsorted(row, row)  # nth ping of its unit this tick
        counter = self.counter[u] + rank
        self.counter += np.bincount(u, minlength=self.counter.size)
        frac = (tp - t) / (t_end - t)
        return (
            tp,
            u,
            counter,
            x0[u] + (self.x[u] - x0[u]) * frac,
            y0[u] + (self.y[u] - y0[u]) * frac,
        )

    def _on_air(self, u: np.ndarray, tp: np.ndarray) -> np.ndarray:
        off = self.off[u]
        silent = ((off[:, :, 0] <= tp[:, None]) & (tp[:, None] < off[:, :, 1])).any(axis=1)
        return (self.shift_start[u] <= tp) & (tp < self.shift_end[u]) & ~silent

    def _next_shift(self, u: int) -> None:
        rng = self.rng
        self.day[u] += 1
        while rng.random() < _REST_DAY_P:
            self.day[u] += 1
        quarter = 900.0
        start = self.day[u] * 86_400.0 + _SHIFT_START_H[self.roster.shift[u]] * 3600.0
        start += round(rng.uniform(-1.5, 1.5) * 3600 / quarter) * quarter  # staggered starts
        length = round(rng.uniform(8.0, 10.0) * 3600 / quarter) * quarter
        off = np.full((_MAX_OFF, 2), -1.0)
        brk = start + length * rng.uniform(0.4, 0.6)
        off[0] = brk, brk + rng.uniform(30, 45) * 60
        for k in range(1, 1 + min(rng.poisson(1.0), _MAX_OFF - 1)):
            quiet = start + rng.uniform(0, length)
            off[k] = quiet, quiet + rng.uniform(10, 40) * 60
        self.shift_start[u], self.shift_end[u], self.off[u] = start, start + length, off
        self.next_ping[u] = np.inf
        self.unplaced[u] = True

    def _place(self, units: np.ndarray, t: float) -> None:
        if units.size == 0:
            return
        rng, roster = self.rng, self.roster
        k = self.shift_no[units] % roster.beat_len[units]
        self.ward[units] = roster.beat[units, k]
        self.shift_no[units] += 1
        # Foot and cycle units are dropped off in their ward; vehicles leave the station.
        here = self.area.pool[self.ward[units], rng.integers(0, _POOL, units.size)]
        here = np.where(self.vehicle[units, None], roster.station[units], here)
        self.x[units], self.y[units] = here.T
        self.heading[units] = rng.uniform(-np.pi, np.pi, units.size)
        self.inside[units] = True
        self.hold_until[units] = 0.0
        start = np.maximum(self.shift_start[units], t)
        self.next_ping[units] = start + rng.uniform(0, self.interval, units.size)
        self.unplaced[units] = False
        self._retarget(units[~self.foot[units]])

    def _walk(self, units: np.ndarray, t: float, dt: float) -> None:
        """Random walk with momentum that turns back at the ward's edge (mostly)."""
        rng, n = self.rng, units.size
        if n == 0:
            return
        held = self.hold_until[units] > t
        stop = ~held & (rng.random(n) < 0.02 * dt / 30)  # a word with a resident, a shop
        self.hold_until[units[stop]] = t + rng.uniform(60, 480, stop.sum())
        go = units[~held & ~stop]
        if go.size == 0:
            return
        n = go.size
        x, y, inside, geoms = (
            self.x[go],
            self.y[go],
            self.inside[go],
            self.area.geoms[self.ward[go]],
        )
        heading = self.heading[go] + rng.normal(0, 0.45 * math.sqrt(dt / 30), n)
        home = self.area.anchor[self.ward[go]]
        homing = ~inside & (rng.random(n) < 0.5)  # outside: drift back home
        heading[homing] = np.arctan2(home[homing, 1] - y[homing], home[homing, 0] - x[homing])
        step = self.speed[go] * dt * rng.uniform(0.7, 1.1, n)
        cx, cy = x + step * np.cos(heading), y + step * np.sin(heading)
        now_in = shapely.contains_xy(geoms, cx, cy)
        blocked = np.nonzero(inside & ~now_in & (rng.random(n) >= _EXCURSION_P))[0]
        if blocked.size:
            heading[blocked] += np.pi + rng.normal(0, 0.6, blocked.size)
            cx[blocked] = x[blocked] + step[blocked] * np.cos(heading[blocked])
            cy[blocked] = y[blocked] + step[blocked] * np.sin(heading[blocked])
            now_in[blocked] = shapely.contains_xy(geoms[blocked], cx[blocked], cy[blocked])
            stay = blocked[~now_in[blocked]]
            cx[stay], cy[stay], now_in[stay] = x[stay], y[stay], True
        self.x[go], self.y[go], self.heading[go], self.inside[go] = cx, cy, heading, now_in

    def _drive(self, units: np.ndarray, t: float, dt: float) -> None:
        """Head for the target, arrive, park up at some, pick the next target."""
        go = units[self.hold_until[units] <= t]
        if go.size == 0:
            return
        rng = self.rng
        dx, dy = self.tx[go] - self.x[go], self.ty[go] - self.y[go]
        step = self.speed[go] * dt
        arrive = np.hypot(dx, dy) <= step
        # Roads bend: a slowly wandering offset from the straight bearing.
        self.wiggle[go] = 0.7 * self.wiggle[go] + rng.normal(0, 0.35, go.size)
        bearing = np.arctan2(dy, dx) + np.clip(self.wiggle[go], -1.2, 1.2)
        self.x[go] += np.where(arrive, dx, step * np.cos(bearing))
        self.y[go] += np.where(arrive, dy, step * np.sin(bearing))
        there = go[arrive]
        # Most stops are for a while: an incident, a hot spot, a word with someone.
        park = there[rng.random(there.size) < 0.6]
        self.hold_until[park] = t + rng.uniform(180, 1800, park.size)
        if there.size:
            self._retarget(there)

    def _retarget(self, units: np.ndarray) -> None:
        if units.size == 0:
            return
        rng, area = self.rng, self.area
        n = units.size
        # Cycles ride round their beat. Vehicles go where demand is, mostly near their
        # station: demand-weighted candidates, resampled by exp(-distance / reach).
        k = (rng.random(n) * self.roster.beat_len[units]).astype(np.int64)
        ward = self.roster.beat[units, k]
        candidates = np.searchsorted(area.demand_cdf, rng.random((n, 12)) * area.demand_cdf[-1])
        away = area.anchor[candidates] - self.roster.station[units, None, :]
        weight = np.cumsum(np.exp(-np.hypot(away[..., 0], away[..., 1]) / area.reach_m), axis=1)
        pick = (weight < rng.random(n)[:, None] * weight[:, -1:]).sum(axis=1)
        ward = np.where(self.vehicle[units], candidates[np.arange(n), pick], ward)
        self.tx[units], self.ty[units] = area.pool[ward, rng.integers(0, _POOL, n)].T
        speed = np.where(self.vehicle[units], rng.uniform(8, 15, n), self.speed[units])
        self.speed[units] = speed


# --- the feed -----------------------------------------------------------------------


class _Feed:
    """Turns true positions into delivered events: noise, modes, faults, arrival order."""

    def __init__(
        self,
        roster: _Roster,
        config: SimulationConfig,
        rngs: tuple[np.random.Generator, np.random.Generator],
        to_wgs84: pyproj.Transformer,
    ) -> None:
        self.names, self.modes, self.to_wgs84 = roster.names, roster.mode, to_wgs84
        # One stream draws the same numbers per ping whatever the rates; the other
        # shapes the faults.
        self.rng, self.fault_rng = rngs
        rng = self.fault_rng
        self.rates = np.array(config.fault_rates)
        self.heap: list[tuple[float, int, Event | str, frozenset[str]]] = []
        self.seq = itertools.count()
        self.pings = 0
        self.faults: Counter[str] = Counter()
        # A leaking device leaks the same identity every time.
        self.identity = [
            {
                "officer_name": f"{_FAKE_FIRST[a]} {_FAKE_LAST[b]}",
                "collar_number": f"PC {c}",
                "badge_id": f"B{d:06d}",
                "radio_id": f"R-{e:05d}",
            }
            for a, b, c, d, e in zip(
                rng.integers(0, len(_FAKE_FIRST), len(self.names)).tolist(),
                rng.integers(0, len(_FAKE_LAST), len(self.names)).tolist(),
                rng.integers(1000, 10_000, len(self.names)).tolist(),
                rng.integers(0, 1_000_000, len(self.names)).tolist(),
                rng.integers(0, 100_000, len(self.names)).tolist(),
                strict=True,
            )
        ]

    def deliver(self, pings: _Pings) -> Iterator[Labelled]:
        heap, pop = self.heap, heapq.heappop
        n = pings.ts.size
        if n:
            rng = self.rng
            order = np.argsort(pings.ts, kind="stable")
            ts, unit = pings.ts[order], pings.unit[order]
            faults = rng.random((n, len(FAULTS))) < self.rates
            accuracy = np.clip(rng.lognormal(math.log(8.0), 0.5, n), 3.0, 30.0)
            bad_fix = faults[:, FAULTS.index("inaccurate")]
            accuracy = np.where(bad_fix, rng.uniform(150, 2000, n), accuracy)
            noise = rng.normal(0.0, 1.0, (2, n)) * accuracy / 2
            lon, lat = self.to_wgs84.transform(pings.x[order] + noise[0], pings.y[order] + noise[1])
            mode_draw = rng.random(n)
            modes = np.array([*MODES, ""], dtype=object)[
                np.where(
                    mode_draw < _MODE_MISSING_P,
                    len(MODES),  # ""
                    np.where(mode_draw < _MODE_MISSING_P + _MODE_UNKNOWN_P, UNKNOWN,
                             self.modes[unit]),
                )
            ]  # fmt: skip
            names = self.names
            rows = zip(
                range(n),
                ts.tolist(),
                np.datetime_as_string(
                    ts.astype(np.int64).astype("datetime64[s]"), timezone="UTC"
                ).tolist(),
                unit.tolist(),
                pings.counter[order].tolist(),
                np.round(lat, 6).tolist(),
                np.round(lon, 6).tolist(),
                modes.tolist(),
                np.round(accuracy, 1).tolist(),
                cast(list[bool], faults.any(axis=1).tolist()),
                strict=True,
            )
            for i, t, stamp, u, c, la, lo, mode, acc, faulty in rows:
                name = names[u]
                event = {
                    "event_id": f"{name}-{c}",
                    "unit": name,
                    "ts": stamp,
                    "lat": la,
                    "lon": lo,
                    "mode": mode,
                    "accuracy_m": acc,
                }
                if not mode:
                    del event["mode"]
                while heap and heap[0][0] <= t:
                    yield pop(heap)[2:]
                if faulty:
                    item = self._inject(event, u, t, faults[i])
                    if item is not None:
                        yield item
                else:
                    yield event, _CLEAN
            self.pings += n
        while heap and heap[0][0] < pings.until:
            yield pop(heap)[2:]

    def drain(self) -> Iterator[Labelled]:
        while self.heap:
            yield heapq.heappop(self.heap)[2:]

    def _inject(self, event: Event, unit: int, t: float, hits: np.ndarray) -> Labelled | None:
        """Apply one ping's faults; return it if due now, else queue it for later delivery."""
        rng = self.fault_rng
        labels = frozenset(name for name, hit in zip(FAULTS, hits.tolist(), strict=True) if hit)
        self.faults.update(labels)
        if "identifying" in labels:
            leak = self.identity[unit]
            for k in sorted(rng.choice(len(IDENTIFYING_FIELDS), rng.integers(1, 3), replace=False)):
                event[IDENTIFYING_FIELDS[k]] = leak[IDENTIFYING_FIELDS[k]]
        if "bad_coordinates" in labels:
            kind = int(rng.integers(4))
            if kind == 0:
                event["lat"] = event["lon"] = 0.0
            elif kind == 1:
                event["lat"] = round(float(rng.uniform(90.01, 95.0)), 6)
            elif kind == 2:
                event["lat"] = "NaN"
            else:  # swapped: a valid position, far away
                event["lat"], event["lon"] = event["lon"], event["lat"]
        if "missing_field" in labels:
            del event[_REQUIRED[int(rng.integers(len(_REQUIRED)))]]
        item: Event | str = event
        if "malformed" in labels:
            line = orjson.dumps(event).decode()
            item = line[: int(rng.integers(max(1, len(line) // 3), len(line) - 1))]
        delay = 0.0
        if "late" in labels:  # 5-150 min: some within the allowed hour, some beyond
            delay = float(rng.uniform(300.0, 9000.0))
        if "out_of_order" in labels:  # seconds to minutes
            delay = max(delay, math.exp(float(rng.uniform(math.log(2.0), math.log(300.0)))))
        if "duplicate" in labels:
            again = item if isinstance(item, str) else dict(item)
            self._push(t + delay + float(rng.uniform(0.0, 60.0)), again, labels)
            labels = labels - {"duplicate"}
        if delay:
            self._push(t + delay, item, labels)
            return None
        return item, labels

    def _push(self, due: float, item: Event | str, labels: frozenset[str]) -> None:
        heapq.heappush(self.heap, (due, next(self.seq), item, labels))
