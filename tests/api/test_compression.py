"""Large answers rendered once per snapshot go out gzip-compressed, compressed once."""

from __future__ import annotations

import gzip

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from beatlight.api import compression
from beatlight.api.compression import Precompressed

pytestmark = pytest.mark.unit

RENDERED = b'{"areas": [' + b'{"code": "E05000001", "patrol_minutes": 12.5},' * 2000 + b"{}]}"


@pytest.fixture
def client(monkeypatch) -> TestClient:
    calls = []
    real = gzip.compress
    monkeypatch.setattr(compression.gzip, "compress",
                        lambda *a, **k: calls.append(1) or real(*a, **k))  # fmt: skip
    app = FastAPI()

    @app.get("/rendered")  # the same bytes object every time, as Document.render gives
    async def rendered() -> Response:
        return Response(RENDERED, media_type="application/json")

    @app.get("/fresh")  # new bytes every time, as an ad hoc query
    async def fresh() -> Response:
        return Response(RENDERED[:-1] + b"}", media_type="application/json")

    @app.get("/small")
    async def small() -> Response:
        return Response(RENDERED[:100], media_type="application/json")

    @app.get("/missing")
    async def missing() -> Response:
        return Response(RENDERED, status_code=404, media_type="application/json")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(iter([RENDERED, RENDERED]), media_type="application/json")

    app.add_middleware(Precompressed)
    test_client = TestClient(app)
    test_client.compressions = calls  # type: ignore[attr-defined]
    return test_client


def raw(client: TestClient, path: str, accept: str = "gzip, deflate"):
    """The answer as sent: its encoding header and its body bytes, not decoded."""
    with client.stream("GET", path, headers={"Accept-Encoding": accept}) as answer:
        return answer.status_code, answer.headers, b"".join(answer.iter_raw())


def test_a_body_sent_again_goes_out_compressed_and_is_compressed_once(client):
    _, first, body = raw(client, "/rendered")
    assert "content-encoding" not in first and body == RENDERED  # seen once: as it is
    for _ in range(3):
        _, headers, body = raw(client, "/rendered")
        assert headers["content-encoding"] == "gzip"
        assert headers["vary"] == "Accept-Encoding"
        assert int(headers["content-length"]) == len(body) < len(RENDERED) / 5
        assert gzip.decompress(body) == RENDERED
    assert client.compressions == [1]
    assert client.get("/rendered").content == RENDERED  # decoded by the client


def test_clients_that_do_not_accept_gzip_get_the_body_as_it_is(client):
    for accept in ("identity", "gzip;q=0", "br"):
        for _ in range(2):
            _, headers, body = raw(client, "/rendered", accept)
            assert "content-encoding" not in headers and body == RENDERED


def test_bodies_sent_once_small_failed_or_streamed_are_not_compressed(client):
    for path in ("/fresh", "/small", "/missing", "/stream"):
        for _ in range(2):
            status, headers, body = raw(client, path)
            assert "content-encoding" not in headers, path
            assert body.startswith(RENDERED[:100])
    assert client.compressions == []


def test_memory_is_bounded_by_the_bytes_kept():
    middleware = Precompressed(None, kept_bytes=3 * len(RENDERED))
    for _ in range(10):
        middleware._remember(compression._Body(RENDERED[:-1] + b"}"))
    assert len(middleware._bodies) == 3 and middleware._kept == 3 * len(RENDERED)
