"""Zone presence (SPEC Z1-Z3): accepted pings in, per-zone runs of unit-slots out.

A :class:`ZoneModel` takes the accepted pings of a set of units (a batch run, or
later the units of one stream lane) and keeps, per zone and unit, the runs of
slots in which the unit was present (rules 2 and 3 with the zone in place of the
ward). A ping is in every zone that covers it (Z1, :meth:`Zones.match`). Gap fill
joins two pings of a unit that are consecutive in its time order (``ts``, then
``event_id``) and both in the zone: a ping elsewhere in between breaks it, also
when that ping is in another zone.

Pings come in time order across calls (within a call, any order): the batch
report's sorted slabs give them so. The pings of the latest slot seen are held
back until a later slot arrives, so that every slot is handled whole (the mode of
a unit-slot is its earliest ping's, rule 3). State is arrays: each unit's last
ping (its time, mode and zones), the runs found so far and each zone's latest
ping. Units never span lanes, so lanes' results concatenate (:meth:`ZoneRuns.merge`).

:meth:`ZoneModel.finish` gives :class:`ZoneRuns`; :mod:`beatlight.streams.zone_figures`
turns them into the figures of windows, sessions and periods.

Long because :class:`ZoneModel` is one state machine: holding back the latest slot,
carrying each unit's last ping and its zones, and compacting runs share that state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Transformer

from beatlight.geo.zones import Zones
from beatlight.streams.events import FOOT
from beatlight.streams.presence import ModelParams, time_order
from beatlight.streams.runs import merge_runs
from beatlight.streams.sorting import group_first
from beatlight.times import NO_TIME

__all__ = ["ZoneConfig", "ZoneModel", "ZoneRuns"]

_COMPACT_ROWS = 2_000_000  # runs kept before they are merged


@dataclass(frozen=True)
class ZoneConfig:
    """The model's parameters and the time zone of schedules and periods.

    Built from ``Settings`` by :func:`beatlight.configs.zone_config`."""

    model: ModelParams
    timezone: str


@dataclass(frozen=True, eq=False)
class ZoneRuns:
    """Every zone's presence: merged runs ``[start, end)`` of slots.

    ``unit_*``: per (zone, unit), maximal (the visits of rule 6), sorted by zone,
    unit, start; ``unit`` numbers are the model's own. ``zone_*``: the union over
    units per zone, disjoint and sorted (present slots). ``foot_*``: the union of
    the foot unit-slots per zone. ``last_seen``: each zone's latest ping (NO_TIME).
    """

    unit_zone: np.ndarray
    unit: np.ndarray
    unit_start: np.ndarray
    unit_end: np.ndarray
    zone: np.ndarray
    start: np.ndarray
    end: np.ndarray
    foot_zone: np.ndarray
    foot_start: np.ndarray
    foot_end: np.ndarray
    last_seen: np.ndarray

    @staticmethod
    def build(
        unit_zone: np.ndarray,
        unit: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        foot: np.ndarray,
        last_seen: np.ndarray,
    ) -> ZoneRuns:
        """From unmerged unit runs (``foot``: bool per run) of units numbered apart."""
        units = int(unit.max()) + 1 if len(unit) else 1
        key, u_start, u_end = merge_runs(unit_zone * units + unit, start, end)
        z, z_start, z_end = merge_runs(unit_zone, start, end)
        f, f_start, f_end = merge_runs(unit_zone[foot], start[foot], end[foot])
        return ZoneRuns(key // units, key % units, u_start, u_end, z, z_start, z_end,
                        f, f_start, f_end, last_seen)  # fmt: skip

    @staticmethod
    def merge(parts: list[ZoneRuns]) -> ZoneRuns:
        """The runs of lanes holding disjoint sets of units (renumbered apart)."""
        sizes = [int(p.unit.max()) + 1 if len(p.unit) else 0 for p in parts]
        offsets = np.cumsum([0, *sizes])[:-1]

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts])

        unit = np.concatenate([p.unit + o for p, o in zip(parts, offsets, strict=True)])
        zone, start, end = cat("unit_zone"), cat("unit_start"), cat("unit_end")
        order = np.lexsort((start, unit, zone))
        return ZoneRuns(
            zone[order], unit[order], start[order], end[order],
            *merge_runs(zone, start, end),
            *merge_runs(cat("foot_zone"), cat("foot_start"), cat("foot_end")),
            np.maximum.reduce([p.last_seen for p in parts]),
        )  # fmt: skip


class ZoneModel:
    """Accepted pings, in time order, to :class:`ZoneRuns` (see the module docstring)."""

    def __init__(self, zones: Zones, params: ModelParams, *, from_us: int | None = None) -> None:
        """``from_us``: no figure will look at slots before this; earlier pings are in no
        zone (they still end a unit's previous pair), which spares matching them."""
        self.zones = zones
        self.params = params
        self.from_us = from_us
        self._to_metric = Transformer.from_crs("EPSG:4326", zones.metric_crs, always_xy=True)
        self._near = _near_cells(zones)
        self._units: dict[str, int] = {}
        self._pending = _empty_pings()
        # Each unit's last ping handled: time, mode and zones (padded with -1).
        self._last_ts = np.empty(0, dtype=np.int64)
        self._last_mode = np.empty(0, dtype=np.int8)
        self._last_zones = np.full((0, 1), -1, dtype=np.int32)
        self._runs: list[tuple[np.ndarray, ...]] = []
        self._rows = 0
        self._last_seen = np.full(len(zones), NO_TIME, dtype=np.int64)
        #: The earliest ping added (``None`` before any).
        self.first_us: int | None = None

    def add(
        self,
        unit: np.ndarray,
        ts_us: np.ndarray,
        event_id: np.ndarray,
        mode: np.ndarray,
        lon: np.ndarray,
        lat: np.ndarray,
    ) -> None:
        """Accepted, de-duplicated pings, none earlier than a ping of an earlier call."""
        if not len(ts_us):
            return
        earliest = int(np.min(ts_us))
        self.first_us = earliest if self.first_us is None else min(self.first_us, earliest)
        names, inverse = np.unique(np.asarray(unit, dtype=object), return_inverse=True)
        ids = self._units
        codes = np.fromiter((ids.setdefault(n, len(ids)) for n in names), np.int64, len(names))
        new = {
            "unit": codes[inverse],
            "ts": np.asarray(ts_us, dtype=np.int64),
            "eid": np.asarray(event_id, dtype=object),
            "mode": np.asarray(mode, dtype=np.int8),
            "lon": np.asarray(lon, dtype=np.float64),
            "lat": np.asarray(lat, dtype=np.float64),
        }
        pings = {k: np.concatenate([self._pending[k], v]) for k, v in new.items()}
        slot = pings["ts"] // self.params.slot_us
        hold = slot == slot.max()
        self._pending = {k: v[hold] for k, v in pings.items()}
        self._handle({k: v[~hold] for k, v in pings.items()})

    def finish(self) -> ZoneRuns:
        """Everything added, as runs (the model can take no more pings after this)."""
        self._handle(self._pending)
        self._pending = _empty_pings()
        self._compact()
        if self._runs:
            zone, unit, start, end, foot = self._runs[0]
        else:
            zone = unit = start = end = np.empty(0, dtype=np.int64)
            foot = np.empty(0, dtype=bool)
        return ZoneRuns.build(zone, unit, start, end, foot, self._last_seen.copy())

    def copy(self) -> ZoneModel:
        """An independent model in the same state (the stream's hour figures finish one)."""
        twin = object.__new__(ZoneModel)
        twin.__dict__.update(self.__dict__)
        twin._units = dict(self._units)
        twin._pending = dict(self._pending)
        twin._last_ts, twin._last_mode = self._last_ts.copy(), self._last_mode.copy()
        twin._last_zones, twin._last_seen = self._last_zones.copy(), self._last_seen.copy()
        twin._runs = list(self._runs)
        return twin

    def forget(self, before_slot: int) -> None:
        """Drop runs ending at or before ``before_slot`` (no figure to come reaches them)."""
        self._compact(force=True)
        if self._runs:
            keep = self._runs[0][3] > before_slot
            self._runs = [tuple(c[keep] for c in self._runs[0])]
            self._rows = int(keep.sum())

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A JSON-ready header and named arrays to resume from (lane checkpoints)."""
        self._compact(force=True)
        runs = self._runs[0] if self._runs else _no_runs()
        arrays = {f"zone_pending_{k}": _storable(v) for k, v in self._pending.items()}
        arrays |= {f"zone_runs_{i}": c for i, c in enumerate(runs)}
        arrays |= {
            "zone_last_ts": self._last_ts,
            "zone_last_mode": self._last_mode,
            "zone_last_zones": self._last_zones,
            "zone_last_seen": self._last_seen,
        }
        header = {"units": list(self._units), "first_us": self.first_us, "from_us": self.from_us}
        return header, arrays

    @classmethod
    def from_state(
        cls, zones: Zones, params: ModelParams, header: dict[str, Any],
        arrays: dict[str, np.ndarray],
    ) -> ZoneModel:  # fmt: skip
        """The model :meth:`state` described (with the same zones and parameters)."""
        if arrays["zone_last_seen"].shape != (len(zones),):
            raise ValueError("the checkpoint's zones differ from these zones")
        model = cls(zones, params, from_us=header["from_us"])
        model._units = {name: i for i, name in enumerate(header["units"])}
        model.first_us = header["first_us"]
        model._pending = {k: arrays[f"zone_pending_{k}"] for k in _empty_pings()}
        for k in ("unit", "eid"):
            model._pending[k] = model._pending[k].astype(_empty_pings()[k].dtype)
        model._runs = [tuple(arrays[f"zone_runs_{i}"] for i in range(5))]
        model._rows = len(model._runs[0][0])
        model._last_ts, model._last_mode = arrays["zone_last_ts"], arrays["zone_last_mode"]
        model._last_zones, model._last_seen = arrays["zone_last_zones"], arrays["zone_last_seen"]
        return model

    # -- internals ----------------------------------------------------------------------

    def _handle(self, pings: dict[str, np.ndarray]) -> None:
        """Pings of whole slots, later than every slot handled before."""
        n = len(pings["ts"])
        if not n:
            return
        self._grow(len(self._units))
        S = self.params.slot_us
        # This batch's pings after each unit's last ping from before (if in some zone).
        seen = np.unique(pings["unit"])
        carry = seen[(self._last_zones[seen, 0] >= 0) & (self._last_ts[seen] != NO_TIME)]
        unit = np.concatenate([carry, pings["unit"]])
        ts = np.concatenate([self._last_ts[carry], pings["ts"]])
        eid = np.concatenate([np.full(len(carry), "", dtype=object), pings["eid"]])
        mode = np.concatenate([self._last_mode[carry], pings["mode"]])
        is_new = np.concatenate([np.zeros(len(carry), bool), np.ones(n, bool)])
        hit_point, hit_zone = self._match(pings)
        c_row, c_col = np.nonzero(self._last_zones[carry] >= 0)
        point = np.concatenate([c_row, hit_point + len(carry)])
        zone = np.concatenate([self._last_zones[carry][c_row, c_col], hit_zone]).astype(np.int64)

        order = time_order(unit, ts, eid)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        unit, ts, mode, is_new = unit[order], ts[order], mode[order], is_new[order]
        n_zones = max(len(self.zones), 1)
        key = rank[point] * n_zones + zone
        key.sort()
        pos, zone = key // n_zones, key % n_zones
        slot = ts // S

        # Rule 2, direct: the slot of each ping in the zone, with the earliest ping's mode.
        direct = np.flatnonzero(is_new[pos])
        first = direct[group_first([unit[pos[direct]], zone[direct], slot[pos[direct]]])]
        d_pos = pos[first]
        runs = [(zone[first], unit[d_pos], slot[d_pos], slot[d_pos] + 1, mode[d_pos] == FOOT)]
        np.maximum.at(self._last_seen, zone[direct], ts[pos[direct]])

        # Rule 2, fill: the previous ping of the unit is in the same zone, 0 < dt <= G.
        prev = pos - 1
        j = np.searchsorted(key, prev * n_zones + zone)
        j = np.minimum(j, len(key) - 1)
        paired = (prev >= 0) & (key[j] == prev * n_zones + zone) & is_new[pos]
        paired[paired] &= unit[prev[paired]] == unit[pos[paired]]
        both = np.flatnonzero(paired)
        p, q = prev[both], pos[both]
        dt = ts[q] - ts[p]
        fill = (dt > 0) & (dt <= self.params.gap_us) & (slot[q] - slot[p] > 1)
        p, q, z = p[fill], q[fill], zone[both][fill]
        runs.append((z, unit[q], slot[p] + 1, slot[q], mode[p] == FOOT))

        cat = [np.concatenate(c) for c in zip(*runs, strict=True)]
        if self.from_us is not None:
            cat[2] = np.maximum(cat[2], self.from_us // S)
            keep = cat[3] > cat[2]
            cat = [c[keep] for c in cat]
        self._runs.append((cat[0], cat[1].astype(np.int64), cat[2], cat[3], cat[4]))
        self._rows += len(cat[0])
        if self._rows > _COMPACT_ROWS:
            self._compact()
        self._remember_last(unit, ts, mode, pos, zone)

    def _match(self, pings: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(ping, zone) pairs of the zones covering each ping (Z1)."""
        rows = np.arange(len(pings["ts"]))
        if self.from_us is not None:
            rows = rows[pings["ts"] >= self.from_us]
        if not len(rows) or not len(self.zones):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        # Only pings in a grid cell near some zone are projected and matched.
        rows = rows[_is_near(self._near, pings["lon"][rows], pings["lat"][rows])]
        x, y = self._to_metric.transform(pings["lon"][rows], pings["lat"][rows])
        hits = self.zones.match(x, y)
        return rows[hits.points()], hits.zones.astype(np.int64)

    def _remember_last(self, unit: np.ndarray, ts: np.ndarray, mode: np.ndarray,
                       pos: np.ndarray, zone: np.ndarray) -> None:  # fmt: skip
        """Each unit's last ping of this batch becomes its last ping (rows in unit order)."""
        last = np.flatnonzero(np.append(unit[1:] != unit[:-1], True))
        units = unit[last]
        self._last_ts[units] = ts[last]
        self._last_mode[units] = mode[last]
        is_last = np.zeros(len(unit), dtype=bool)
        is_last[last] = True
        mine = np.flatnonzero(is_last[pos])
        width = int(np.bincount(pos[mine]).max()) if len(mine) else 1
        if width > self._last_zones.shape[1]:
            pad = np.full((len(self._last_zones), width - self._last_zones.shape[1]), -1, np.int32)
            self._last_zones = np.hstack([self._last_zones, pad])
        self._last_zones[units] = -1
        column = np.arange(len(mine)) - np.searchsorted(pos[mine], pos[mine])
        self._last_zones[unit[pos[mine]], column] = zone[mine]

    def _grow(self, n_units: int) -> None:
        more = n_units - len(self._last_ts)
        if more > 0:
            self._last_ts = np.append(self._last_ts, np.full(more, NO_TIME, dtype=np.int64))
            self._last_mode = np.append(self._last_mode, np.zeros(more, dtype=np.int8))
            pad = np.full((more, self._last_zones.shape[1]), -1, dtype=np.int32)
            self._last_zones = np.vstack([self._last_zones, pad])

    def _compact(self, *, force: bool = False) -> None:
        """Merge the runs found so far per (zone, unit, foot): touching runs become one."""
        if len(self._runs) <= 1 and (force or self._rows <= _COMPACT_ROWS):
            return
        zone, unit, start, end, foot = (np.concatenate(c) for c in zip(*self._runs, strict=True))
        units = int(unit.max()) + 1 if len(unit) else 1
        group = (zone * units + unit) * 2 + foot
        group, start, end = merge_runs(group, start, end)
        foot = (group % 2).astype(bool)
        group //= 2
        self._runs = [(group // units, group % units, start, end, foot)]
        self._rows = len(start)


_CELL_DEG = 0.002  # about 140 m north-south: the prefilter's grid in EPSG:4326


def _near_cells(zones: Zones) -> np.ndarray:
    """Sorted keys of the lon/lat grid cells within one cell of a zone's bounding box."""
    keys = []
    for x0, y0, x1, y1 in zones.geometry.bounds.to_numpy():
        cx = np.arange(np.floor(x0 / _CELL_DEG) - 1, np.floor(x1 / _CELL_DEG) + 2)
        cy = np.arange(np.floor(y0 / _CELL_DEG) - 1, np.floor(y1 / _CELL_DEG) + 2)
        gx, gy = np.meshgrid(cx.astype(np.int64), cy.astype(np.int64))
        keys.append((gx * 1_000_000 + gy).ravel())
    return np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)


def _is_near(near: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    key = (np.floor(lon / _CELL_DEG).astype(np.int64) * 1_000_000
           + np.floor(lat / _CELL_DEG).astype(np.int64))  # fmt: skip
    at = np.minimum(np.searchsorted(near, key), max(len(near) - 1, 0))
    return (near[at] == key) if len(near) else np.zeros(len(key), dtype=bool)


def _no_runs() -> tuple[np.ndarray, ...]:
    empty = np.empty(0, dtype=np.int64)
    return empty, empty, empty, empty, np.empty(0, dtype=bool)


def _storable(column: np.ndarray) -> np.ndarray:
    """Object columns (event ids) as fixed-width text: checkpoints load without pickle."""
    return column.astype(str) if column.dtype == object else column


def _empty_pings() -> dict[str, np.ndarray]:
    return {
        "unit": np.empty(0, dtype=np.int64),
        "ts": np.empty(0, dtype=np.int64),
        "eid": np.empty(0, dtype=object),
        "mode": np.empty(0, dtype=np.int8),
        "lon": np.empty(0, dtype=np.float64),
        "lat": np.empty(0, dtype=np.float64),
    }
