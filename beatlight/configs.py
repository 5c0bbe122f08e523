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
from beatlight.streams.lane import LaneConfig
from beatlight.streams.presence import ModelParams

if TYPE_CHECKING:
    from beatlight.api.materialise import MaterialiserConfig
    from beatlight.runtime.app import WorkerConfig

__all__ = [
    "defaults",
    "koper_slots",
    "lane_config",
    "materialiser_config",
    "model_params",
    "worker_config",
]

_US = 1_000_000


def defaults() -> Settings:
    """``Settings`` with every field at its declared default (no environment, no ``.env``)."""
    return Settings.model_construct()


def model_params(settings: Settings | None = None) -> ModelParams:
    """The presence model's parameters (SPEC "Metric definitions"), in µs and slots."""
    s = settings or defaults()
    return ModelParams(
        slot_us=s.slot_seconds * _US,
        gap_us=s.max_gap_seconds * _US,
        koper_slots=koper_slots(s.koper_minutes, s.slot_seconds),
    )


def lane_config(settings: Settings | None = None) -> LaneConfig:
    """A lane's admission rules and model parameters."""
    s = settings or defaults()
    return LaneConfig(
        model=model_params(s),
        lateness_us=s.lateness_seconds * _US,
        future_us=s.future_seconds * _US,
        max_accuracy_m=s.max_accuracy_m,
    )


def worker_config(
    settings: Settings | None, bootstrap: str, *, partitions: int | None = None
) -> WorkerConfig:
    """A stream worker's configuration; ``partitions``: those of the input topic as found
    (default: ``kafka_partitions``). Needs the ``stream`` extra."""
    from beatlight.runtime.app import WorkerConfig

    s = settings or defaults()
    return WorkerConfig(
        bootstrap=bootstrap,
        partitions=s.kafka_partitions if partitions is None else partitions,
        app_id=s.app_id,
        session_timeout_s=s.session_timeout_ms / 1000,
        heartbeat_s=s.heartbeat_interval_ms / 1000,
        live_seconds=s.live_seconds,
        live_clock=s.live_clock,
        web_port=s.worker_web_port,
        web_host=s.worker_web_host,
        max_event_bytes=s.max_event_bytes,
        alert_window=s.alert_window,
        alert_unvisited_minutes=s.alert_unvisited_minutes,
        checkpoint_seconds=s.checkpoint_seconds,
        points_minutes=s.points_minutes,
        fetch_wait_ms=s.fetch_wait_ms,
        compression=s.kafka_compression,
    )


def materialiser_config(settings: Settings | None, bootstrap: str) -> MaterialiserConfig:
    """The API materialiser's configuration (its group is ``<app_id>-materialiser``).
    Needs the ``api`` extra."""
    from beatlight.api.materialise import MaterialiserConfig

    s = settings or defaults()
    return MaterialiserConfig(
        bootstrap=bootstrap,
        group_id=f"{s.app_id}-materialiser",
        session_timeout_ms=s.session_timeout_ms,
        batch_records=s.materialise_batch_records,
        connect_timeout_s=s.kafka_connect_timeout_s,
        max_backoff_s=s.materialise_max_backoff_s,
    )


def koper_slots(koper_minutes: float, slot_seconds: int) -> int:
    """Slots a visit needs to last at least K minutes (rule 6)."""
    return math.ceil(koper_minutes * 60 / slot_seconds - 1e-9)
