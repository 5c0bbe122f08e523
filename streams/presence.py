"""The presence model (SPEC rules 2-8): pure, incremental, bounded.

A :class:`PresenceLane` holds the state of one lane of accepted pings (a batch
run, or the units of one Kafka partition). Pings are added in any order within
the allowed lateness; :meth:`PresenceLane.partial` answers "metrics as of T" as a
:class:`Partial`, which lanes can merge (units never span lanes) and
:mod:`beatlight.streams.metrics` turns into figures.

State has two tiers:

* a **buffer** of each unit's recent pings, whose unit-slots can still change
  (a late ping can add presence, or split a gap-filled pair, rule 2);
* **final** runs of unit-slots per area and unit, per-area runs of foot slots,
  and the latest ping per (ward, cell) and per ward, for slots that no
  admissible ping can change any more.

:meth:`PresenceLane.finalise` moves slots from the first tier to the second; the
driver calls it with the watermark minus the allowed lateness minus G, the
point before which no accepted ping can alter a slot. :meth:`PresenceLane.expire`
forgets runs older than the longest window. Memory is therefore of the order of
units × recent pings plus areas × units × visits-in-28-days plus wards × cells,
and levels off as time passes.

Long because :class:`PresenceLane` is one state machine: adding, finalising, expiring
and answering all keep the same two tiers consistent, so they read best together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from beatlight.geo.areas import Areas
from beatlight.streams.events import FOOT
from beatlight.streams.runs import AreaRuns, RunStore, UnitRuns, union_later
from beatlight.streams.sorting import group_first, lexsort, sorted_unique
from beatlight.windows import WINDOW_SECONDS

if TYPE_CHECKING:
    from beatlight.streams.zones import ZoneRuns

__all__ = ["FinalDelta", "ModelParams", "Partial", "PresenceLane", "time_order", "unit_slot_runs"]

_NONE = np.iinfo(np.int64).min
#: The buffer's numeric columns, as :meth:`PresenceLane.state` names its arrays.
_BUFFER_NUMERIC = ("unit", "ts", "ward", "mode", "cell", "final")


@dataclass(frozen=True)
class ModelParams:
    """The SPEC's settings that the model needs, in microseconds and slots.

    Built from ``Settings`` by :func:`beatlight.configs.model_params`, where the
    defaults are declared."""

    slot_us: int
    gap_us: int
    koper_slots: int
    windows: tuple[tuple[str, int], ...] = tuple(WINDOW_SECONDS.items())

    @property
    def longest_window_us(self) -> int:
        return max(seconds for _, seconds in self.windows) * 1_000_000

    def window_slots(self, as_of_us: int) -> list[tuple[str, int, int]]:
        """``(name, first, end)`` slots of each window: slot s is in iff as_of-W <= s*S < as_of."""
        end = -((-as_of_us) // self.slot_us)
        return [
            (name, -((-(as_of_us - seconds * 1_000_000)) // self.slot_us), end)
            for name, seconds in self.windows
        ]


@dataclass
class Partial:
    """Mergeable figures of one lane as of ``as_of_us`` (see :meth:`merge`)."""

    as_of_us: int
    unit_slots: np.ndarray  # int64 (windows, areas): present unit-slots
    distinct_units: np.ndarray  # int64 (windows, areas)
    visits: np.ndarray  # int64 (windows, areas)
    koper_visits: np.ndarray  # int64 (windows, areas)
    present: AreaRuns  # merged per area
    foot: AreaRuns  # merged per area
    covered: np.ndarray  # bool (windows, ward-cell pairs): a ping of the ward in that cell
    stray: tuple[np.ndarray, ...]  # per window: ward * n_cells + cell keys outside the ward's cells
    ward_last_seen: np.ndarray  # int64 per ward, _NONE when never
    outside: int
    accepted: int
    #: ``None``: ``present``/``foot`` are complete. Otherwise they hold only slots from
    #: here on, and the final runs before it travel separately (see streams.aggregate).
    final_slot: int | None = None
    #: A stream lane with zones: its zone runs as of ``as_of_us`` (streams.zone_lane).
    zones: ZoneRuns | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays."""
        arrays = [
            self.unit_slots, self.distinct_units, self.visits, self.koper_visits,
            self.covered, self.ward_last_seen, *self.present, *self.foot, *self.stray,
        ]  # fmt: skip
        return sum(a.nbytes for a in arrays)

    @staticmethod
    def merge(parts: list[Partial]) -> Partial:
        """Combine complete partials of lanes holding disjoint sets of units, as of one time."""
        if len({p.as_of_us for p in parts}) != 1:
            raise ValueError("partials to merge must share as_of")
        if any(p.final_slot is not None for p in parts):
            raise ValueError("only complete partials merge here; see streams.aggregate")
        if len(parts) == 1:
            return parts[0]
        return Partial(
            as_of_us=parts[0].as_of_us,
            unit_slots=sum(p.unit_slots for p in parts),
            distinct_units=sum(p.distinct_units for p in parts),
            visits=sum(p.visits for p in parts),
            koper_visits=sum(p.koper_visits for p in parts),
            present=AreaRuns.concat(p.present for p in parts).merged(),
            foot=AreaRuns.concat(p.foot for p in parts).merged(),
            covered=np.logical_or.reduce([p.covered for p in parts]),
            stray=tuple(
                sorted_unique(np.concatenate(keys))
                for keys in zip(*(p.stray for p in parts), strict=True)
            ),
            ward_last_seen=np.maximum.reduce([p.ward_last_seen for p in parts]),
            outside=sum(p.outside for p in parts),
            accepted=sum(p.accepted for p in parts),
        )


