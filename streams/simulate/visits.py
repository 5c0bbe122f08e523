"""Hot-spot visits: a nearby unit goes to a hot spot and stays 12-16 minutes.

The hot-spot trials prescribed short visits (Sacramento: 12-16 minutes, at
least every 2 hours). Each hot spot asks for visits at random, at its own pace
(some hot spots get more attention than others) and four times as often on
Friday and Saturday nights; the nearest free unit within reach of its mode goes,
stays, and takes up its patrol again. So some scheduled sessions are met and
some missed, as in a real force.

Visits draw from a random stream of their own, so a simulation without hot spots
is the same as it was before they existed.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from beatlight.streams.simulate.config import SimulationConfig

__all__ = ["Visits"]

_DWELL_S = (12 * 60.0, 16 * 60.0)
_PEAK = 4.0  # Friday and Saturday nights (20:00-02:00 local) ask for this many times more
_ATTENTION = (0.25, 1.5)  # a hot spot's share of the base rate, drawn once
_REACH_M = {"foot": 1500.0, "cycle": 3000.0, "vehicle": 8000.0}
_SPOT_M = 25.0  # a visit keeps within this of the hot spot's point (150 m hot spots)
_STREAM = 4  # the seed's child stream for visits; 0-3 plan, move and feed


class Visits:
    """Which unit is on its way to, or staying at, which hot spot."""

    def __init__(self, config: SimulationConfig, foot: np.ndarray, vehicle: np.ndarray) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(_STREAM,)))
        self.spots = np.asarray(config.hot_spots, dtype=np.float64).reshape(-1, 2)
        self.rate = config.hot_spot_visits_per_hour * self.rng.uniform(*_ATTENTION, len(self.spots))
        self.zone = ZoneInfo(config.timezone)
        n = foot.size
        self.reach = np.where(
            foot, _REACH_M["foot"], np.where(vehicle, _REACH_M["vehicle"], _REACH_M["cycle"])
        )
        self.spot = np.full(n, -1, np.int64)  # the hot spot a unit is visiting, or -1
        self.point = np.zeros((n, 2))  # where it stays
        self.until = np.full(n, np.inf)  # when it leaves (inf: still on its way)
        self.vehicle = vehicle

    @property
    def busy(self) -> np.ndarray:
        return self.spot >= 0

    def cancel(self, unit: int) -> None:
        """A unit's shift ended: its visit ends with it."""
        self.spot[unit] = -1

    def dispatch(self, t: float, dt: float, free: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Hot spots asking for a visit in [t, t + dt) get the nearest free unit in reach."""
        peak = _PEAK if _peak_night(datetime.fromtimestamp(t, self.zone)) else 1.0
        asking = self.rng.random(len(self.spots)) < 1.0 - np.exp(-self.rate * peak * dt / 3600)
        taken = np.zeros(len(self.spots), bool)
        taken[self.spot[self.busy]] = True
        free = free & ~self.busy
        for h in np.nonzero(asking & ~taken)[0].tolist():
            units = np.nonzero(free)[0]
            if units.size == 0:
                return
            far = np.hypot(x[units] - self.spots[h, 0], y[units] - self.spots[h, 1])
            near = far <= self.reach[units]
            if not near.any():
                continue
            unit = units[near][np.argmin(far[near])]
            angle, radius = self.rng.uniform(0, 2 * math.pi), self.rng.uniform(0, _SPOT_M)
            self.spot[unit], self.until[unit] = h, np.inf
            self.point[unit] = self.spots[h] + radius * np.array([math.cos(angle), math.sin(angle)])
            free[unit] = False

    def move(
        self, units: np.ndarray, t: float, dt: float, speed: np.ndarray, x: np.ndarray,
        y: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """Move visiting units (on their way, or staying); the units whose visit ended."""
        if units.size == 0:
            return units
        rng = self.rng
        going = units[np.isinf(self.until[units])]
        dx, dy = self.point[going, 0] - x[going], self.point[going, 1] - y[going]
        far = np.hypot(dx, dy)
        step = speed[going] * dt
        arrive = far <= step
        scale = np.where(arrive, 1.0, step / np.maximum(far, 1e-9))
        x[going] += dx * scale
        y[going] += dy * scale
        there = going[arrive]
        self.until[there] = t + rng.uniform(*_DWELL_S, there.size)
        staying = units[~np.isinf(self.until[units]) & (self.until[units] > t)]
        staying = staying[~np.isin(staying, there)]
        walkers = staying[~self.vehicle[staying]]  # on foot about the spot; vehicles parked
        jitter = rng.uniform(-_SPOT_M / 2, _SPOT_M / 2, (walkers.size, 2))
        x[walkers], y[walkers] = (self.point[walkers] + jitter).T
        done = units[self.until[units] <= t + dt]
        self.spot[done], self.until[done] = -1, np.inf
        return done


def _peak_night(local: datetime) -> bool:
    """Friday or Saturday night, 20:00-02:00 local time."""
    day, hour = local.weekday(), local.hour
    return (day in (4, 5) and hour >= 20) or (day in (5, 6) and hour < 2)
