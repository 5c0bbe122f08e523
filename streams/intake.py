"""Admission of validated events: the watermark, allowed lateness and de-duplication.

An :class:`Intake` is the stateful last step before the presence model. It sees
events in arrival order (a file's line order, a partition's offset order) and
decides, per event:

* ``too_late``: its ``ts`` is more than the allowed lateness behind the
  watermark, the latest event time accepted so far (SPEC settings);
* duplicate: its ``event_id`` was already accepted (SPEC: "a repeated
  ``event_id`` changes nothing"); silently ignored, and counted;
* otherwise accepted, and the watermark moves on.

Validation runs before de-duplication, so a repeated *bad* event is rejected (and
counted) each time it arrives. The ids are remembered while their event is within
the allowed lateness; an exact re-send of an older event is ``too_late`` anyway,
so memory stays bounded by the event rate over the lateness, not by all events.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import compress

import numpy as np

from streams.events import ValidEvents

__all__ = ["Admission", "Intake"]

_NO_WATERMARK = np.iinfo(np.int64).min // 2


@dataclass
class Admission:
    """What the intake decided for one batch."""

    accepted: np.ndarray  # bool per row
    duplicate: np.ndarray  # bool per row


@dataclass
class Intake:
    """Watermark and recent event ids of one lane (a batch run, or one partition)."""

    lateness_us: int
    watermark_us: int = _NO_WATERMARK
    _seen: dict[str, int] = field(default_factory=dict)
    _forget_before_us: int = _NO_WATERMARK

    @property
    def has_watermark(self) -> bool:
        return self.watermark_us != _NO_WATERMARK

    def admit(self, events: ValidEvents) -> Admission:
        """Apply lateness and de-duplication in arrival order; mark ``too_late`` in place."""
        n = len(events)
        accepted = np.zeros(n, dtype=bool)
        duplicate = np.zeros(n, dtype=bool)
        candidates = np.flatnonzero(events.ok)
        if not len(candidates):
            return Admission(accepted, duplicate)
        ts = events.ts_us[candidates]
        ids = events.event_id[candidates]
        seen = self._seen
        watermark = self.watermark_us
        lateness = self.lateness_us
        late_rows: list[int] = []
        # One pass in arrival order: the watermark depends on what was accepted
        # before each event, so this is inherently sequential (and cheap).
        for k, (t, event_id) in enumerate(zip(ts.tolist(), ids.tolist(), strict=True)):
            row = candidates[k]
            if t < watermark - lateness:
                late_rows.append(row)
            elif event_id in seen:
                duplicate[row] = True
            else:
                seen[event_id] = t
                accepted[row] = True
                if t > watermark:
                    watermark = t
        self.watermark_us = watermark
        if late_rows:
            events.reason[np.asarray(late_rows)] = "too_late"
        self._forget_old_ids()
        return Admission(accepted, duplicate)

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
