"""Shared things have one home (issue 16): topic names, free ports, Faust's broker URLs
and the window metrics are written once in the product and imported everywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from beatlight.runtime.broker import faust_brokers
from beatlight.runtime.topics import TOPICS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("beatlight", "geo", "streams", "runtime", "api", "maps", "reports", "bench")


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path)))
        for folder in PRODUCT
        for path in sorted((ROOT / folder).rglob("*.py"))
    ]


def _strings(tree: ast.Module) -> list[str]:
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_topic_names_are_written_only_in_runtime_topics():
    """A name in prose (a docstring, a help text) is fine; a name as a value is not."""
    names = {spec.name for spec in TOPICS}
    found = [
        (path, value)
        for path, tree in _modules()
        if path != "runtime/topics.py"
        for value in _strings(tree)
        if value in names
    ]
    assert found == []


@pytest.mark.parametrize(
    ("what", "home", "found"),
    [
        ("a free port", "beatlight/processes.py",
         lambda tree: [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                       and n.name.strip("_") == "free_port"]),
        ("Faust's broker URLs", "runtime/broker.py",
         lambda tree: [s for s in _strings(tree) if s.startswith("kafka://")]),
        ("the window metrics", "streams/report.py",
         lambda tree: [t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                       for t in n.targets if isinstance(t, ast.Name) and t.id == "METRICS"]),
    ],
)  # fmt: skip
def test_a_shared_thing_is_written_once(what, home, found):
    # The benchmarks keep their own helpers in bench/_run.py, as the tests do in tests/support.py.
    where = [path for path, tree in _modules() if path != "bench/_run.py" and found(tree)]
    assert where == [home], f"{what}: write it in {home} and import it"


def test_faust_brokers_name_every_bootstrap_server():
    assert faust_brokers("k1:9092") == "kafka://k1:9092"
    assert faust_brokers("k1:9092,k2:9092") == "kafka://k1:9092,kafka://k2:9092"
