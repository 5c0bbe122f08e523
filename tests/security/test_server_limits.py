"""Request heads are bounded on the real server (issue 19: 8-50 MB headers were accepted).

Against ``beatlight api`` running as a process, over raw sockets, as a client would send.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.security.conftest import HEADER_TIMEOUT_S

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

LIMIT = 65_536  # Settings.max_header_bytes


def _exchange(port: int, head: bytes) -> tuple[int, bytes]:
    """Send ``head`` (a request without a body) and read the answer: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        try:
            sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading; its answer is what matters
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer, "the server closed the connection without an answer"
    status_line, _, rest = answer.partition(b"\r\n")
    head, _, body = rest.partition(b"\r\n\r\n")
    if b" 431 " in status_line:
        assert b"x-content-type-options: nosniff" in head.lower()
    return int(status_line.split()[1]), body


def _request(path: str = "/healthz", headers: list[tuple[str, str]] = ()) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(_request(headers=[("X-Junk", "a" * (8 << 20))]), id="one-8MB-header"),
        pytest.param(
            _request(headers=[(f"X-Junk-{n}", "b" * (1 << 20)) for n in range(50)]),
            id="50MB-in-50-headers",
        ),  # fmt: skip
        pytest.param(
            _request(headers=[(f"X-{n}", "c") for n in range(20_000)]), id="20000-small-headers"
        ),  # fmt: skip
        pytest.param(_request(path="/healthz?q=" + "d" * (1 << 20)), id="1MB-url"),
    ],
)
def test_a_request_head_over_the_bound_is_431(running_api, head):
    status, body = _exchange(running_api.port, head)
    assert status == 431
    assert body == (b'{"detail":"the request line and headers are larger than %d bytes"}' % LIMIT)
    assert "(431)" in running_api.log.read_text()
    # The server goes on serving.
    assert httpx.get(f"{running_api.url}/healthz").status_code == 200


def test_a_head_within_the_bound_is_served(running_api):
    head = _request(headers=[("X-API-Key", running_api.keys["pcc"]), ("X-Pad", "e" * 60_000)])
    status, _ = _exchange(running_api.port, head)
    assert status == 200


def test_each_request_on_a_kept_alive_connection_has_its_own_bound(running_api):
    pad = [("X-Pad", "f" * 40_000)]
    with httpx.Client(base_url=running_api.url) as client:  # one connection, kept alive
        for _ in range(3):
            assert client.get("/healthz", headers=dict(pad)).status_code == 200


def _read_all(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


@pytest.mark.parametrize("sent", [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ", b""],
                         ids=["a-head-trickling-in", "nothing-at-all"])  # fmt: skip
def test_a_head_not_complete_in_time_is_408_and_the_connection_closes(running_api, sent):
    """Found probing the fix above: half-sent heads were held open for ever (slowloris)."""
    with socket.create_connection(("127.0.0.1", running_api.port), timeout=20) as sock:
        started = time.monotonic()
        if sent:
            sock.sendall(sent)
            time.sleep(HEADER_TIMEOUT_S / 2)
            sock.sendall(b"a")  # still trickling: it does not restart the clock
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert answer.endswith(b'{"detail":"the request line and headers took longer than 2 s"}')
    assert HEADER_TIMEOUT_S <= waited < HEADER_TIMEOUT_S + 5
    assert httpx.get(f"{running_api.url}/healthz").status_code == 200


def test_a_kept_alive_connection_between_requests_is_not_cut_by_the_head_timeout(running_api):
    with httpx.Client(base_url=running_api.url) as client:
        assert client.get("/healthz").status_code == 200
        time.sleep(HEADER_TIMEOUT_S + 0.5)  # longer than the head timeout, idle
        assert client.get("/healthz").status_code == 200
