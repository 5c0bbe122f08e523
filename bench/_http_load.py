"""A closed-loop HTTP/1.1 load generator for ``bench/api_load.py`` (asyncio, keep-alive).

Each of ``concurrency`` connections sends its next request as soon as the last one
is answered. The client is an asyncio protocol of a few lines rather than an HTTP
library, so that one core of it can outrun the one core the API has: it never
copies a body, it counts its bytes (England's ward figures are megabytes an
answer). The table of ``bench/api_load.py`` shows the CPU share of both, to prove it.

Endpoints are measured in rounds, in turn (trivial, then each endpoint, then the
trivial again, ...), so that a neighbour busy on the machine for a few seconds
slows every endpoint a little rather than one endpoint a lot. Each turn starts
with an uncounted warm-up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench._run import cpu_seconds

__all__ = ["Endpoint", "Load", "measure"]


@dataclass
class Endpoint:
    """Requests to send in turn (one path, or many to visit many rows), with a key or not."""

    name: str
    paths: list[str]
    key: str | None = None
    #: Connections for this endpoint, when not the run's.
    concurrency: int | None = None

    def requests(self, port: int, accept_encoding: str = "") -> list[bytes]:
        auth = f"X-API-Key: {self.key}\r\n" if self.key else ""
        if accept_encoding:
            auth += f"Accept-Encoding: {accept_encoding}\r\n"
        return [(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
                 "Connection: keep-alive\r\n\r\n").encode() for path in self.paths]  # fmt: skip


@dataclass
class Load:
    """What one endpoint did under load, over all its rounds."""

    name: str
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    body_bytes: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return math.nan
        return float(np.percentile(np.asarray(self.latencies_s), q) * 1000)

    @property
    def server_cpu(self) -> float:
        """The API process's CPU time per second: 1.0 is one core all the time."""
        return self.server_cpu_s / self.seconds if self.seconds else math.nan

    @property
    def client_cpu(self) -> float:
        return self.client_cpu_s / self.seconds if self.seconds else math.nan

    @property
    def mean_kb(self) -> float:
        """Mean body size of an answer as sent (compressed, if it was), in kB."""
        return self.body_bytes / self.requests / 1000 if self.requests else math.nan

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items()
                   if not (200 <= status < 300 or status == 304))  # fmt: skip


def measure(
    endpoints: list[Endpoint],
    *,
    port: int,
    pid: int,
    seconds: float,
    warmup: float,
    concurrency: int,
    rounds: int = 1,
    report: Callable[[Load], None] | None = None,
    accept_encoding: str = "",
) -> list[Load]:
    """Each endpoint under load for ``seconds`` in all, in ``rounds`` turns.

    Every turn starts with ``warmup`` seconds not counted, which last until their
    requests are answered: caches that expired since the endpoint's last turn are
    filled again, so a turn measures the endpoint warm.
    """
    requests = [endpoint.requests(port, accept_encoding) for endpoint in endpoints]
    loads = [Load(endpoint.name) for endpoint in endpoints]
    clients = [endpoint.concurrency or concurrency for endpoint in endpoints]
    for _ in range(rounds):
        for batch, load, n in zip(requests, loads, clients, strict=True):
            if warmup > 0:
                asyncio.run(_drive(port, batch, warmup, n, Load("warm-up")))
            server, client = cpu_seconds(pid), time.process_time()
            load.seconds += asyncio.run(_drive(port, batch, seconds / rounds, n, load))
            load.server_cpu_s += cpu_seconds(pid) - server
            load.client_cpu_s += time.process_time() - client
    if report is not None:
        for load in loads:
            report(load)
    return loads


async def _drive(port: int, requests: list[bytes], seconds: float, concurrency: int,
                 load: Load) -> float:  # fmt: skip
    """Closed-loop load for ``seconds``; the seconds until every connection finished."""
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    clients = []
    for k in range(concurrency):
        _, client = await loop.create_connection(
            lambda k=k: _Connection(requests, k, concurrency, deadline, load), "127.0.0.1", port
        )
        clients.append(client)
    await asyncio.gather(*(client.finished for client in clients))
    return time.perf_counter() - began


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request, its whole answer, the next request, ...

    Answers are read as they arrive and never kept: the head is parsed for the
    status and ``Content-Length`` (every measured route sends one), and the body is
    only counted.
    """

    def __init__(self, requests: list[bytes], first: int, step: int, deadline: float,
                 load: Load) -> None:  # fmt: skip
        self.requests, self.sent, self.step = requests, first, step
        self.deadline, self.load = deadline, load
        self.finished: asyncio.Future = asyncio.get_running_loop().create_future()
        self.head = bytearray()
        self.remaining = -1  # body bytes still to come; -1 while reading the head
        self.status = 0
        self.started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._send()

    def data_received(self, data: bytes) -> None:
        if self.remaining < 0:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.head[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0 and self.status == 304:  # Not Modified has no body, and no length
                head, at = b"\r\ncontent-length: 0", 0
            if at < 0:
                self._fail(RuntimeError(f"an answer without Content-Length: {head[:200]!r}"))
                return
            self.remaining = int(head[at + 17 :].split(b"\r\n", 1)[0])
            data = bytes(self.head[end + 4 :])
            self.head.clear()
        self.remaining -= len(data)
        self.load.body_bytes += len(data)
        if self.remaining < 0:
            self._fail(RuntimeError("an answer longer than its Content-Length"))
        elif self.remaining == 0:
            self.load.latencies_s.append(time.perf_counter() - self.started)
            self.load.statuses[self.status] += 1
            self.remaining = -1
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            if self.remaining == -1 and not self.head and time.perf_counter() >= self.deadline:
                self.finished.set_result(None)
            else:
                self.finished.set_exception(exc or ConnectionError("the API closed a connection"))

    def _send(self) -> None:
        self.started = time.perf_counter()
        if self.started >= self.deadline:
            self.transport.close()
            if not self.finished.done():
                self.finished.set_result(None)
            return
        self.transport.write(self.requests[self.sent % len(self.requests)])  # type: ignore[attr-defined]
        self.sent += self.step

    def _fail(self, error: Exception) -> None:
        if not self.finished.done():
            self.finished.set_exception(error)
        self.transport.close()
