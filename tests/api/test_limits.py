"""Request limits: 413 for large bodies, 429 with Retry-After per client, JSON replies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from beatlight.api.auth import Authenticator, Principal, requires
from beatlight.api.keys import create_key
from beatlight.api.limits import RequestLimits, TokenBuckets, install_limits
from tests.conftest import run_async

LIMIT = 1000


def limited_app(*, rate_per_minute: int = 0, burst: int = 1) -> FastAPI:
    """An app echoing the size of what it was sent, behind the limits."""
    app = FastAPI()
    app.state.calls = 0

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        app.state.calls += 1
        return {"bytes": len(await request.body())}

    @app.get("/ping")
    def ping() -> dict:
        return {"ok": True}

    install_limits(app, max_request_bytes=LIMIT, rate_per_minute=rate_per_minute, burst=burst)
    return app


# -- request bodies ------------------------------------------------------------------------


@pytest.mark.unit
def test_a_body_over_the_bound_is_413_before_any_route_reads_it():
    app = limited_app()
    client = TestClient(app)
    assert client.post("/echo", content=b"x" * LIMIT).json() == {"bytes": LIMIT}
    response = client.post("/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {"detail": f"the request body is larger than {LIMIT} bytes"}
    assert app.state.calls == 1


@pytest.mark.unit
def test_a_chunked_body_over_the_bound_is_413():
    app = limited_app()
    client = TestClient(app)

    def chunks(n: int) -> Iterator[bytes]:
        for _ in range(n):
            yield b"x" * 300

    response = client.post("/echo", content=chunks(3))  # no Content-Length
    assert response.status_code == 200 and response.json() == {"bytes": 900}
    response = client.post("/echo", content=chunks(4))
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["detail"]
    assert app.state.calls == 1


@pytest.mark.unit
def test_chunks_are_counted_as_they_arrive_and_replayed_whole():
    seen: list[bytes] = []

    async def app(scope, receive, send):  # noqa: ANN001
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def call(parts: list[bytes]) -> tuple[list[dict], int]:
        queue = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                 for i, p in enumerate(parts)]  # fmt: skip
        read = 0

        async def receive() -> dict:
            nonlocal read
            read += 1
            return queue.pop(0) if queue else {"type": "http.disconnect"}

        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": [],
                 "client": ("10.0.0.1", 1234)}  # fmt: skip
        await RequestLimits(app, max_request_bytes=10, rate_per_minute=0, burst=1)(
            scope, receive, send
        )
        return sent, read

    sent, _ = run_async(call([b"abcd", b"efgh", b"ij"]))
    assert sent[0]["status"] == 204 and seen == [b"abcdefghij"]
    sent, read = run_async(call([b"abcd", b"efgh", b"ijk", b"never read"]))
    assert sent[0]["status"] == 413 and read == 3 and len(seen) == 1


@pytest.mark.unit
def test_a_content_length_that_is_not_a_number_is_400_json():
    async def app(scope, receive, send):  # noqa: ANN001
        raise AssertionError("not reached")

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "POST", "path": "/", "client": None,
             "headers": [(b"content-length", b"lots")]}  # fmt: skip
    limits = RequestLimits(app, max_request_bytes=10, rate_per_minute=60, burst=1)
    run_async(limits(scope, receive, send))
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b'{"detail":"the Content-Length header is not a number"}'


@pytest.mark.integration
def test_a_real_server_refuses_a_large_chunked_upload():
    """Through uvicorn and a socket: chunked transfer encoding, as a client sends it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(limited_app(), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)

            def chunks(n: int) -> Iterator[bytes]:
                yield from (b"y" * 250 for _ in range(n))

            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                assert client.post("/echo", content=chunks(4)).json() == {"bytes": 1000}
                response = client.post("/echo", content=chunks(40))
                assert response.status_code == 413
                assert response.json() == {"detail": "the request body is larger than 1000 bytes"}
        finally:
            server.should_exit = True
            thread.join(10)


# -- request rates -------------------------------------------------------------------------


@pytest.mark.unit
def test_a_client_past_its_burst_is_429_with_retry_after():
    client = TestClient(limited_app(rate_per_minute=60, burst=3))
    assert [client.get("/ping").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/ping")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"  # one request a second
    assert response.json()["detail"].startswith("too many requests: a client may make 60 a minute")


@pytest.mark.unit
def test_rate_zero_turns_the_rate_limit_off():
    client = TestClient(limited_app(rate_per_minute=0, burst=1))
    assert {client.get("/ping").status_code for _ in range(200)} == {200}
    assert client.post("/echo", content=b"x" * (LIMIT + 1)).status_code == 413  # still bounded


@pytest.mark.unit
def test_buckets_refill_at_the_rate():
    now = [0.0]
    buckets = TokenBuckets(rate_per_minute=120, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # two tokens a second
    now[0] += 0.25
    assert buckets.take("a") == pytest.approx(0.25)
    now[0] += 0.25
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0  # every client has its own bucket


@pytest.mark.unit
def test_idle_buckets_are_forgotten_and_their_number_is_bounded():
    now = [0.0]
    buckets = TokenBuckets(rate_per_minute=60, burst=5, clock=lambda: now[0], max_clients=100)
    for n in range(50):
        buckets.take(f"ip:10.0.0.{n}")
    assert len(buckets) == 50
    now[0] += 5  # five seconds refill a bucket of five: forgetting it changes nothing
    buckets.take("ip:10.0.1.1")
    assert len(buckets) == 1
    for n in range(1000):
        buckets.take(f"ip:10.1.{n // 256}.{n % 256}")
    assert len(buckets) <= 100


@pytest.mark.unit
def test_buckets_are_safe_across_threads():
    buckets = TokenBuckets(rate_per_minute=1, burst=1000)
    granted: list[int] = []

    def take() -> None:
        granted.append(sum(buckets.take("one client") == 0.0 for _ in range(250)))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 1000  # 2000 tries, exactly the burst granted


# -- per key, on the real store --------------------------------------------------------------


@pytest.mark.integration
def test_each_verified_api_key_has_its_own_bucket(engine):
    app = FastAPI()
    app.state.auth = Authenticator(engine)

    @app.get("/points")
    def points(principal: Annotated[Principal, requires("inspector", "pcc")]) -> dict:
        return {"role": principal.role}

    install_limits(app, max_request_bytes=LIMIT, rate_per_minute=60, burst=2,
                   verified=app.state.auth.bucket)  # fmt: skip
    with Session(engine) as session, session.begin():
        first = create_key(session, "inspector")[1]
        second = create_key(session, "pcc")[1]
    client = TestClient(app)
    # Each key's first request, before the store has vouched for it, is its address's.
    assert client.get("/points", headers={"X-API-Key": first}).status_code == 200
    assert client.get("/points", headers={"X-API-Key": second}).status_code == 200
    assert client.get("/points").status_code == 429
    for _ in range(2):
        assert client.get("/points", headers={"X-API-Key": first}).status_code == 200
    assert client.get("/points", headers={"X-API-Key": first}).status_code == 429
    # The same key as a bearer token shares its bucket; another key does not.
    assert client.get("/points", headers={"Authorization": f"Bearer {first}"}).status_code == 429
    assert client.get("/points", headers={"Authorization": f"Bearer {second}"}).status_code == 200
