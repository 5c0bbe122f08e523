"""Session-wide fixtures: reference data beside the checkout, and the CLI as a user runs it."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.geo.fixtures import reference_file

# Built ward cells (geo/cache.py) go to the tests' own cache, not the user's ~/.cache;
# the CLI's child processes inherit it.
_CACHE = tempfile.mkdtemp(prefix="beatlight-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def staffordshire() -> Path:
    """The real Staffordshire wards (skips when ../shared/data is absent)."""
    return reference_file("staffordshire-wards.geojson")


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``beatlight ARGS`` in a fresh process, as a user would type it."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("BEATLIGHT_")}
    return subprocess.run(
        [sys.executable, "-m", "beatlight", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def wait_until(check, what: str, timeout_s: float, alive=lambda: None, detail=lambda: ""):  # noqa: ANN001, ANN201
    """``check()``'s first truthy answer, polling an HTTP service that may not be up yet.

    ``alive()`` returns why the service under test has died (its log), or None while it
    runs; a connection refused counts as "not yet"; ``detail()`` adds to a timeout.
    """
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        died = alive()
        assert died is None, died
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{detail()}"
        time.sleep(0.5)


def json_keys(value) -> set[str]:  # noqa: ANN001
    """Every key of every object in a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in json_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in json_keys(v)}
    return set()


def run_async(coroutine: Any) -> Any:
    """``asyncio.run`` in a thread of its own: the maps' session-wide browser (Playwright's
    sync API) keeps an event loop running in this one for the rest of the session."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