@dataclass
class FinalDelta:
    """Per-area union runs of the slots in ``[from_slot, to_slot)`` that just became final."""

    from_slot: int | None  # None: from the beginning
    to_slot: int
    present: AreaRuns
    foot: AreaRuns


class PresenceLane:
    """Accepted pings of a set of units → mergeable figures as of any time."""

    def __init__(self, areas: Areas, params: ModelParams) -> None:
        self.areas = areas
        self.params = params
        self._units: dict[str, int] = {}
        self._chunks: list[dict[str, np.ndarray]] = []
        self._buffer: dict[str, np.ndarray] = _empty_buffer()
        n_wards = areas.n_wards
        # Final tier.
        self._final_slot: int | None = None  # slots < this are final
        self._present = RunStore(UnitRuns.empty())  # one run per visit
        self._foot = RunStore(AreaRuns.empty())
        self._expired_slot: int | None = None
        self._ward_cell_keys = areas.ward_cell_keys
        self._cell_latest = np.full(len(self._ward_cell_keys), _NONE, dtype=np.int64)
        self._stray_cells: dict[int, int] = {}  # (ward, cell) outside the ward's own cells
        self._ward_last = np.full(n_wards, _NONE, dtype=np.int64)
        self._outside = 0
        self._accepted = 0

    # -- intake ---------------------------------------------------------------------

    @property
    def earliest_admissible_us(self) -> int | None:
        """Pings older than this could change final slots and must not be added."""
        if self._final_slot is None:
            return None
        return self._final_slot * self.params.slot_us + self.params.gap_us

    def add(
        self,
        unit: np.ndarray,
        ts_us: np.ndarray,
        event_id: np.ndarray,
        ward: np.ndarray,
        mode: np.ndarray,
        cell: np.ndarray,
    ) -> None:
        """Add accepted, de-duplicated pings with their ward (-1 outside) and cell (-1 none)."""
        if len(ts_us) == 0:
            return
        floor = self.earliest_admissible_us
        if floor is not None and int(np.min(ts_us)) < floor:
            raise ValueError("ping older than the finalised horizon: finalise less eagerly")
        ids = self._units
        unit_idx = np.fromiter((ids.setdefault(u, len(ids)) for u in unit), np.int64, len(unit))
        self._chunks.append(
            {
                "unit": unit_idx,
                "ts": np.asarray(ts_us, dtype=np.int64),
                "eid": np.asarray(event_id, dtype=object),
                "ward": np.asarray(ward, dtype=np.int32),
                "mode": np.asarray(mode, dtype=np.int8),
                "cell": np.asarray(cell, dtype=np.int64),
                "final": np.zeros(len(ts_us), dtype=bool),
            }
        )

    # -- finalisation -----------------------------------------------------------------

    def finalise(self, before_us: int) -> FinalDelta | None:
        """Make every slot that ends by ``before_us`` final and drop the pings no longer needed.

        Returns what became final, per area (``None`` when nothing moved): a stream
        worker sends it to the aggregator once, instead of re-sending all runs.
        """
        slot_us = self.params.slot_us
        new_final = before_us // slot_us
        if self._final_slot is not None and new_final <= self._final_slot:
            return None
        buf = self._sorted_buffer()
        lo = self._final_slot
        area, unit, start, end, foot = _area_runs(
            self.areas, unit_slot_runs(buf, self.params, lo=lo, hi=new_final)
        )
        self._present.append(UnitRuns(area, unit, start, end))
        self._foot.append(AreaRuns(area[foot], start[foot], end[foot]))
        delta = FinalDelta(
            from_slot=lo,
            to_slot=new_final,
            present=AreaRuns(area, start, end).merged(),
            foot=AreaRuns(area[foot], start[foot], end[foot]).merged(),
        )

        old = (buf["ts"] < new_final * slot_us) & ~buf["final"]
        self._absorb_pings({k: v[old] for k, v in buf.items()})
        buf["final"] |= old

        # Keep what slots >= new_final still need: their pings, and each unit's
        # last earlier ping, which may gap-fill into them (rule 2).
        keep = buf["ts"] >= new_final * slot_us
        earlier = ~keep
        last_earlier = np.zeros(len(keep), dtype=bool)
        if earlier.any():
            idx = np.flatnonzero(earlier)
            u = buf["unit"][idx]
            is_last = np.ones(len(idx), dtype=bool)
            is_last[:-1] = u[1:] != u[:-1]  # rows are sorted by unit, then time
            last_earlier[idx[is_last]] = True
        # An earlier ping more than G before the horizon can no longer pair with anything.
        last_earlier &= buf["ts"] >= new_final * slot_us - self.params.gap_us
        self._buffer = {k: v[keep | last_earlier] for k, v in buf.items()}
        self._final_slot = new_final
        return delta

    def expire(self, before_us: int) -> None:
        """Forget final runs that end before ``before_us``: no window can reach them."""
        cut = before_us // self.params.slot_us
        hour = 3_600_000_000 // self.params.slot_us
        if self._expired_slot is not None and cut - self._expired_slot < hour:
            return  # amortised: once per hour of event time
        # A run ending exactly at cut stays: it decides whether slot cut starts a visit.
        self._present.drop_before(cut)
        self._foot.drop_before(cut)
        self._expired_slot = cut
        self._forget_idle_units()

    # -- answers ------------------------------------------------------------------------

    def partial(self, as_of_us: int, *, sent_slot: int | None = None,
                complete: bool = True) -> Partial:  # fmt: skip
        """Mergeable figures as of ``as_of_us``: pings at or after it are ignored (rule 9).

        With ``complete=False`` the presence runs cover only the slots from
        ``sent_slot`` on: the final runs before it were handed to the aggregator.
        """
        floor = self.earliest_admissible_us
        if floor is not None and as_of_us < floor:
            raise ValueError("as_of is earlier than the finalised state allows")
        params = self.params
        buf = self._sorted_buffer()
        before = buf["ts"] < as_of_us
        recent = {k: v[before] for k, v in buf.items()}
        area, unit, start, end, is_foot = _area_runs(
            self.areas, unit_slot_runs(recent, params, lo=self._final_slot, hi=None)
        )
        present = union_later(self._present.runs(), UnitRuns(area, unit, start, end))
        foot = AreaRuns.concat((self._foot.runs(), AreaRuns(area[is_foot], start[is_foot],
                                                            end[is_foot])))  # fmt: skip

        windows = params.window_slots(as_of_us)
        n_areas = len(self.areas)
        shape = (len(windows), n_areas)
        unit_slots = np.zeros(shape, dtype=np.int64)
        distinct = np.zeros(shape, dtype=np.int64)
        visits = np.zeros(shape, dtype=np.int64)
        koper = np.zeros(shape, dtype=np.int64)
        area, unit, start, end = present
        for i, (_, lo, hi) in enumerate(windows):
            # Windows share their end, so a window holds the runs that end after its
            # first slot: most runs for 28 days, a few for the last hour. Taking those
            # first makes the four windows about one pass over the runs, not four.
            rows = np.flatnonzero((end > lo) & (start < hi))
            a, u, s, e = area[rows], unit[rows], start[rows], end[rows]
            inside = np.minimum(e, hi) - np.maximum(s, lo)
            unit_slots[i] = np.bincount(a, weights=inside, minlength=n_areas)
            # Runs are sorted by (area, unit): each pair's first run in the window counts it.
            first = np.ones(len(rows), dtype=bool)
            np.logical_or(a[1:] != a[:-1], u[1:] != u[:-1], out=first[1:])
            distinct[i] = np.bincount(a[first], minlength=n_areas)
            begins = s >= lo  # a visit belongs to its first slot's window
            visits[i] = np.bincount(a[begins], minlength=n_areas)
            koper[i] = np.bincount(a[begins & (e - s >= params.koper_slots)], minlength=n_areas)

        horizon = min(lo for _, lo, _ in windows)
        if not complete and sent_slot is not None:
            horizon = max(horizon, sent_slot)
        # Only runs reaching past the horizon travel: cutting first spares merging the
        # weeks of final runs that an incomplete partial leaves to the aggregator.
        merged = present.by_area().clipped(horizon).merged()
        latest, stray_keys, stray_latest = self._cells_as_of(recent)
        starts = np.array([lo * params.slot_us for _, lo, _ in windows], dtype=np.int64)
        ward_last = self._ward_last.copy()
        in_ward = recent["ward"] >= 0
        np.maximum.at(ward_last, recent["ward"][in_ward], recent["ts"][in_ward])
        fresh = ~recent["final"]
        return Partial(
            as_of_us=as_of_us,
            unit_slots=unit_slots,
            distinct_units=distinct,
            visits=visits,
            koper_visits=koper,
            present=merged,
            foot=foot.clipped(horizon).merged(),
            covered=latest[None, :] >= starts[:, None],
            stray=tuple(stray_keys[stray_latest >= start] for start in starts),
            ward_last_seen=ward_last,
            outside=self._outside + int(np.count_nonzero(fresh & ~in_ward)),
            accepted=self._accepted + int(np.count_nonzero(fresh)),
            final_slot=None if complete else sent_slot,
        )

    def counts_before(self, as_of_us: int) -> tuple[int, int]:
        """``(outside, accepted)``: the pings before ``as_of_us``, as :meth:`partial` counts
        them (for an hour a lane skips, having no ping that reaches it)."""
        outside, accepted = self._outside, self._accepted
        for part in (self._buffer, *self._chunks):
            fresh = (part["ts"] < as_of_us) & ~part["final"]
            accepted += int(np.count_nonzero(fresh))
            outside += int(np.count_nonzero(fresh & (part["ward"] < 0)))
        return outside, accepted

    def state_size(self) -> dict[str, int]:
        """Row counts of each part of the state, for logs and memory tests."""
        return {
            "units": len(self._units),
            "buffered_pings": len(self._buffer["ts"]) + sum(len(c["ts"]) for c in self._chunks),
            "present_runs": self._present.rows,
            "foot_runs": self._foot.rows,
            "stray_cells": len(self._stray_cells),
        }

    def final_runs(self) -> FinalDelta | None:
        """Every final run held, merged per area (``None`` while no slot is final)."""
        if self._final_slot is None:
            return None
        present = self._present.runs().by_area().merged()
        return FinalDelta(None, self._final_slot, present, self._foot.runs())

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Everything needed to resume (checkpoints): a JSON-ready header and named arrays."""
        buffer = self._sorted_buffer()
        header = {
            "units": self._units,
            "final_slot": self._final_slot,
            "expired_slot": self._expired_slot,
            "outside": self._outside,
            "accepted": self._accepted,
            "stray": [[int(k), int(v)] for k, v in self._stray_cells.items()],
            "buffer_eid": buffer["eid"].tolist(),
        }
        arrays = {f"buffer_{k}": buffer[k] for k in _BUFFER_NUMERIC}
        arrays |= {f"present_{i}": column for i, column in enumerate(self._present.runs())}
        arrays |= {f"foot_{i}": column for i, column in enumerate(self._foot.runs())}
        arrays |= {"cell_latest": self._cell_latest, "ward_last": self._ward_last}
        return header, arrays

    @classmethod
    def from_state(
        cls,
        areas: Areas,
        params: ModelParams,
        header: dict[str, Any],
        arrays: dict[str, np.ndarray],
    ) -> PresenceLane:
        """The lane :meth:`state` described (for the same areas and parameters)."""
        lane = cls(areas, params)
        lane._units = dict(header["units"])
        lane._final_slot = header["final_slot"]
        lane._expired_slot = header["expired_slot"]
        lane._outside = header["outside"]
        lane._accepted = header["accepted"]
        lane._stray_cells = {k: v for k, v in header["stray"]}
        buffer = {k: arrays[f"buffer_{k}"] for k in _BUFFER_NUMERIC}
        buffer["eid"] = np.array(header["buffer_eid"], dtype=object)
        lane._buffer = buffer
        lane._present.replace(UnitRuns(*(arrays[f"present_{i}"] for i in range(4))))
        lane._foot.replace(AreaRuns(*(arrays[f"foot_{i}"] for i in range(3))))
        lane._cell_latest = arrays["cell_latest"]
        lane._ward_last = arrays["ward_last"]
        return lane

    # -- internals ----------------------------------------------------------------------

    def _sorted_buffer(self) -> dict[str, np.ndarray]:
        """The buffer sorted by unit, then (ts, event_id): each unit's time order (rule 2)."""
        if self._chunks:
            parts = [self._buffer, *self._chunks]
            buf = {k: np.concatenate([p[k] for p in parts]) for k in self._buffer}
            self._chunks = []
            order = time_order(buf["unit"], buf["ts"], buf["eid"])
            self._buffer = {k: v[order] for k, v in buf.items()}
        return self._buffer

    def _absorb_pings(self, pings: dict[str, np.ndarray]) -> None:
        """Fold pings leaving the buffer into the per-ping final figures."""
        self._accepted += len(pings["ts"])
        in_ward = pings["ward"] >= 0
        self._outside += int(np.count_nonzero(~in_ward))
        ward, ts, cell = pings["ward"][in_ward], pings["ts"][in_ward], pings["cell"][in_ward]
        np.maximum.at(self._ward_last, ward, ts)
        known, pos, stray_key, stray_ts = self._locate_cells(ward, cell, ts)
        np.maximum.at(self._cell_latest, pos, ts[known])
        for key, t in zip(stray_key.tolist(), stray_ts.tolist(), strict=True):
            if t > self._stray_cells.get(key, _NONE):
                self._stray_cells[key] = t

    def _locate_cells(
        self, ward: np.ndarray, cell: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Split pings into those in one of their ward's cells (with its slot) and strays."""
        has_cell = cell >= 0
        key = ward.astype(np.int64) * self.areas.n_cells + cell
        pos = np.searchsorted(self._ward_cell_keys, key)
        pos_ok = np.minimum(pos, max(len(self._ward_cell_keys) - 1, 0))
        known = has_cell & (len(self._ward_cell_keys) > 0)
        if len(self._ward_cell_keys):
            known &= self._ward_cell_keys[pos_ok] == key
        stray = has_cell & ~known
        return known, pos[known], key[stray], ts[stray]

    def _cells_as_of(
        self, recent: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Latest ping per ward-cell pair and per stray (ward, cell) key: final tier and buffer."""
        in_ward = recent["ward"] >= 0
        ward, ts, cell = recent["ward"][in_ward], recent["ts"][in_ward], recent["cell"][in_ward]
        known, pos, stray_key, stray_ts = self._locate_cells(ward, cell, ts)
        latest = self._cell_latest.copy()
        np.maximum.at(latest, pos, ts[known])
        keys, times = [stray_key], [stray_ts]
        if self._stray_cells:
            keys.append(np.fromiter(self._stray_cells.keys(), np.int64))
            times.append(np.fromiter(self._stray_cells.values(), np.int64))
        uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        best = np.full(len(uniq), _NONE, dtype=np.int64)
        np.maximum.at(best, inverse, np.concatenate(times))
        return latest, uniq, best

    def _forget_idle_units(self) -> None:
        """Renumber units so pseudonyms rotated away by the feed do not pile up."""
        self._sorted_buffer()
        in_use = sorted_unique(np.concatenate([self._buffer["unit"], self._present.runs().unit]))
        if len(in_use) == len(self._units):
            return
        names = np.empty(len(self._units), dtype=object)
        for name, idx in self._units.items():
            names[idx] = name
        renumber = np.full(len(self._units), -1, dtype=np.int64)
        renumber[in_use] = np.arange(len(in_use))
        self._units = {names[old]: new for new, old in enumerate(in_use.tolist())}
        self._buffer["unit"] = renumber[self._buffer["unit"]]
        a, u, s, e = self._present.runs()
        self._present.replace(UnitRuns(a, renumber[u], s, e))


def unit_slot_runs(
    pings: dict[str, np.ndarray], params: ModelParams, *, lo: int | None, hi: int | None
) -> tuple[np.ndarray, ...]:
    """Present unit-slots of wards as runs ``(unit, ward, start, end, foot)`` within [lo, hi).

    ``pings`` must be sorted by unit, then (ts, event_id). Rules 2 and 3: a unit is
    present in a ward in the slot of each of its pings there, with the mode of its
    earliest ping in that (ward, slot); and in every slot strictly between two
    consecutive pings of the unit in the same ward at most G apart, with the mode
    of the earlier ping.
    """
    unit, ts, ward, mode = pings["unit"], pings["ts"], pings["ward"], pings["mode"]
    slot = ts // params.slot_us
    in_ward = np.flatnonzero(ward >= 0)
    first = in_ward[group_first([unit[in_ward], ward[in_ward], slot[in_ward]])]
    d_unit, d_ward, d_start = unit[first], ward[first], slot[first]
    d_end, d_foot = d_start + 1, mode[first] == FOOT

    same = (unit[1:] == unit[:-1]) & (ward[1:] == ward[:-1]) & (ward[:-1] >= 0)
    dt = ts[1:] - ts[:-1]
    pair = np.flatnonzero(same & (dt > 0) & (dt <= params.gap_us) & (slot[1:] - slot[:-1] > 1))
    f_unit, f_ward = unit[pair], ward[pair]
    f_start, f_end, f_foot = slot[pair] + 1, slot[pair + 1], mode[pair] == FOOT

    out_unit = np.concatenate([d_unit, f_unit])
    out_ward = np.concatenate([d_ward, f_ward]).astype(np.int64)
    start = np.concatenate([d_start, f_start])
    end = np.concatenate([d_end, f_end])
    foot = np.concatenate([d_foot, f_foot])
    if lo is not None:
        start = np.maximum(start, lo)
    if hi is not None:
        end = np.minimum(end, hi)
    keep = end > start
    return out_unit[keep], out_ward[keep], start[keep], end[keep], foot[keep]


def _area_runs(areas: Areas, runs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Credit each ward run to every area the ward belongs to (rule 11)."""
    unit, ward, start, end, foot = runs
    targets = areas.ward_areas[ward]  # (n, 4)
    member = targets >= 0
    reps = member.sum(axis=1)
    return (
        targets[member].astype(np.int64),
        np.repeat(unit, reps),
        np.repeat(start, reps),
        np.repeat(end, reps),
        np.repeat(foot, reps),
    )


def time_order(unit: np.ndarray, ts: np.ndarray, eid: np.ndarray) -> np.ndarray:
    """Sort order by unit, ts, then event_id (string order) for equal timestamps."""
    order = lexsort((ts, unit))
    u, t = unit[order], ts[order]
    tie = np.zeros(len(order), dtype=bool)
    tie[1:] = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
    if tie.any():
        # Rare: equal timestamps of one unit; order those few by event_id in Python.
        starts = np.flatnonzero(tie[1:] & ~tie[:-1]) if len(tie) > 1 else []
        for first in starts:
            last = first + 1
            while last + 1 < len(tie) and tie[last + 1]:
                last += 1
            block = order[first : last + 1]
            order[first : last + 1] = sorted(block, key=lambda i: eid[i])
    return order


def _empty_buffer() -> dict[str, np.ndarray]:
    return {
        "unit": np.empty(0, dtype=np.int64),
        "ts": np.empty(0, dtype=np.int64),
        "eid": np.empty(0, dtype=object),
        "ward": np.empty(0, dtype=np.int32),
        "mode": np.empty(0, dtype=np.int8),
        "cell": np.empty(0, dtype=np.int64),
        "final": np.empty(0, dtype=bool),
    }
