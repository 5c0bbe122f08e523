"""The API's CPU per request, for ``bench/stage_costs.py``: one uvicorn process
(``bench/_api_server.py``, as ``bench/api_load.py`` runs it) over a store the stage
benchmark filled, asked one request at a time on a keep-alive connection; its CPU time
read from ``/proc`` before and after."""

from __future__ import annotations

import contextlib
import http.client
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._run import REPO, free_port, tail
from bench._stream import child

__all__ = ["ApiCost", "api_process", "fresh_live_cost", "request_cost", "thread_cpu"]

SERVER_SCRIPT = REPO / "bench" / "_api_server.py"


@dataclass(frozen=True)
class ApiCost:
    """One endpoint: the API's CPU per request, and the size of an answer as sent."""

    name: str
    cpu_s: float
    body_bytes: int


@contextlib.contextmanager
def api_process(database_url: str, boundaries: Path, log: Path) -> Iterator[tuple[int, int]]:
    """The API on a free port until the block ends: ``(pid, port)`` once it answers."""
    port = free_port()
    command = [sys.executable, str(SERVER_SCRIPT), database_url, str(boundaries), str(port)]
    with child("API", command, cwd=REPO, log=log) as process:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the API exited ({process.returncode}):\n{tail(log)}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the API did not answer /healthz in 180 s:\n{tail(log)}")
            time.sleep(0.3)
        yield process.pid, port


def thread_cpu(pid: int) -> float:
    """CPU seconds of a process's live threads, to the nanosecond (``/proc/PID/task/*/
    schedstat``; ``/proc/PID/stat`` counts in ticks of 10 ms, coarser than a request)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def request_cost(
    pid: int, port: int, name: str, path: str, key: str | None, n: int, seconds: float = 2.0
) -> ApiCost:
    """At least ``n`` requests of ``path`` one after the other, for at least ``seconds``,
    after two uncounted ones (the answer cached, as a busy endpoint's is): the API's CPU
    per request."""
    with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=120)) as conn:
        size = 0
        for _ in range(2):
            size = _get(conn, path, key)
        before, began, done = thread_cpu(pid), time.monotonic(), 0
        while done < n or time.monotonic() - began < seconds:
            _get(conn, path, key)
            done += 1
        spent = thread_cpu(pid) - before
    return ApiCost(name, spent / done, size)


def fresh_live_cost(
    pid: int, port: int, path: str, key: str, store_live: Callable[[int], None], n: int,
    ttl_s: float,
) -> float:  # fmt: skip
    """The first request after each of ``n`` new live snapshots (the API reloads the live
    document from the store and renders it again): its CPU, the median."""
    costs = []
    for i in range(n):
        store_live(i + 1)
        time.sleep(ttl_s + 0.3)  # past the API's live cache: it looks for a newer one
        # A connection of its own: storing a snapshot outlasts uvicorn's keep-alive.
        with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=120)) as c:
            before = thread_cpu(pid)
            _get(c, path, key)
            costs.append(thread_cpu(pid) - before)
    return statistics.median(costs)


def _get(conn: http.client.HTTPConnection, path: str, key: str | None) -> int:
    headers = {"Accept-Encoding": "gzip"} | ({"X-API-Key": key} if key else {})
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
    return len(body)
