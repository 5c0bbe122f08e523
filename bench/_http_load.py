"""A closed-loop HTTP/1.1 load generator for ``bench/api_load.py`` (asyncio, keep-alive).

Each of ``concurrency`` connections sends its next request as soon as the last one
is answered. The client is a few lines of asyncio streams rather than an HTTP
library, so that one core of it can outrun the one core the API has: the table of
``bench/api_load.py`` shows the CPU share of both, to prove it.

Endpoints are measured in rounds, in turn (trivial, then each endpoint, then the
trivial again, ...), so that a neighbour busy on the machine for a few seconds
slows every endpoint a little rather than one endpoint a lot. Each turn starts
with an uncounted warm-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Endpoint", "Load", "measure"]


@dataclass
class Endpoint:
    """Requests to send in turn (one path, or many to visit many rows), with a key or not."""

    name: str
    paths: list[str]
    key: str | None = None

    def requests(self, port: int) -> list[bytes]:
        auth = f"X-API-Key: {self.key}\r\n" if self.key else ""
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
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


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
) -> list[Load]:
    """Each endpoint under load for ``seconds`` in all, in ``rounds`` turns.

    Every turn starts with ``warmup`` seconds not counted, which last until their
    requests are answered: caches that expired since the endpoint's last turn are
    filled again, so a turn measures the endpoint warm.
    """
    requests = [endpoint.requests(port) for endpoint in endpoints]
    loads = [Load(endpoint.name) for endpoint in endpoints]
    for _ in range(rounds):
        for batch, load in zip(requests, loads, strict=True):
            if warmup > 0:
                asyncio.run(_drive(port, batch, warmup, concurrency, Load("warm-up")))
            server, client = cpu_seconds(pid), time.process_time()
            load.seconds += asyncio.run(_drive(port, batch, seconds / rounds, concurrency, load))
            load.server_cpu_s += cpu_seconds(pid) - server
            load.client_cpu_s += time.process_time() - client
    if report is not None:
        for load in loads:
            report(load)
    return loads


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return math.nan


async def _drive(port: int, requests: list[bytes], seconds: float, concurrency: int,
                 load: Load) -> float:  # fmt: skip
    """Closed-loop load for ``seconds``; the seconds until every connection finished."""
    deadline = time.perf_counter() + seconds

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = offset
        try:
            while (started := time.perf_counter()) < deadline:
                writer.write(requests[sent % len(requests)])
                sent += concurrency
                status = await _read_response(reader)
                load.latencies_s.append(time.perf_counter() - started)
                load.statuses[status] += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    began = time.perf_counter()
    await asyncio.gather(*(connection(k) for k in range(concurrency)))
    return time.perf_counter() - began


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response whole; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(lower[at + 17 : end]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status
