"""The package's shape: one import name, every folder installed, and the layers' contracts.

The repository keeps its folders (geo/, streams/, runtime/, ...) and pyproject.toml maps
them into ``beatlight``; these tests keep that mapping complete and the import contracts
(``[tool.importlinter]``, run by ``scripts/lint-imports``) able to fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SETUP = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder(package: str) -> Path:
    """Where ``package`` lives in the repository, by the longest package-dir prefix."""
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in SETUP["package-dir"]:
            return ROOT / SETUP["package-dir"][prefix] / Path(*parts[n:])
    raise AssertionError(f"{package} has no package-dir")


def test_everything_installs_under_the_one_name_beatlight():
    assert all(p == "beatlight" or p.startswith("beatlight.") for p in SETUP["packages"])
    assert all(p == "beatlight" or p.startswith("beatlight.") for p in SETUP["package-dir"])


def test_every_folder_with_python_in_it_is_a_listed_package():
    """A subpackage missing from ``packages`` would vanish from a wheel yet work in a checkout."""
    listed = set(SETUP["packages"])
    found = set()
    for package, folder in SETUP["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found == listed, f"add to or remove from pyproject's packages: {found ^ listed}"
    for package in listed:
        assert (_folder(package) / "__init__.py").is_file(), package


def test_the_top_level_folders_are_not_importable_by_their_own_names():
    code = (
        "import importlib.util, sys; sys.path.remove(sys.path[0]) if sys.path[0] in ('', '.') "
        "else None; print([n for n in ('geo', 'streams', 'runtime', 'api', 'maps', 'reports') "
        "if importlib.util.find_spec(n) is not None])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(root / "scripts" / "lint-imports"), "--no-cache"],
                          env={**os.environ, "BEATLIGHT_PYTHON": sys.executable},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_layers_contracts_hold():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_the_contracts_fail_when_the_stream_core_imports_kafka(tmp_path):
    """The check can fail: a copy whose model imports a Kafka client breaks a contract."""
    copy = tmp_path / "repo"
    names = ["pyproject.toml", "scripts", *SETUP["package-dir"].values()]
    for name in set(names):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    runs = copy / SETUP["package-dir"]["beatlight.streams"] / "runs.py"
    runs.write_text(runs.read_text() + "\nimport kafka  # noqa\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "beatlight.streams.runs -> kafka" in result.stdout


def test_a_file_over_300_lines_says_why_in_its_docstring():
    """Files a reader takes in at once; the few that must be longer say why (issue 16)."""
    import ast

    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    unexplained = []
    for name in tracked:
        text = (ROOT / name).read_text()
        if text.count("\n") <= 300:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if "Long because " not in docstring:
            unexplained.append(f"{name} ({text.count(chr(10))} lines)")
    assert unexplained == [], "split these, or say 'Long because ...' in the docstring"
