"""How long after a ping is produced does the worker's live snapshot of the force show it?

    python bench/stream_latency.py [--seconds 40] [--live-seconds 0.25] [--zones N]
        [--latency-pause SECONDS] [--partitions 4]
        [--boundaries ../shared/data/staffordshire-wards.geojson] [--workdir DIR]

A fresh embedded Tansu broker (memory storage); the worker with ``--live-clock wall``
and BEATLIGHT_LIVE_SECONDS=``--live-seconds``; simulated pings (no feed faults)
re-timed to the wall clock at a steady 1,000 events/s for ``--seconds``. For every
live snapshot of the force area read from ``visibility.live`` after the first 10 s:
read time - produce time of the ping it last saw (target p99 < 1 s). Also printed: the
age of the newest snapshot sampled every 0.1 s (which counts stalls), and, as the
baseline, the delay of one hop through the same broker for a consumer that waits up
to 1,500 ms in Fetch (Faust's fixed value) and one that waits 50 ms.

With ``--zones N``: N hot spots of 150 m where the simulated patrols go (they are sent
to them; ``bench/_zones.py``), and the same run twice on fresh brokers: the worker
ward-only, then with BEATLIGHT_ZONES. The last line printed is the latency summary
(with zones, if any).

Long because the measurement and its baseline (one hop through the same broker) are read
together; what other benchmarks share is in bench/_stream.py and bench/_run.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import orjson  # noqa: E402

from beatlight.runtime.producers import PresenceProducer  # noqa: E402
from beatlight.runtime.topics import VISIBILITY_LIVE, TopicSpec, ensure_topics  # noqa: E402
from bench._run import cpu_seconds, free_port, tail  # noqa: E402
from bench._stream import (  # noqa: E402
    catch_up_summary,
    child,
    fresh_broker,
    lane_sum,
    load_average,
    parser,
    say,
    scrape,
    simulated,
    start,
    worker_command,
    worker_env,
)

RATE = 1000  # pings a second
SKIP_S = 10.0  # the first seconds, while the worker settles, are not counted
_OVERLAP = re.compile(r"tick\s+is\s+overlapping\s+\(interval=[\d.]+\s+runtime=([\d.]+)\)")


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, zones=True)
    cli.add_argument("--seconds", type=float, default=40.0,
                     help="how long the feed runs (default 40; the first 10 s are not "
                     "counted)")  # fmt: skip
    cli.add_argument("--live-seconds", type=float, default=0.25,
                     help="BEATLIGHT_LIVE_SECONDS of the worker (default 0.25)")  # fmt: skip
    cli.add_argument("--latency-pause", type=float, default=0.0, metavar="SECONDS",
                     help="stop the feed this long after its first 5 s, so that an idle-lane "
                     "catch-up begun at start-up can end (default 0: a steady feed)")  # fmt: skip
    cli.add_argument("--hop-seconds", type=float, default=5.0,
                     help="how long each one-hop baseline runs (default 5)")  # fmt: skip
    args = cli.parse_args(argv)
    if args.seconds <= SKIP_S:
        cli.error(f"--seconds must be over {SKIP_S:.0f} (the first {SKIP_S:.0f} s are skipped)")
    if args.zones < 0:
        cli.error("--zones must be at least 0")
    with contextlib.ExitStack() as stack:
        wards, work = start("stream_latency", args, stack)
        n = int(RATE * args.seconds)
        events, zones = simulated(wards, int(n * 1.05), seed=11, faults=False,
                                  zones=args.zones, work=work)  # fmt: skip
        source = [e for e in events if isinstance(e, dict)][:n]
        del events
        runs = {"": latency(args, work, source)}
        if zones is not None:
            runs[f" with {args.zones} zones"] = latency(args, work, source, zones)
    say("== summary ==")
    for label, lat in runs.items():
        say(f"latency at {RATE:,} ev/s{label}: p50 {1000 * lat['p50']:.0f} ms, p99 "
            f"{1000 * lat['p99']:.0f} ms over {lat['count']} snapshots (~{lat['expected']:.0f} "
            f"due), age p99 {1000 * lat['age_p99']:.0f} ms, longest without a snapshot "
            f"{lat['max_gap']:.1f} s (target p99 < 1 s)  ({lat['wall']:.0f} s, load average "
            f"{lat['load']:.2f} before)")  # fmt: skip
    return 0


def latency(args: Any, work: Path, source: list[dict], zones: Path | None = None) -> dict[str, Any]:
    """One run of the worker against the paced feed; with ``zones``, BEATLIGHT_ZONES."""
    duration, live_s, pause = args.seconds, args.live_seconds, args.latency_pause
    with_zones = f", the worker with the zones of {zones.name}" if zones else ", ward-only"
    say(f"== (c) latency: {RATE:,} ev/s for {duration:.0f} s, live every {live_s} s "
        f"(wall clock){with_zones if args.zones else ''} ==")  # fmt: skip
    say(f"  {load_average()}")
    load = os.getloadavg()[0]
    if pause:
        say(f"  (--latency-pause: the feed stops for {pause:.1f} s after its first 5 s)")
    started = time.perf_counter()
    n = len(source)
    log = work / f"latency-worker{'-zones' if zones else ''}.log"
    with fresh_broker(args.partitions) as broker:
        port = free_port()
        env = worker_env(f"bench-worker-c{'-zones' if zones else ''}", args.partitions,
                         BEATLIGHT_LIVE_SECONDS=str(live_s),
                         **({"BEATLIGHT_ZONES": str(zones)} if zones else {}))  # fmt: skip
        with child("worker", worker_command(broker.bootstrap, args.boundaries, "wall", port),
                   env=env, cwd=work, log=log) as process:  # fmt: skip
            while scrape(port) is None:  # geography loaded, web page up
                if process.poll() is not None:
                    raise SystemExit("the worker exited:\n" + tail(log))
                time.sleep(0.2)
            reader = LiveReader(broker.bootstrap)
            reader.start()
            produced: dict[int, float] = {}  # ping ts (µs) -> when it was produced
            behind = 0.0
            cpu0 = cpu_seconds(process.pid)
            try:
                with PresenceProducer(broker.bootstrap) as producer:
                    t0, wall0, last_us = time.monotonic(), time.time(), 0
                    for i, event in enumerate(source):
                        due = t0 + i / RATE + (pause if pause and i >= 5 * RATE else 0.0)
                        wait = due - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        else:
                            behind = max(behind, -wait)
                        now = time.time()
                        ts_us = last_us = max(int(now * 1e6), last_us + 1)
                        producer.send({**event, "event_id": f"lat-{i}", "ts": _rfc3339(ts_us)})
                        produced[ts_us] = now
                    sending = time.monotonic() - t0
                    wall1 = time.time()
                    producer.flush()
                cpu1 = cpu_seconds(process.pid)
                done_at_end = lane_sum(scrape(port) or {})
                time.sleep(2.0)  # the last snapshots
            finally:
                reader.stop()
            processed = lane_sum(scrape(port) or {})
        hops = {wait: broker_hop(broker.bootstrap, wait, args.hop_seconds) for wait in (1500, 50)}
        say(f"  sent {n:,} pings in {sending:.1f} s ({n / sending:,.0f} ev/s; at most "
            f"{1000 * behind:.0f} ms behind the pace); worker CPU "
            f"{100 * (cpu1 - cpu0) / sending:.0f} % of a core; processed "
            f"{done_at_end:,} records when the feed ended, {processed:,} 2 s later")  # fmt: skip
    say(f"  worker: {catch_up_summary(log)}")
    ticks = [float(x) for x in _OVERLAP.findall(log.read_text(errors="replace"))]
    if ticks:
        say(f"  worker: the live timer overran its {live_s} s interval {len(ticks)} times, "
            f"longest tick {max(ticks):.1f} s (Faust's 'tick is overlapping' "
            "warnings)")  # fmt: skip
    steady = [(r, s) for r, s in reader.snapshots if wall0 + SKIP_S <= r <= wall1]
    lat = sorted(r - produced[s] for r, s in steady if s is not None and s in produced)
    unmatched = len(steady) - len(lat)
    expected = (wall1 - wall0 - SKIP_S) / live_s
    reads = [r for r, _ in steady]
    gaps = [b - a for a, b in zip([wall0 + SKIP_S, *reads], [*reads, wall1], strict=True)]
    say(f"  {len(reader.snapshots)} force snapshots read in all ({reader.records:,} live "
        f"records); in the steady part (after {SKIP_S:.0f} s): {len(steady)} of the ~"
        f"{expected:.0f} a {live_s} s live interval gives, {unmatched} unmatched; longest "
        f"time without one {max(gaps):.1f} s")  # fmt: skip
    ages = _sampled_ages(reader.snapshots, produced, wall0, wall0 + SKIP_S, wall1)
    if lat:
        p50, p99 = _percentile(lat, 50), _percentile(lat, 99)
        say(f"  latency ping produced -> force snapshot read (per snapshot): p50 "
            f"{1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms, min {1000 * lat[0]:.0f} ms, max "
            f"{1000 * lat[-1]:.0f} ms (target p99 < 1 s)")  # fmt: skip
    else:
        p50 = p99 = math.nan
        say("  latency ping produced -> force snapshot read: no snapshot in the steady part "
            "(target p99 < 1 s: not met)")  # fmt: skip
    waits = {1500: "1500 ms (Faust's fixed value)", 50: "50 ms"}
    say("  one hop through the broker (aiokafka, a record every 10 ms), by Fetch max wait: "
        + "; ".join(f"{waits[w]}: p50 {1000 * _percentile(h, 50):.0f} ms, max "
                    f"{1000 * h[-1]:.0f} ms" for w, h in hops.items() if h))  # fmt: skip
    if ages:
        say(f"  age of the newest force snapshot, sampled every 0.1 s (counts stalls): p50 "
            f"{1000 * _percentile(ages, 50):.0f} ms, p99 {1000 * _percentile(ages, 99):.0f} ms, "
            f"max {1000 * ages[-1]:.0f} ms")  # fmt: skip
    out = {"p50": p50, "p99": p99, "count": len(lat), "expected": expected,
           "age_p99": _percentile(ages, 99) if ages else math.nan,
           "max_gap": max(gaps), "longest_tick": max(ticks, default=0.0),
           "hop_p50": _percentile(hops[1500], 50) if hops[1500] else math.nan,
           "wall": time.perf_counter() - started, "load": load}  # fmt: skip
    say(f"  wall time (c): {out['wall']:.0f} s")
    return out


class LiveReader(threading.Thread):
    """Reads visibility.live (manual assignment, no group); keeps the force snapshots."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(name="live-reader", daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                      enable_auto_commit=False, fetch_max_wait_ms=20,
                                      auto_offset_reset="earliest")  # fmt: skip
        tp = TopicPartition(VISIBILITY_LIVE, 0)
        self.consumer.assign([tp])
        self.consumer.seek_to_beginning(tp)
        self.snapshots: list[tuple[float, int | None]] = []  # (read wall time, last_seen µs)
        self.records = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            polled = self.consumer.poll(timeout_ms=100)
            read_at = time.time()
            for messages in polled.values():
                for message in messages:
                    self.records += 1
                    if message.key != b"force|force":
                        continue
                    seen = orjson.loads(message.value)["windows"]["1h"]["last_seen"]
                    self.snapshots.append((read_at, _microseconds(seen) if seen else None))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.consumer.close()


