"""A worker's web port: this host only unless told otherwise, two pages, and a plain 404
for every other path (issue 19, finding 5).

Real ``beatlight worker`` processes on a real broker. Requests go over a raw socket, so
each path reaches the server exactly as written (an HTTP client would resolve ``..``
and re-encode ``%``).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from beatlight.geo.synthetic import write_synthetic
from beatlight.runtime.broker import EmbeddedBroker
from beatlight.runtime.topics import ensure_topics
from tests.faults.infra import wait_for_port
from tests.streams.e2e_support import PARTITIONS, start_worker, stop
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

#: Faust's own pages (index, router, tables, statistics, graph, performance) and the
#: path that made its router answer 500.
FAUST_PATHS = ["/", "/router/", "/router/%s/", "/router/x/", "/table/", "/table/x/",
               "/table/x/y/", "/graph/", "/stats/", "/performance/", "/signal/"]  # fmt: skip
HOSTILE_PATHS = [
    # percent-encoded
    "/%2e%2e/%2e%2e/etc/passwd", "/metrics%2f..%2f..%2frouter%2f", "/%ff%fe", "/%00",
    "/%", "/%zz", "/%s%s%s%n", "/router/%25s/",
    # dot segments
    "/../../etc/passwd", "/metrics/../router/", "/healthz/..", "/./router/", "/..;/table/",
    # near the pages, and queries
    "/metrics/", "/healthz/x", "//metrics", "/METRICS", "/router/?key=%s", "/?a=" + "%" * 500,
    # very long (the server's limit for a request line is 8,190 bytes)
    "/" + "a" * 6000, "/metrics/" + "%41" * 2000, "/table/" + "../" * 2000,
]  # fmt: skip


@pytest.fixture(scope="module")
def wards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("wards") / "wards.geojson")


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    with EmbeddedBroker() as running:
        ensure_topics(running.bootstrap, PARTITIONS)
        yield running.bootstrap


@pytest.fixture(scope="module")
def worker(kafka, wards, tmp_path_factory) -> Iterator[tuple[subprocess.Popen, int]]:
    """A worker with its web port at the defaults but for the port number."""
    port = free_port()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(kafka, wards, log, web_port=port)
    try:
        wait_for_port(port, 120, process)
        yield process, port
    finally:
        assert stop(process) == 0


def test_the_web_port_listens_on_this_host_only_by_default(worker):
    process, port = worker
    assert _listening(process.pid, port) == {"127.0.0.1"}


def test_worker_web_host_opens_the_port_to_other_hosts_when_asked(kafka, wards, tmp_path):
    """docker-compose sets BEATLIGHT_WORKER_WEB_HOST=0.0.0.0 so that Prometheus can
    scrape a worker from another container."""
    port = free_port()
    process = start_worker(kafka, wards, tmp_path / "worker.log", web_port=port,
                           worker_web_host="0.0.0.0")  # fmt: skip
    try:
        wait_for_port(port, 120, process)
        assert _listening(process.pid, port) == {"0.0.0.0"}
        assert _status(port, "/healthz") == 200
    finally:
        assert stop(process) == 0


def test_only_metrics_and_healthz_are_served(worker):
    _, port = worker
    assert _status(port, "/metrics") == 200
    assert _status(port, "/healthz") == 200
    for path in FAUST_PATHS:
        assert _status(port, path) == 404, path


def test_hostile_paths_get_a_plain_404_never_a_500(worker):
    _, port = worker
    for path in HOSTILE_PATHS:
        status, head, body = _request(port, "GET", path)
        assert status == 404, path[:80]
        assert b"content-type: text/plain" in head.lower(), path[:80]
        assert body == b"404: Not Found", path[:80]


def test_no_method_or_oversized_request_line_gets_a_5xx(worker):
    _, port = worker
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"):
        for path in ("/metrics", "/healthz"):  # HEAD answers as GET; the others 405
            assert _status(port, path, method) == (200 if method == "HEAD" else 405)
        for path in ("/router/%s/", "/table/x/", "/" + "c" * 6000):
            assert _status(port, path, method) == 404, (method, path[:80])
    # A method HTTP does not know, and a request line over the server's limit: bad requests.
    assert _status(port, "/metrics", "BREW") == 400
    assert _status(port, "/" + "b" * 20_000) == 400
    assert _status(port, "/healthz") == 200  # and it still answers


def _listening(pid: int, port: int) -> set[str]:
    """The addresses the process listens on at ``port`` (from the kernel's socket table)."""
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}  # fmt: skip


def _status(port: int, path: str, method: str = "GET") -> int:
    return _request(port, method, path)[0]


def _request(port: int, method: str, path: str) -> tuple[int, bytes, bytes]:
    """One HTTP/1.1 request with ``path`` as written: (status, header block, body)."""
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1."), answer[:200]
    return int(status_line.split()[1]), head, body
