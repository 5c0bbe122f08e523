"""Each component's configuration, built from one :class:`~beatlight.settings.Settings`.

The defaults are declared once, on ``Settings``' fields. The components take plain
dataclasses with no defaults of their own (the stream core does not import
pydantic-settings), and this module is where a setting becomes a component's
parameter: seconds to microseconds, minutes to slots, milliseconds to seconds.
Without a ``Settings``, a builder uses ``Settings``' defaults and ignores the
environment (what tests and benchmarks want).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from beatlight.settings import Settings
from beatlight.streams.alerts import AlertTracker
from beatlight.streams.lane import LaneConfig
from beatlight.streams.presence import ModelParams
from beatlight.streams.zones import ZoneConfig

if TYPE_CHECKING:
    from beatlight.api.materialise import MaterialiserConfig
    from beatlight.geo.zones import Zones
    from beatlight.maps.builders import MapOptions
    from beatlight.reports.method import Method
    from beatlight.runtime.app import WorkerConfig

__all__ = [
    "alert_tracker",
    "defaults",
    "koper_slots",
    "lane_config",
    "map_options",
    "materialiser_config",
    "method",
    "model_params",
    "worker_config",
    "zone_config",
]

_US = 1_000_000


def defaults() -> Settings:
    """``Settings`` with every field at its declared default (no environment, no ``.env``)."""
    return Settings.model_construct()


def model_params(settings: Settings | None = None) -> ModelParams:
    """The presence model's parameters (SPEC "Metric definitions"), in µs and slots."""
    settings = settings or defaults()
    return ModelParams(
        slot_us=settings.slot_seconds * _US,
        gap_us=settings.max_gap_seconds * _US,
        koper_slots=koper_slots(settings.koper_minutes, settings.slot_seconds),
    )


def lane_config(settings: Settings | None = None) -> LaneConfig:
    """A lane's admission rules and model parameters."""
    settings = settings or defaults()
    return LaneConfig(
        model=model_params(settings),
        lateness_us=settings.lateness_seconds * _US,
        future_us=settings.future_seconds * _US,
        max_accuracy_m=settings.max_accuracy_m,
    )


def zone_config(settings: Settings | None = None) -> ZoneConfig:
    """The zones' model parameters and the time zone of their schedules and returns."""
    settings = settings or defaults()
    return ZoneConfig(model=model_params(settings), timezone=settings.timezone)


def worker_config(
    settings: Settings | None, bootstrap: str, *, partitions: int | None = None
) -> WorkerConfig:
    """A stream worker's configuration; ``partitions``: those of the input topic as found
    (default: ``kafka_partitions``). Needs the ``stream`` extra."""
    from beatlight.runtime.app import WorkerConfig

    settings = settings or defaults()
    return WorkerConfig(
        bootstrap=bootstrap,
        partitions=settings.kafka_partitions if partitions is None else partitions,
        app_id=settings.app_id,
        session_timeout_s=settings.session_timeout_ms / 1000,
        heartbeat_s=settings.heartbeat_interval_ms / 1000,
        live_seconds=settings.live_seconds,
        live_clock=settings.live_clock,
        web_port=settings.worker_web_port,
        web_host=settings.worker_web_host,
        max_event_bytes=settings.max_event_bytes,
        alert_window=settings.alert_window,
        alert_unvisited_minutes=settings.alert_unvisited_minutes,
        checkpoint_seconds=settings.checkpoint_seconds,
        points_minutes=settings.points_minutes,
        fetch_wait_ms=settings.fetch_wait_ms,
        compression=settings.kafka_compression,
    )


def materialiser_config(settings: Settings | None, bootstrap: str) -> MaterialiserConfig:
    """The API materialiser's configuration (its group is ``<app_id>-materialiser``).
    Needs the ``api`` extra."""
    from beatlight.api.materialise import MaterialiserConfig

    settings = settings or defaults()
    return MaterialiserConfig(
        bootstrap=bootstrap,
        group_id=f"{settings.app_id}-materialiser",
        session_timeout_ms=settings.session_timeout_ms,
        batch_records=settings.materialise_batch_records,
        connect_timeout_s=settings.kafka_connect_timeout_s,
        max_backoff_s=settings.materialise_max_backoff_s,
    )


def alert_tracker(
    settings: Settings | WorkerConfig | None = None, zones: Zones | None = None
) -> AlertTracker:
    """A fresh tracker of live status changes, with the alert window and unvisited time of
    ``settings``, or of a worker's config (built from them by :func:`worker_config`), and
    the ``max_gap_minutes`` of the ``zones`` that have a schedule (SPEC Z5)."""
    settings = settings or defaults()
    limits = {}
    if zones is not None:
        for code, schedule, most in zip(zones.codes, zones.schedules, zones.max_gap_minutes,
                                        strict=True):  # fmt: skip
            if schedule is not None and not math.isnan(most):
                limits[str(code)] = float(most)
    return AlertTracker(
        window=settings.alert_window,
        unvisited_minutes=settings.alert_unvisited_minutes,
        zone_limits=limits,
    )


def map_options(settings: Settings | None = None) -> MapOptions:
    """What the maps need besides their figures: tiles, attributions, refresh, K, zone."""
    from beatlight.maps.builders import MapOptions

    settings = settings or defaults()
    return MapOptions(
        tiles=settings.tiles,
        tiles_attribution=settings.tiles_attribution,
        boundary_attribution=settings.boundary_attribution,
        refresh_seconds=settings.map_refresh_seconds,
        missed_weeks=settings.map_missed_weeks,
        koper_minutes=settings.koper_minutes,
        timezone=settings.timezone,
    )


def method(settings: Settings | None = None) -> Method:
    """The settings a report's method notes state (SPEC "Metric definitions")."""
    from beatlight.reports.method import Method

    settings = settings or defaults()
    return Method(
        slot_seconds=settings.slot_seconds,
        max_gap_seconds=settings.max_gap_seconds,
        koper_minutes=settings.koper_minutes,
        cell_m=settings.cell_m,
        target_minutes_per_week=settings.target_minutes_per_week,
        lateness_seconds=settings.lateness_seconds,
        max_accuracy_m=settings.max_accuracy_m,
        timezone=settings.timezone,
    )


def koper_slots(koper_minutes: float, slot_seconds: int) -> int:
    """Slots a visit needs to last at least K minutes (rule 6)."""
    return math.ceil(koper_minutes * 60 / slot_seconds - 1e-9)
