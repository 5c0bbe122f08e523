"""What to simulate: :class:`SimulationConfig`, the fault labels, and the roster's record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from beatlight.errors import BeatlightError

__all__ = [
    "FAULTS",
    "IDENTIFYING_FIELDS",
    "Event",
    "Labelled",
    "SimulationConfig",
    "SimulationError",
    "UnitPlan",
    "WardsLike",
]

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
    #: Points (x, y in the wards' metric CRS) that patrols visit for 12-16 minutes now
    #: and then (:mod:`beatlight.streams.simulate.visits`); none by default.
    hot_spots: tuple[tuple[float, float], ...] = ()
    #: Visits asked of each hot spot per hour, on average (four times that on
    #: Friday and Saturday nights, local time in ``timezone``).
    hot_spot_visits_per_hour: float = 0.4
    timezone: str = "Europe/London"

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
        spots = tuple((float(x), float(y)) for x, y in self.hot_spots)
        if not all(math.isfinite(v) for spot in spots for v in spot):
            raise SimulationError("hot spots must be finite x, y in the wards' metric CRS")
        object.__setattr__(self, "hot_spots", spots)
        if not self.hot_spot_visits_per_hour >= 0:
            raise SimulationError("hot_spot_visits_per_hour must not be negative")
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
