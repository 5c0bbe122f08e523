"""``beatlight demo`` as a user runs it: it serves the maps, its figures move, and Ctrl-C
leaves nothing behind (no process, no port)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from beatlight.geo.synthetic import write_synthetic
from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

URL = re.compile(r"(http://127\.0\.0\.1:(\d+))/maps/live#key=(\S+)")
PCC_KEY = re.compile(r"PCC key:\s+(bl_\S+)")
PROCESSES = re.compile(
    r"broker pid (\d+) \(127\.0\.0\.1:(\d+)\), worker pid (\d+) "
    r"\(http://127\.0\.0\.1:(\d+)/metrics\), api pid (\d+)"
)


@dataclass
class Demo:
    """A running ``beatlight demo``: its process, what it printed, and what it started."""

    process: subprocess.Popen
    lines: list[str]
    log: Path
    base: str = ""
    inspector: str = ""
    pcc: str = ""
    pids: tuple[int, ...] = ()
    ports: tuple[int, ...] = ()

    def output(self) -> str:
        return "\n".join(self.lines) + "\n--- stderr ---\n" + self.log.read_text()[-4000:]


@pytest.fixture
def demo(tmp_path) -> Iterator[Callable[..., Demo]]:
    """Start ``python -m beatlight demo`` with small settings; always stopped afterwards."""
    started: list[Demo] = []

    def start(*extra: str) -> Demo:
        boundaries = write_synthetic(tmp_path / "wards.geojson")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
        env |= {"COLUMNS": "200", "NO_COLOR": "1"}
        log = tmp_path / "demo.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "beatlight", "demo", "--boundaries", str(boundaries),
             "--units", "60", "--history-hours", "2", "--catch-up-minutes", "3",
             "--speed", "30", "--live-seconds", "1", "--port", "0",
             "--data-dir", str(tmp_path / "demo"), *extra],
            stdout=subprocess.PIPE, stderr=log.open("wb"), text=True, env=env,
        )  # fmt: skip
        running = Demo(process, [], log)
        reader = threading.Thread(target=_read, args=(process, running.lines), daemon=True)
        reader.start()
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            try:
                running.process.wait(60)
            except subprocess.TimeoutExpired:
                running.process.kill()
        _kill_leftovers(running.pids)


def _read(process: subprocess.Popen, lines: list[str]) -> None:
    for line in process.stdout:  # type: ignore[union-attr]
        lines.append(line.rstrip("\n"))


def _banner(running: Demo, timeout_s: float = 120) -> Demo:
    """Wait for the addresses, keys and processes the demo prints once the API answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = "\n".join(running.lines)
        url, pcc, processes = URL.search(text), PCC_KEY.search(text), PROCESSES.search(text)
        if url and pcc and processes:
            running.base, running.inspector, running.pcc = url[1], url[3], pcc[1]
            broker, broker_port, worker, web_port, api = (int(g) for g in processes.groups())
            running.pids = (broker, worker, api)
            running.ports = (int(url[2]), broker_port, web_port)
            return running
        assert running.process.poll() is None, running.output()
        time.sleep(0.2)
    raise AssertionError(f"no banner within {timeout_s} s:\n{running.output()}")


def _until(check: Callable[[], Any], what: str, running: Demo, timeout_s: float) -> Any:
    def alive() -> str | None:
        return None if running.process.poll() is None else running.output()

    return wait_until(check, what, timeout_s, alive, running.output)


def _live_force(client: httpx.Client) -> dict | None:
    response = client.get("/api/v1/metrics", params={"level": "force"})
    if response.status_code != 200 or not response.json()["live"]:
        return None
    body = response.json()
    force = body["areas"][0]["windows"]
    return body if force["1h"]["patrol_minutes"] > 0 else None


def _stop(running: Demo, sig: int = signal.SIGINT, timeout_s: float = 60) -> int:
    running.process.send_signal(sig)
    try:
        return running.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the demo did not stop within {timeout_s} s") from None


def _survivors(pids: tuple[int, ...]) -> list[str]:
    """The demo's children, and anything in their process groups, still running."""
    left = []
    for process in psutil.process_iter(["pid", "name", "status"]):
        try:
            group = os.getpgid(process.pid)
        except ProcessLookupError:
            continue
        if (process.pid in pids or group in pids) and process.status() != psutil.STATUS_ZOMBIE:
            left.append(f"{process.pid} {process.name()} (group {group})")
    return left


def _kill_leftovers(pids: tuple[int, ...]) -> None:
    for pid in pids:  # so that a failing test leaves nothing running either
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_the_demo_serves_moving_figures_and_ctrl_c_leaves_nothing_behind(demo):
    running = _banner(demo())
    assert running.inspector.startswith("bl_") and running.pcc.startswith("bl_")
    zones = running.log.parent / "demo" / "zones.geojson"  # the synthetic wards' zones
    assert zones.is_file()
    assert "Zones:" in "\n".join(running.lines) and str(zones) in "\n".join(running.lines)
    with httpx.Client(base_url=running.base, headers={"X-API-Key": running.pcc},
                      timeout=10) as client:  # fmt: skip
        first = _until(lambda: _live_force(client), "live figures", running, 90)

        def moved() -> dict | None:
            now = _live_force(client)
            if now is None or now["as_of"] == first["as_of"]:
                return None
            before, after = first["areas"][0]["windows"], now["areas"][0]["windows"]
            return now if after != before else None

        second = _until(moved, "figures that move", running, 45)
        assert second["as_of"] > first["as_of"]
        inspector = {"X-API-Key": running.inspector}
        live_map = client.get("/maps/live", headers=inspector)
        assert live_map.status_code == 200, live_map.text[:500]
        assert "text/html" in live_map.headers["content-type"]
        points = _until(
            lambda: (r := client.get("/api/v1/live/points", headers=inspector)).status_code == 200
            and r.json()["features"], "points on the live map", running, 30,
        )  # fmt: skip
        assert {"ts", "ward", "mode"} <= set(points[0]["properties"])
        assert client.get("/maps/public", headers={"X-API-Key": ""}).status_code == 200

    started = time.monotonic()
    assert _stop(running) == 0, running.output()
    assert time.monotonic() - started < 60
    assert _survivors(running.pids) == []
    for port in running.ports:
        assert _port_free(port), f"port {port} is still taken"
    stderr = running.log.read_text()
    assert "demo stopped: no process left" in stderr
    assert "Traceback" not in stderr


def test_a_crashed_worker_stops_the_demo_and_leaves_nothing_behind(demo):
    running = _banner(demo())
    worker = running.pids[1]
    os.killpg(worker, signal.SIGKILL)
    try:
        code = running.process.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the demo went on without its worker:\n{running.output()}") from None
    assert code == 1, running.output()
    assert "the worker stopped unexpectedly" in running.log.read_text()
    assert _survivors(running.pids) == []
    for port in running.ports:
        assert _port_free(port), f"port {port} is still taken"
