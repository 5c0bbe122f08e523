"""Movement: every unit's position and duty state, advanced one tick at a time.

Shifts with breaks and radio silences; foot units walk their ward, cycles and vehicles
head for targets, and any may be sent to a hot spot for a while (:mod:`.visits`). All
units move at once per tick, in the wards' metric CRS.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from beatlight.streams.events import FOOT, VEHICLE
from beatlight.streams.simulate.config import SimulationConfig
from beatlight.streams.simulate.roster import POOL, Area, Roster
from beatlight.streams.simulate.visits import Visits

__all__ = ["Patrol", "Pings"]

_SHIFT_START_H = np.array([7.0, 15.0, 22.0])  # nominal starts (UTC), staggered per shift
_REST_DAY_P = 0.25
_MAX_OFF = 4  # off-air intervals per shift: one break and up to three radio silences
# Units move in ticks; pings fall between tick positions (interpolated), so the
# tick sets the cost, not the ping rate. A minute is 84 m on foot, 0.5-0.9 km by car.
_TICK_S = 60.0
_BATCH_S = 300.0
_EXCURSION_P = 0.08  # a foot unit meeting its ward's edge steps over instead of turning


@dataclass
class Pings:
    ts: np.ndarray  # epoch seconds
    unit: np.ndarray
    counter: np.ndarray
    x: np.ndarray
    y: np.ndarray
    until: float  # every later ping has ts >= until


class Patrol:
    """The roster's movement and duty state, advanced one tick at a time for all units."""

    def __init__(
        self, area: Area, roster: Roster, config: SimulationConfig, rng: np.random.Generator
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
        self.visits = Visits(config, self.foot, self.vehicle) if config.hot_spots else None
        for u in range(n):
            while self.shift_end[u] <= self.begin:
                self._next_shift(u)

    def batches(self) -> Iterator[Pings]:
        t = self.begin
        while t < self.end:
            until = min(t + _BATCH_S, self.end)
            parts = []
            while t < until:
                t_end = min(t + _TICK_S, until)
                parts.append(self._step(t, t_end))
                t = t_end
            ts, unit, counter, x, y = (np.concatenate(col) for col in zip(*parts, strict=True))
            yield Pings(ts, unit, counter, x, y, until)

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
        if self.visits is not None:
            moving = self._visit(moving, t, t_end - t)
        self._walk(np.nonzero(moving & self.foot)[0], t, t_end - t)
        self._drive(np.nonzero(moving & ~self.foot)[0], t, t_end - t)
        return self._pings(t, t_end, x0, y0)

    def _visit(self, moving: np.ndarray, t: float, dt: float) -> np.ndarray:
        """Send units to hot spots and move those visiting; the units left to patrol."""
        visits = self.visits
        assert visits is not None
        visits.dispatch(t, dt, moving & (self.hold_until <= t), self.x, self.y)
        visiting = moving & visits.busy
        done = visits.move(np.nonzero(visiting)[0], t, dt, self.speed, self.x, self.y)
        # Back to the beat: foot units head home, the others pick a target.
        walkers = done[self.foot[done]]
        self.inside[walkers] = shapely.contains_xy(
            self.area.geoms[self.ward[walkers]], self.x[walkers], self.y[walkers]
        )
        self._retarget(done[~self.foot[done]])
        return moving & ~visiting

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
        if self.visits is not None:
            self.visits.cancel(u)

    def _place(self, units: np.ndarray, t: float) -> None:
        if units.size == 0:
            return
        rng, roster = self.rng, self.roster
        k = self.shift_no[units] % roster.beat_len[units]
        self.ward[units] = roster.beat[units, k]
        self.shift_no[units] += 1
        # Foot and cycle units are dropped off in their ward; vehicles leave the station.
        here = self.area.pool[self.ward[units], rng.integers(0, POOL, units.size)]
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
        self.tx[units], self.ty[units] = area.pool[ward, rng.integers(0, POOL, n)].T
        speed = np.where(self.vehicle[units], rng.uniform(8, 15, n), self.speed[units])
        self.speed[units] = speed
