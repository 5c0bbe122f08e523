"""A stream lane's zones (SPEC Z1-Z4): its accepted pings in, its zone runs as of H out.

A :class:`~beatlight.streams.zones.ZoneModel` needs pings in time order; a lane accepts
them in arrival order, up to the allowed lateness behind its watermark. So
:class:`ZoneLane` holds the accepted pings back until they are settled (no admissible
ping can be earlier: watermark minus lateness), and feeds them to the model sorted.
The runs as of a time ``H`` at or after the settled point are a copy of the model fed
the held pings before ``H`` and finished: exactly the runs a batch report as of ``H``
finds from the same pings (a ping at or after ``H`` cannot fill slots before it).

Runs no figure can reach any more are forgotten: the listed sessions look back 28
days and the longest window as far (see :class:`~beatlight.streams.batch.Zoning`).
Units never span lanes, so the aggregator concatenates lanes' runs
(:meth:`~beatlight.streams.zones.ZoneRuns.merge`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from beatlight.geo.zones import Zones
from beatlight.streams.events import ValidEvents
from beatlight.streams.zone_figures import SESSIONS_BACK_US
from beatlight.streams.zones import ZoneConfig, ZoneModel, ZoneRuns

__all__ = ["ZoneLane"]

_COLUMNS = ("unit", "ts", "eid", "mode", "lon", "lat")
_DAY_US = 86_400_000_000


class ZoneLane:
    """One lane's zone model and the accepted pings not yet settled."""

    def __init__(self, zones: Zones, config: ZoneConfig) -> None:
        self.zones = zones
        self.config = config
        self.model = ZoneModel(zones, config.model)
        #: Every ping before this has been fed to the model.
        self.fed_until_us: int | None = None
        self._held: list[dict[str, np.ndarray]] = []

    @property
    def reach_us(self) -> int:
        """How far back from ``as_of`` a zone figure looks (sessions, windows, gap fill)."""
        m = self.config.model
        back = max(SESSIONS_BACK_US + 2 * _DAY_US, m.longest_window_us)
        return back + m.gap_us + 2 * m.slot_us

    def add(self, events: ValidEvents, rows: np.ndarray) -> None:
        """Accepted pings (rows of ``events``), in any order, none before :attr:`fed_until_us`."""
        if len(rows):
            self._held.append({
                "unit": events.unit[rows], "ts": events.ts_us[rows],
                "eid": events.event_id[rows], "mode": events.mode[rows],
                "lon": events.lon[rows], "lat": events.lat[rows],
            })  # fmt: skip

    def settle(self, until_us: int) -> None:
        """Feed the model the held pings before ``until_us`` (no later ping can precede them)."""
        if self.fed_until_us is not None and until_us <= self.fed_until_us:
            return
        early = self._take_before(until_us, keep=False)
        if early is not None:
            self.model.add(*(early[k] for k in _COLUMNS))
        self.fed_until_us = until_us
        slot = self.config.model.slot_us
        self.model.forget((until_us - self.reach_us) // slot - 1)

    def runs(self, as_of_us: int) -> ZoneRuns:
        """The lane's runs from its pings before ``as_of_us`` (not before :attr:`fed_until_us`)."""
        model = self.model.copy()
        early = self._take_before(as_of_us, keep=True)
        if early is not None:
            model.add(*(early[k] for k in _COLUMNS))
        runs = model.finish()
        cut = (as_of_us - self.reach_us) // self.config.model.slot_us
        return _trimmed(runs, cut)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A JSON-ready header and named arrays (lane checkpoints)."""
        header, arrays = self.model.state()
        held = self._merged_held()
        header = {"model": header, "fed_until_us": self.fed_until_us, "held_eid": [],
                  "held_unit": []}  # fmt: skip
        if held is not None:
            header["held_unit"] = held["unit"].tolist()
            header["held_eid"] = held["eid"].tolist()
            arrays |= {f"zone_held_{k}": held[k] for k in ("ts", "mode", "lon", "lat")}
        return header, arrays

    @classmethod
    def from_state(
        cls, zones: Zones, config: ZoneConfig, header: dict[str, Any],
        arrays: dict[str, np.ndarray],
    ) -> ZoneLane:  # fmt: skip
        lane = cls(zones, config)
        lane.model = ZoneModel.from_state(zones, config.model, header["model"], arrays)
        lane.fed_until_us = header["fed_until_us"]
        if header["held_unit"]:
            lane._held = [{
                "unit": np.array(header["held_unit"], dtype=object),
                "eid": np.array(header["held_eid"], dtype=object),
                **{k: arrays[f"zone_held_{k}"] for k in ("ts", "mode", "lon", "lat")},
            }]  # fmt: skip
        return lane

    def _merged_held(self) -> dict[str, np.ndarray] | None:
        if not self._held:
            return None
        if len(self._held) > 1:
            self._held = [{k: np.concatenate([h[k] for h in self._held]) for k in _COLUMNS}]
        return self._held[0]

    def _take_before(self, until_us: int, *, keep: bool) -> dict[str, np.ndarray] | None:
        """The held pings before ``until_us`` in time order (kept held or taken out)."""
        held = self._merged_held()
        if held is None:
            return None
        early = held["ts"] < until_us
        if not early.any():
            return None
        rows = np.flatnonzero(early)
        rows = rows[np.argsort(held["ts"][rows], kind="stable")]
        taken = {k: v[rows] for k, v in held.items()}
        if not keep:
            rest = ~early
            self._held = [{k: v[rest] for k, v in held.items()}] if rest.any() else []
        return taken


def _trimmed(runs: ZoneRuns, cut_slot: int) -> ZoneRuns:
    """Without the runs ending at or before ``cut_slot``."""
    u = runs.unit_end > cut_slot
    z = runs.end > cut_slot
    f = runs.foot_end > cut_slot
    return ZoneRuns(runs.unit_zone[u], runs.unit[u], runs.unit_start[u], runs.unit_end[u],
                    runs.zone[z], runs.start[z], runs.end[z], runs.foot_zone[f],
                    runs.foot_start[f], runs.foot_end[f], runs.last_seen)  # fmt: skip
