"""Admission of validated events: the watermark, allowed lateness and de-duplication.

An :class:`Intake` is the stateful last step before the presence model. It sees
events in arrival order (a partition's offset order, or a file replayed as a stream
would receive it) and decides, per event:

* ``too_late``: its ``ts`` is more than the allowed lateness behind the watermark;
* duplicate: its ``event_id`` was already accepted (SPEC: "a repeated ``event_id``
  changes nothing"); silently ignored, and counted;
* otherwise accepted.

**The watermark** (SPEC "Event time, order and lateness") is robust to wrong clocks:
it is the *k*-th latest of the latest accepted ping times of the lane's recent units,
with k = max(⌊n / 20⌋, 1) + 1 capped at n, for the n units heard from in the lane's
last :data:`RECENT_PINGS` accepted pings (a unit's latest time is that of its pings
since it last became recent), but never more than the units at or past the watermark
(so units behind it, a camera uploading its shift late, cannot hold it back). So up
to 5 % of those units, and always at least one, may run ahead by any amount without
moving it; a lane with one unit follows that unit. It never moves back. Recency is
counted in pings, not in event time, and once the watermark has not moved for
:data:`STALL_PINGS` pings, the units at or behind it are no longer recent: when most
units go off duty, the watermark soon follows the ones still out.

A ping more than the allowed lateness *ahead* of the watermark is counted
(:attr:`Intake.ahead`) once another unit's ping near the watermark arrives after it
(so its unit is ahead of units still out, not the first back after the lane was
quiet, which the watermark soon follows). One limit: a lane's very first unit cannot
be told to be wrong, so if its clock runs ahead, it sets the watermark.

An :class:`Intake` made with ``ordered=True`` is told its events come in ``ts`` order,
already de-duplicated (the batch report sorts a file first): it accepts every valid
event and its watermark is simply the latest time.

Validation runs before de-duplication, so a repeated *bad* event is rejected (and
counted) each time it arrives. Ids are remembered while their event is within the
allowed lateness; an exact re-send of an older event is ``too_late`` anyway, so memory
stays bounded by the event rate over the lateness, not by all events.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import numpy as np
from sortedcontainers import SortedList

from beatlight.streams.events import ValidEvents

__all__ = ["RECENT_PINGS", "Admission", "Intake", "watermark_rank"]

_NO_WATERMARK = np.iinfo(np.int64).min // 2
#: A unit is recent while it has a ping among a lane's last this many accepted pings.
RECENT_PINGS = 300
#: After this many accepted pings without the watermark moving, units not heard from
#: since (at or behind it) are no longer recent: the shift ended for them.
STALL_PINGS = 64


def watermark_rank(units: int) -> int:
    """Which latest unit time is the watermark (1 = the latest) among ``units`` units:
    max(⌊units / 20⌋, 1) of them (5 %, and always one) may run ahead of it."""
    return max(min(max(units // 20, 1) + 1, units), 1)


@dataclass
class Admission:
    """What the intake decided for one batch."""

    accepted: np.ndarray  # bool per row
    duplicate: np.ndarray  # bool per row


@dataclass
class Intake:
    """Watermark and recent event ids of one lane (a batch run, or one partition)."""

    lateness_us: int
    ordered: bool = False
    watermark_us: int = _NO_WATERMARK
    #: Accepted pings more than the lateness ahead of the watermark while other units
    #: pinged near it, in all.
    ahead: int = 0
    _seen: dict[str, int] = field(default_factory=dict)
    _forget_before_us: int = _NO_WATERMARK
    #: Each recent unit's latest accepted ping time, and those times with the unit, sorted.
    _latest: dict[str, int] = field(default_factory=dict)
    _times: SortedList = field(default_factory=SortedList)
    #: The units of the last RECENT_PINGS accepted pings, and how many each has there.
    _recent: deque[str] = field(default_factory=deque)
    _pings: dict[str, int] = field(default_factory=dict)
    #: Accepted pings since the watermark last moved.
    _stalled: int = 0
    #: Pings ahead not yet confirmed by a later ping near the watermark: (ts, unit).
    _pending: list[tuple[int, str]] = field(default_factory=list)
    #: Units whose pings ahead were confirmed.
    _ahead_units: set[str] = field(default_factory=set)

    @property
    def has_watermark(self) -> bool:
        return self.watermark_us != _NO_WATERMARK

    @property
    def units_ahead(self) -> int:
        """Recent units whose latest ping is more than the lateness ahead of the watermark,
        confirmed as :attr:`ahead` says."""
        ahead_from = self._ahead_from()
        return sum(1 for u in self._ahead_units if self._latest.get(u, ahead_from) > ahead_from)

    @property
    def furthest_ahead_us(self) -> int:
        """How far the latest unit is ahead of the watermark (0 when none is)."""
        if not self._times or not self.has_watermark:
            return 0
        return max(self._times[-1][0] - self.watermark_us, 0)

    def admit(self, events: ValidEvents) -> Admission:
        """Apply lateness and de-duplication in arrival order; mark ``too_late`` in place."""
        if self.ordered:
            return self._admit_ordered(events)
        n = len(events)
        accepted = np.zeros(n, dtype=bool)
        duplicate = np.zeros(n, dtype=bool)
        candidates = np.flatnonzero(events.ok)
        if not len(candidates):
            return Admission(accepted, duplicate)
        ts = events.ts_us[candidates]
        ids = events.event_id[candidates]
        units = events.unit[candidates]
        seen = self._seen
        lateness = self.lateness_us
        late_rows: list[int] = []
        # One pass in arrival order: the watermark depends on what was accepted
        # before each event, so this is inherently sequential.
        rows = zip(ts.tolist(), ids.tolist(), units.tolist(), strict=True)
        for k, (t, event_id, unit) in enumerate(rows):
            row = candidates[k]
            if t < self.watermark_us - lateness:
                late_rows.append(row)
            elif event_id in seen:
                duplicate[row] = True
            else:
                seen[event_id] = t
                accepted[row] = True
                self._note(unit, t)
        if late_rows:
            events.reason[np.asarray(late_rows)] = "too_late"
        self._forget_old_ids()
        return Admission(accepted, duplicate)

    def state(self) -> dict[str, Any]:
        """Everything needed to resume (checkpoints): JSON-ready."""
        return {
            "watermark_us": self.watermark_us,
            "ahead": self.ahead,
            "seen": self._seen,
            "forget_before_us": self._forget_before_us,
            "latest": self._latest,
            "recent": list(self._recent),
            "stalled": self._stalled,
            "pending": self._pending,
            "ahead_units": sorted(self._ahead_units),
        }

    @classmethod
    def from_state(cls, lateness_us: int, state: dict[str, Any]) -> Intake:
        latest = dict(state["latest"])
        recent = deque(state["recent"])
        pings: dict[str, int] = {}
        for unit in recent:
            pings[unit] = pings.get(unit, 0) + 1
        return cls(
            lateness_us,
            watermark_us=state["watermark_us"],
            ahead=state["ahead"],
            _seen=dict(state["seen"]),
            _forget_before_us=state["forget_before_us"],
            _latest=latest,
            _times=SortedList((t, u) for u, t in latest.items()),
            _recent=recent,
            _pings=pings,
            _stalled=state["stalled"],
            _pending=[(t, u) for t, u in state["pending"]],
            _ahead_units=set(state["ahead_units"]),
        )

    def _note(self, unit: str, t: int) -> None:
        """An accepted ping of ``unit`` at ``t``: move the watermark as the rule says."""
        times, latest, pings = self._times, self._latest, self._pings
        old = latest.get(unit)
        if old is None or t > old:
            if old is not None:
                times.remove((old, unit))
            times.add((t, unit))
            latest[unit] = t
        self._recent.append(unit)
        pings[unit] = pings.get(unit, 0) + 1
        if len(self._recent) > RECENT_PINGS:
            gone = self._recent.popleft()
            pings[gone] -= 1
            if not pings[gone]:  # no longer recent
                del pings[gone]
                times.remove((latest.pop(gone), gone))
        # Units behind the watermark (a late upload) must not hold it back: k is at most
        # the number of units at or past it, of which one is the unit that set it.
        level = len(times) - times.bisect_left((self.watermark_us,))
        rank = min(watermark_rank(len(times)), max(level, 1))
        candidate = times[-rank][0]
        if candidate <= self.watermark_us:
            self._stalled += 1
            if self._stalled >= STALL_PINGS:
                candidate = self._forget_quiet_units()
        if candidate > self.watermark_us:
            self._stalled = 0
            self.watermark_us = candidate
            ahead_from = self._ahead_from()
            self._pending = [p for p in self._pending if p[0] > ahead_from]
        if t > self._ahead_from():
            self._pending.append((t, unit))
        elif self._pending:  # a unit near the watermark: the ones ahead were ahead of it
            confirmed = [p for p in self._pending if p[1] != unit]
            self.ahead += len(confirmed)
            self._ahead_units.update(u for _, u in confirmed)
            self._pending = [p for p in self._pending if p[1] == unit]
        if len(self._ahead_units) > RECENT_PINGS:
            self._ahead_units &= self._latest.keys()

    def _forget_quiet_units(self) -> int:
        """The watermark has not moved for STALL_PINGS pings: the units at or behind it
        have not pinged past it since, so they are no longer recent (they went off duty,
        not the others' clocks on). Returns the watermark the units still out give."""
        self._stalled = 0
        times, latest = self._times, self._latest
        quiet = times[: times.bisect_right((self.watermark_us, "\U0010ffff"))]
        if len(quiet) == len(times):
            return self.watermark_us
        for _, unit in quiet:
            times.remove((latest.pop(unit), unit))
            del self._pings[unit]
        self._recent = deque(u for u in self._recent if u in latest)
        return times[-watermark_rank(len(times))][0]

    def _ahead_from(self) -> int:
        return self.watermark_us + self.lateness_us

    def _admit_ordered(self, events: ValidEvents) -> Admission:
        accepted = events.ok.copy()
        if accepted.any():
            latest = int(events.ts_us[accepted].max())
            if latest < self.watermark_us:
                raise ValueError("an ordered intake was given events out of order")
            self.watermark_us = latest
        return Admission(accepted, np.zeros(len(events), dtype=bool))

    def _forget_old_ids(self) -> None:
        """Drop ids whose event can no longer be re-sent without being too late."""
        horizon = self.watermark_us - self.lateness_us
        # Sweep only when the horizon has moved a good way, to keep this amortised.
        if horizon - self._forget_before_us < max(self.lateness_us // 4, 1):
            return
        # Deleting the old ids in place costs a third of building a dict of the others.
        times = np.fromiter(self._seen.values(), np.int64, len(self._seen))
        old = compress(list(self._seen), times < horizon)
        deque(map(self._seen.__delitem__, old), maxlen=0)
        self._forget_before_us = horizon