def broker_hop(bootstrap: str, fetch_wait_ms: int = 1500, seconds: float = 5.0) -> list[float]:
    """Produce -> consume delay of one hop through the broker, for a consumer that asks
    Fetch to wait up to ``fetch_wait_ms`` (Faust's aiokafka consumer: 1500, fixed).

    A record every 10 ms, ``linger_ms=0``, delays measured on one clock.
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    name = f"bench.probe.{fetch_wait_ms}"  # a fresh topic: read from its start
    probe = TopicSpec(name, "-", 1, 3_600_000, "delete", "latency probe")
    ensure_topics(bootstrap, 1, specs=[probe])

    async def run() -> list[float]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                    fetch_max_wait_ms=fetch_wait_ms)  # fmt: skip
        await producer.start()
        await consumer.start()
        tp = TopicPartition(name, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        delays: list[float] = []

        async def read() -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                now = time.time()
                delays.extend(now - float(m.value) for ms in batches.values() for m in ms)

        reader = asyncio.create_task(read())
        try:
            await asyncio.sleep(0.5)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await producer.send_and_wait(name, str(time.time()).encode(), partition=0)
                await asyncio.sleep(0.01)
            await asyncio.sleep(2 * fetch_wait_ms / 1000)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await consumer.stop()
            await producer.stop()
        return sorted(delays)

    return asyncio.run(run())


def _sampled_ages(
    snapshots: list[tuple[float, int | None]],
    produced: dict[int, float],
    origin: float,
    begin: float,
    end: float,
    step: float = 0.1,
) -> list[float]:
    """At each step: now - produce time of what the newest snapshot read so far last saw.

    Before any snapshot, the age counts from ``origin`` (when the feed began).
    """
    ages: list[float] = []
    known = sorted((r, produced[s]) for r, s in snapshots if s in produced)
    i, newest = 0, None
    t = begin
    while t <= end:
        while i < len(known) and known[i][0] <= t:
            newest = known[i][1]
            i += 1
        ages.append(t - (newest if newest is not None else origin))
        t += step
    return sorted(ages)


def _percentile(values: list[float], q: float) -> float:
    k = (len(values) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _rfc3339(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _microseconds(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


if __name__ == "__main__":
    sys.exit(main())
