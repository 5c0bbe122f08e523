"""The benchmark scripts still run: each answers ``--help``, and each stream benchmark
finishes a tiny run (seconds of work, not a measurement) and prints its figure last.

A broken import, option or helper in ``bench/`` shows here rather than an hour into a
full-size run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
#: The PostgreSQL server where stage_costs.py may create its scratch database.
POSTGRES = os.environ.get("BEATLIGHT_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip
SCRIPTS = [
    "stream_throughput", "stream_latency", "stream_memory", "batch_scale", "api_load",
    "stage_costs",
]  # fmt: skip


def run_bench(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """``python bench/SCRIPT.py ARGS`` from the checkout, as the README runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / f"{script}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_answers_help(script: str) -> None:
    done = run_bench(script, "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: "), done.stdout


@pytest.mark.parametrize(
    ("script", "args", "last_line"),
    [
        pytest.param(
            "stream_throughput",
            ["--events", "2000", "--rounds", "1"],
            "ratio b/a = ",
            id="throughput",
        ),
        pytest.param(
            "stream_latency", ["--seconds", "12", "--hop-seconds", "1"], "latency at ", id="latency"
        ),
        pytest.param(
            "stream_latency",
            ["--seconds", "12", "--hop-seconds", "1", "--zones", "5"],
            "latency at 1,000 ev/s with 5 zones: ",
            id="latency-zones",
        ),
        pytest.param(
            "stream_memory",
            ["--days", "1", "--units", "10", "--ping-seconds", "300"],
            "memory after 1 d ",
            id="memory",
        ),
    ],
)
def test_stream_benchmark_tiny_run(
    script: str, args: list[str], last_line: str, staffordshire: Path, tmp_path: Path
) -> None:
    done = run_bench(
        script,
        *args,
        "--partitions",
        "2",
        "--boundaries",
        str(staffordshire),
        "--workdir",
        str(tmp_path),
        timeout=180,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.splitlines()[-1].startswith(last_line), done.stdout[-2000:]


def test_stream_benchmarks_with_zones_say_where_the_pings_fell(
    staffordshire: Path, tmp_path: Path
) -> None:
    """``--zones N``: the zones file is made, (b) runs with it and (b0) without."""
    done = run_bench("stream_throughput", "--events", "2000", "--rounds", "1",
                     "--zones", "5", "--partitions", "2", "--boundaries",
                     str(staffordshire), "--workdir", str(tmp_path), timeout=180)  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "BEATLIGHT_ZONES=" + str(tmp_path / "zones-5.geojson") in done.stdout
    assert "zones: 5 hot spots of 150 m" in done.stdout
    assert re.search(r"[\d.]+% of [\d,]+ pings are in a zone", done.stdout), done.stdout[-2000:]
    assert "loaded 5 zones" in (tmp_path / "bench-worker-b-1.log").read_text()
    assert "zones" not in (tmp_path / "bench-worker-b0-1.log").read_text()
    last = done.stdout.splitlines()[-1]
    assert last.startswith("ratio b/a = ") and "with 5 zones (target >= 0.65)" in last


def test_batch_scale_with_zones_runs_the_report_both_ways(
    staffordshire: Path, tmp_path: Path
) -> None:
    """``batch_scale --zones N``: ward-only, then with --zones on the same file; the last
    line is what zones add, and the zoned document has the zones' figures."""
    done = run_bench("batch_scale", "--events", "20000", "--zones", "5", "--formats", "ndjson",
                     "--orders", "given", "--check-points", "100", "--boundaries",
                     str(staffordshire), "--workdir", str(tmp_path), timeout=180)  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    out = " ".join(done.stdout.split())  # Rich wraps long lines
    assert "--zones " + str(tmp_path / "zones-5-events-20000-seed1.geojson") in out
    assert re.search(r"5 zones, [1-9][\d,]* sessions", out), out[-2000:]
    assert done.stdout.splitlines()[-1].startswith("zones add ")


def test_stream_memory_keeps_its_old_option_names() -> None:
    """Commands written for the one stream script (``--memory-days`` ...) still parse."""
    sys.path.insert(0, str(REPO))
    from bench.stream_memory import main

    with pytest.raises(SystemExit) as stopped:
        main(["--memory-days", "0", "--memory-units", "5", "--memory-setting", "A=1"])
    assert stopped.value.code == 2  # parsed, then refused: --days must be at least 1


def test_stage_costs_tiny_run(staffordshire: Path, tmp_path: Path) -> None:
    """Every stage measured (lanes, aggregator, materialiser, API), one real worker, and
    the model's answer for a national feed printed last."""
    done = run_bench(
        "stage_costs",
        "--boundaries", str(staffordshire), "--events", "4000", "--units", "50",
        "--lanes", "1,2", "--partitions", "2", "--workers", "1", "--requests", "3",
        "--workdir", str(tmp_path), "--database-url", POSTGRES,
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    out = done.stdout
    for stage in ("2 lanes: lane ", "materialiser, one hour snapshot", "API, live metrics, ward",
                  "1 workers: ", "the model against real workers here"):  # fmt: skip
        assert stage in out, out[-3000:]
    assert out.splitlines()[-1].startswith("cores for a national feed of 10,000 events/s: "), out


def test_api_load_tiny_run(staffordshire: Path) -> None:
    """Every endpoint measured (a day of history, a second each), the conditional requests
    and the history at 4 clients included, and the key ratio printed last."""
    done = run_bench(
        "api_load",
        "--boundaries", str(staffordshire), "--days", "1", "--seconds", "1", "--rounds", "1",
        "--warmup", "0", "--concurrency", "4", "--database-url", POSTGRES,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "If-None-Match (304)" in done.stdout
    assert re.search(r"history p99 with 4 clients: [\d.]+ ms", done.stdout), done.stdout[-2000:]
    assert done.stdout.splitlines()[-1].startswith("ratio live metrics (ward, 24h) / trivial: ")
