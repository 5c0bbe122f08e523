"""The security tests' API: an app over a fresh SQLite store with one key per role, and
``beatlight api`` running as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy.orm import Session

from beatlight.api.app import create_app
from beatlight.api.db import create_engine_for, upgrade
from beatlight.api.keys import ROLES, create_key
from beatlight.geo.attributes import load_attributes
from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.geography import geography_from_wards
from beatlight.settings import Settings
from tests.api.conftest import new_database
from tests.streams.test_report_vs_oracle import _frame


@pytest.fixture(scope="module")
def geography():
    wards = wards_from_frame(_frame())
    return geography_from_wards(wards, attributes=load_attributes(None, wards, 600.0))


@pytest.fixture
def store(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """A migrated, empty SQLite store and a key per role: ``store.engine``, ``store.keys``."""
    url = next(iter(new_database("sqlite", tmp_path_factory)))
    upgrade(url)
    engine = create_engine_for(url)
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"security {role}")[1] for role in ROLES}
    yield SimpleNamespace(engine=engine, keys=keys)
    engine.dispose()


@pytest.fixture
def app_with(store, geography):
    """``app_with(**settings)``: the real app over ``store`` (rate limit off unless given)."""

    def build(**settings):
        settings.setdefault("rate_limit_per_minute", 0)
        return create_app(Settings(**settings), store.engine, geography)

    return build


#: ``BEATLIGHT_HEADER_TIMEOUT_SECONDS`` of :func:`running_api`.
HEADER_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def running_api(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """``beatlight api`` as a user starts it (no Kafka), over a SQLite store with a key per
    role: ``running_api.url``, ``.keys``, ``.engine``, ``.log`` (its output), ``.process``.
    Request heads are due within ``HEADER_TIMEOUT_S`` (so that a test can wait that long)."""
    folder = tmp_path_factory.mktemp("running-api")
    with start_api(folder, {"BEATLIGHT_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S)}) as api:
        yield api


@contextmanager
def start_api(folder: Path, env: dict[str, str], *options: str) -> Iterator[SimpleNamespace]:
    """``beatlight api`` running as a process over a new SQLite store in ``folder``, with
    ``env`` as its only ``BEATLIGHT_*`` variables and ``options`` added to its command line;
    stopped with SIGTERM on leaving. Yields what :func:`running_api` describes."""
    from beatlight.geo.synthetic import write_synthetic
    from tests.conftest import wait_until
    from tests.support import free_port

    boundaries, log = folder / "wards.geojson", folder / "api.log"
    write_synthetic(boundaries)
    url = f"sqlite:///{folder / 'beatlight.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    with Session(engine) as session, session.begin():
        keys = {role: create_key(session, role, f"running {role}")[1] for role in ROLES}
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "beatlight", "api", "--boundaries", str(boundaries),
         "--database-url", url, "--port", str(port), *options],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=environment | env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def died() -> str | None:
        return log.read_text()[-3000:] if process.poll() is not None else None

    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, "beatlight api",
                   60, alive=died)  # fmt: skip
        yield SimpleNamespace(url=base, port=port, keys=keys, engine=engine, log=log,
                              process=process)  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        engine.dispose()
