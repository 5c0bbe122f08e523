"""Fault-suite fixtures: a broker per test, the synthetic wards and a printed random seed.

The suite runs on a fresh clone, so it uses the SYNTHETIC wards (``geo.synthetic``),
never the reference data beside the checkout.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from beatlight.geo.geography import Geography, load_geography
from beatlight.geo.synthetic import write_synthetic
from tests.streams.e2e_support import kafka  # noqa: F401 - a fresh broker per test


@pytest.fixture(scope="session")
def wards_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("wards") / "wards.geojson")


@pytest.fixture(scope="session")
def geography(wards_file: Path) -> Geography:
    return load_geography(wards_file)


@pytest.fixture
def fault_seed() -> int:
    """The seed of a test's random choices: ``BEATLIGHT_FAULT_SEED``, else a new one.

    Printed, so a failing run shows it (pytest prints a failed test's output);
    ``BEATLIGHT_FAULT_SEED=<seed> pytest tests/faults`` replays the same choices.
    """
    seed = int(os.environ.get("BEATLIGHT_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"fault seed: {seed} (replay with BEATLIGHT_FAULT_SEED={seed})")
    return seed
