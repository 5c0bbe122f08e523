"""The worker's pieces apart from Faust and Kafka: the lane runner's imports, the live
tick's pacing, and the work thread a stop waits for."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from beatlight.runtime.observe import Metrics
from beatlight.runtime.pacing import LivePacing
from beatlight.runtime.work import WorkThread
from tests.conftest import run_async

pytestmark = pytest.mark.unit


def test_the_lane_runner_imports_no_kafka_client_faust_or_prometheus():
    banned = "{'kafka', 'aiokafka', 'faust', 'prometheus_client'}"
    code = ("import sys, beatlight.streams.runner; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {banned}))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_live_figures_take_at_most_a_fifth_of_the_time(caplog):
    pacing = LivePacing(5.0, Metrics())
    pacing.cost_s = 0.4  # cheap: every live_seconds
    pacing.pace(started=100.0)
    assert (pacing.interval_s, pacing.next_tick_at) == (5.0, 102.5)
    with caplog.at_level(logging.INFO, logger="beatlight.worker"):
        pacing.cost_s = 2.0  # five times that is over live_seconds
        pacing.pace(started=200.0)
    assert (pacing.interval_s, pacing.next_tick_at) == (10.0, 207.5)
    assert "live figures every 10.0 s (each took 2.00 s of work)" in caplog.messages
    assert pacing.metrics.live_interval._value.get() == 10.0


def test_settle_waits_for_work_under_way_and_no_longer():
    async def run() -> list[str]:
        work, done = WorkThread(), []

        async def handler() -> None:
            with work.busy():
                await work.run(lambda: done.append("lane work"))
                await asyncio.sleep(0.05)

        task = asyncio.ensure_future(handler())
        await asyncio.sleep(0)
        await work.settle(timeout_s=5.0)
        done.append("settled")
        await task
        return done

    assert run_async(run()) == ["lane work", "settled"]
