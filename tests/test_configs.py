"""Component configurations are built from Settings (beatlight.configs), where defaults live."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from beatlight.api.materialise import MaterialiserConfig
from beatlight.configs import (
    alert_tracker,
    defaults,
    lane_config,
    map_options,
    materialiser_config,
    method,
    model_params,
    worker_config,
    zone_config,
)
from beatlight.maps.builders import MapOptions
from beatlight.reports.method import Method
from beatlight.runtime.app import WorkerConfig
from beatlight.settings import Settings
from beatlight.streams.aggregate import Aggregator
from beatlight.streams.alerts import AlertTracker
from beatlight.streams.lane import LaneConfig
from beatlight.streams.presence import ModelParams
from beatlight.streams.zones import ZoneConfig

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
#: Fields that are no setting, so a component may give them a default.
NOT_SETTINGS = {"windows", "topics", "batch_size", "batch_seconds", "api", "static"}
CONFIGS = (ModelParams, LaneConfig, MaterialiserConfig, MapOptions, Method, AlertTracker,
           ZoneConfig)  # fmt: skip


@pytest.mark.parametrize("config", CONFIGS)
def test_a_component_config_declares_no_default_of_a_setting(config):
    """Fields the caller gives (``init``): state a component keeps for itself is no setting."""
    with_default = {
        f.name for f in dataclasses.fields(config)
        if f.init and (f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING)
    }  # fmt: skip
    assert with_default <= NOT_SETTINGS
    assert {f.name for f in dataclasses.fields(config) if f.init} > with_default


def test_the_aggregator_takes_its_lateness_from_the_lane_config():
    parameters = inspect.signature(Aggregator).parameters.values()
    assert [p.name for p in parameters if p.default is not inspect.Parameter.empty] == []
    assert "config" in inspect.signature(Aggregator).parameters


def test_the_worker_config_declares_no_default_of_a_setting():
    with_default = {name for name, field in WorkerConfig._options.fields.items()
                    if name in WorkerConfig._options.defaults}  # fmt: skip
    assert with_default <= NOT_SETTINGS
    assert set(WorkerConfig._options.fields) > with_default


def test_only_the_builders_construct_the_configs():
    """Outside ``beatlight/configs.py``, the product builds no config from literals."""
    names = "|".join(c.__name__ for c in (*CONFIGS, WorkerConfig))
    pattern = re.compile(rf"\b({names})(\(|\.from_)")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("beatlight", "geo", "streams", "runtime", "api", "maps", "reports", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "beatlight" / "configs.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("class ")
    ]
    assert found == []


def test_the_builders_take_every_value_from_the_settings():
    settings = Settings.model_construct(
        slot_seconds=30, max_gap_seconds=120, koper_minutes=5.0, lateness_seconds=7200,
        future_seconds=60, max_accuracy_m=50.0, app_id="other", session_timeout_ms=9000,
        heartbeat_interval_ms=2000, live_seconds=1.0, live_clock="event", worker_web_port=0,
        kafka_partitions=8, materialise_batch_records=10, kafka_connect_timeout_s=3.0,
        materialise_max_backoff_s=4.0, cell_m=100.0, target_minutes_per_week=300.0,
        timezone="Europe/Dublin", alert_window="1h", alert_unvisited_minutes=30.0,
        tiles="none", tiles_attribution="t", boundary_attribution="b", map_refresh_seconds=3.0,
        map_missed_weeks=4,
    )  # fmt: skip
    lane = lane_config(settings)
    assert (lane.model.slot_us, lane.model.gap_us, lane.model.koper_slots) == (30e6, 120e6, 10)
    assert (lane.lateness_us, lane.future_us, lane.max_accuracy_m) == (7200e6, 60e6, 50.0)
    worker = worker_config(settings, "k:9092")
    assert (worker.partitions, worker.app_id, worker.session_timeout_s, worker.heartbeat_s,
            worker.live_clock, worker.web_port) == (8, "other", 9.0, 2.0, "event", 0)  # fmt: skip
    assert worker_config(settings, "k:9092", partitions=3).partitions == 3
    materialiser = materialiser_config(settings, "k:9092")
    assert (materialiser.group_id, materialiser.session_timeout_ms, materialiser.batch_records,
            materialiser.connect_timeout_s, materialiser.max_backoff_s) == (
        "other-materialiser", 9000, 10, 3.0, 4.0)  # fmt: skip
    assert method(settings) == Method(
        slot_seconds=30, max_gap_seconds=120, koper_minutes=5.0, cell_m=100.0,
        target_minutes_per_week=300.0, lateness_seconds=7200, max_accuracy_m=50.0,
        timezone="Europe/Dublin")  # fmt: skip
    assert map_options(settings) == MapOptions(
        tiles="none", tiles_attribution="t", boundary_attribution="b", refresh_seconds=3.0,
        missed_weeks=4, koper_minutes=5.0, timezone="Europe/Dublin")  # fmt: skip
    assert zone_config(settings) == ZoneConfig(model=lane.model, timezone="Europe/Dublin")
    for source in (settings, worker_config(settings, "k:9092")):
        tracker = alert_tracker(source)
        assert (tracker.window, tracker.unvisited_minutes) == ("1h", 30.0)


def test_without_settings_the_builders_use_the_declared_defaults_not_the_environment(
    monkeypatch,
):
    monkeypatch.setenv("BEATLIGHT_SLOT_SECONDS", "30")
    assert Settings().slot_seconds == 30
    assert defaults().slot_seconds == Settings.model_fields["slot_seconds"].default == 60
    assert model_params().slot_us == 60_000_000
    assert lane_config() == lane_config(defaults())
    assert map_options() == map_options(defaults()) and method() == method(defaults())
    assert alert_tracker() == alert_tracker(defaults())


def test_koper_slots_round_up_to_whole_slots():
    assert model_params(Settings.model_construct(koper_minutes=10.0)).koper_slots == 10
    assert (
        model_params(Settings.model_construct(koper_minutes=2.5, slot_seconds=60)).koper_slots == 3
    )
    assert (
        model_params(Settings.model_construct(koper_minutes=0.1, slot_seconds=30)).koper_slots == 1
    )
