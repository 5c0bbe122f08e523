"""What each stage of the stream costs per event, and how far workers scale out by it.

    python bench/stage_costs.py [--events 200000] [--units 10000] [--lanes 1,2,4,8]
        [--workers 1,2,4] [--partitions 4] [--hours 8] [--requests 20] [--feed 10000]
        [--boundaries ../shared/data/england-wards.geojson.gz] [--skip-store]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--workdir DIR]

N simulated events (with the feed's faults) over the wards (England's 7,681 by default),
then, CPU time of each stage measured in this process (``bench/_stages.py``), not wall
time under load, so other work on the machine moves the figures little:

1. lanes (``LaneRunner``: validate, match, presence, partials), the events split by
   unit over L partitions as the broker splits them, for each L of ``--lanes``: per
   event, per lane-hour of figures, per live tick;
2. the aggregator over those lanes' partials (decode, merge, hour documents, sending
   them) and live snapshots of their live ticks (with the alerts): per event, per hour
   snapshot, per live snapshot, as L grows;
3. the materialiser writing hour and live snapshots to a scratch PostgreSQL database
   (``--database-url``; its backend's CPU counted too), and the API (its own uvicorn
   process, ``bench/_api_server.py``) answering live figures: CPU per request.

Then ``--workers`` real ``beatlight worker`` processes on the embedded broker
(``--partitions``), each count on a fresh broker, as ``bench/stream_throughput.py
--workers`` runs them, after reading the input as a worker's feed reads it
(``LaneFeed``), which gives Kafka consumption's cost per event (and a no-op Faust
agent's, for comparison: the path records took before the feed). The model
(``bench/_stage_model.py``) turns the costs into an events/s ceiling for 1 to 64 workers
(one lane per worker, the aggregator on one of them), the cores a national feed of
``--feed`` events/s needs, and its prediction for the real workers here, printed beside
what they did.

The last line printed is the cores the national feed needs by the model.

Long because one run measures every stage, starts the store, the API and the real
workers, and prints the model's three answers side by side; how each stage is measured
is in ``bench/_stages.py`` and ``bench/_stage_api.py``, the model in
``bench/_stage_model.py``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._run import REPO, code_version, cpu_seconds, stop_on_signals, work_dir  # noqa: E402
from bench._stage_model import Costs, cores_at, fit, predict  # noqa: E402
from bench._stages import (  # noqa: E402
    hour_feed,
    materialise,
    partitioned,
    run_aggregator,
    run_lanes,
    serialised,
)
from bench._stream import fresh_broker, parser, produce, say, simulated  # noqa: E402

ENGLAND = REPO.parent / "shared" / "data" / "england-wards.geojson.gz"
DEFAULT_SERVER = os.environ.get("BEATLIGHT_TEST_POSTGRES_URL",
                                "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip


def _counts(text: str) -> list[int]:
    return sorted({int(k) for k in text.split(",") if k.strip() and int(k) > 0})


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__)
    cli.set_defaults(boundaries=ENGLAND)
    cli.add_argument("--events", type=int, default=200_000, help="N (default 200,000)")
    cli.add_argument("--units", type=int, default=10_000, help="units in the simulation")
    cli.add_argument("--lanes", type=_counts, default=[1, 2, 4, 8],
                     help="lane counts measured in-process (default 1,2,4,8)")  # fmt: skip
    cli.add_argument("--workers", type=_counts, default=[1, 2, 4],
                     help="real worker counts to check the model against (default 1,2,4; "
                     "0 = none)")  # fmt: skip
    cli.add_argument("--hours", type=int, default=8,
                     help="hours the hour feed publishes (default 8)")  # fmt: skip
    cli.add_argument("--hour-ping-seconds", type=float, default=900.0,
                     help="how often each unit pings in the hour feed (default 900)")  # fmt: skip
    cli.add_argument("--batch", type=int, default=500, help="records a lane takes at once")
    cli.add_argument("--requests", type=int, default=20, help="API requests per endpoint")
    cli.add_argument("--feed", type=float, default=10_000, help="national feed, events/s")
    cli.add_argument("--max-workers", type=int, default=64)
    cli.add_argument("--database-url", default=DEFAULT_SERVER)
    cli.add_argument("--skip-store", action="store_true",
                     help="no materialiser or API (no PostgreSQL needed)")  # fmt: skip
    args = cli.parse_args(argv)
    if args.events < 1 or args.units < 1 or not args.lanes:
        cli.error("--events, --units and --lanes must be at least 1")
    began = time.perf_counter()
    stop_on_signals()
    if not args.boundaries.exists():
        say(f"SKIP: no ward boundaries at {args.boundaries} (pass --boundaries FILE)")
        return 0
    args.boundaries = args.boundaries.resolve()
    if args.partitions not in args.lanes:
        args.lanes = sorted({*args.lanes, args.partitions})
    with contextlib.ExitStack() as stack:
        work = work_dir(stack, args.workdir)
        geography, events = _start(args)
        measured, agg, hours_per_event = _in_process(args, geography, events)
        store = {} if args.skip_store else _store_and_api(args, agg, work)
        del geography, agg
        gc.collect()
        real = _real_workers(args, events, work) if args.workers else {}
    consume = real.get("consume", 0.0)
    measured = [replace(c, consume_event=consume) for c in measured]
    say("== the model ==")
    _report_costs(measured, hours_per_event)
    rest = _check(args, measured, real, hours_per_event) if real.get("runs") else 0.0
    national = _national(args, measured, consume, rest)
    serving = _serving(args, measured, store) if store else 0.0
    say(f"  total wall time {time.perf_counter() - began:.0f} s")
    if "workers" not in national:
        say(f"cores for a national feed of {args.feed:,.0f} events/s: not reachable with "
            f"{args.max_workers} workers (at most {national['cap']:,.0f} events/s)")  # fmt: skip
        return 0
    w = national["workers"]
    say(f"cores for a national feed of {args.feed:,.0f} events/s: {w + math.ceil(serving)} "
        f"({w} workers, {serving:.2f} of a core for the materialiser and PostgreSQL; the "
        "API's by its requests)" + ("" if consume else "; Kafka consumption not measured "
        "(no --workers)"))  # fmt: skip
    return 0


def _start(args: Any) -> tuple[Any, list]:
    from beatlight.geo.geography import load_geography

    say(f"stage_costs: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}")  # fmt: skip
    say(f"  $ {' '.join([sys.executable, *sys.argv])}")
    say(f"  code: {code_version()}")
    say(f"  load average before: {os.getloadavg()[0]:.2f} (CPU times move little with it)")
    started = time.perf_counter()
    geography = load_geography(args.boundaries)
    say(f"  wards: {len(geography.wards.codes):,}, areas: {len(geography.areas):,} from "
        f"{args.boundaries} ({time.perf_counter() - started:.0f} s)")  # fmt: skip
    started = time.perf_counter()
    events, _ = simulated(geography.wards, args.events, seed=7, units=args.units)
    say(f"  simulated {len(events):,} events ({args.units:,} units, feed faults on) in "
        f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    return geography, events


def _in_process(args: Any, geography: Any, events: list) -> tuple[list[Costs], Any, float]:
    """Costs at each lane count; the aggregator of ``--partitions`` lanes (its hour and
    live snapshots, for the store), and the replay's hours published per event.

    Per event and per live snapshot: the N events. Per hour: the hour feed (every unit
    pinging every ``--hour-ping-seconds`` for ``--hours`` hours), as N events of a
    country span about an hour of event time and publish no hour."""
    say("== lanes and the aggregator, in this process (CPU time) ==")
    started = time.perf_counter()
    hourly = hour_feed(geography.wards, units=args.units, hours=args.hours,
                       ping_seconds=args.hour_ping_seconds, seed=8)  # fmt: skip
    took = time.perf_counter() - started
    say(f"  hour feed: {len(hourly):,} events, {args.units:,} units pinging every "
        f"{args.hour_ping_seconds:g} s for {args.hours + 2} h ({took:.0f} s)")  # fmt: skip
    measured, kept, per_event = [], None, 0.0
    for p in args.lanes:
        lanes = run_lanes(partitioned(events, p), geography, batch=args.batch)
        agg = run_aggregator(lanes, geography)
        say(f"  {p} lanes, N events ({lanes.event_hours} h of event time): lane "
            f"{1e6 * lanes.per_event_s:,.1f} us/event, live tick {lanes.live_tick_s:.3f} s a "
            f"lane; aggregator {1e6 * agg.other_cpu_s / lanes.events:,.1f} us/event "
            f"({agg.messages:,} partials, {agg.hours} hours), {agg.live_s:.2f} s per live "
            "snapshot")  # fmt: skip
        hour_lanes = run_lanes(partitioned(hourly, p), geography, batch=args.batch, live_ticks=1)
        hours = run_aggregator(hour_lanes, geography, live_rounds=1)
        say(f"  {p} lanes, hour feed ({hour_lanes.event_hours} h of event time): "
            f"{hour_lanes.per_lane_hour_s:.3f} s per lane-hour ({hour_lanes.hours} sent); "
            f"aggregator {1e6 * hours.other_cpu_s / hour_lanes.events:.1f} us/event for "
            f"partials ({hours.messages} in all), {hours.per_hour_s:.2f} s per hour "
            f"snapshot ({hours.hours}; the first "
            f"{hours.hour_costs[0]:.2f} s, the last {hours.hour_costs[-1]:.2f} s)"
            if hours.hours else "no hour published")  # fmt: skip
        if not hours.hours:
            raise SystemExit("the hour feed published no hour: give more --hours")
        measured.append(Costs(p, lanes.per_event_s, 0.0, hour_lanes.per_lane_hour_s,
                              lanes.live_tick_s, agg.other_cpu_s / lanes.events,
                              hours.per_hour_s, agg.live_s))  # fmt: skip
        if p == args.partitions:
            hours.live_document = agg.live_document
            kept, per_event = hours, agg.hours / lanes.events
        del lanes, agg, hour_lanes, hours
        gc.collect()
    return measured, kept, per_event


def _store_and_api(args: Any, agg: Any, work: Path) -> dict[str, Any]:
    """The materialiser's CPU per hour and per live snapshot; the API's per request."""
    from sqlalchemy.orm import Session

    from beatlight.api.db import create_engine_for, upgrade
    from beatlight.api.keys import create_key
    from beatlight.configs import defaults
    from beatlight.runtime.topics import VISIBILITY_HISTORY, VISIBILITY_LIVE
    from bench._api_store import scratch_database
    from bench._stage_api import api_process, fresh_live_cost, request_cost

    say("== the materialiser and the API ==")
    batch = defaults().materialise_batch_records
    out: dict[str, Any] = {}
    with scratch_database(args.database_url, lambda s: say(f"  {s}")) as url:
        upgrade(url)
        engine = create_engine_for(url)
        try:
            hours = []
            for snap in agg.hour_documents:
                records = serialised(snap.document, prefix=snap.document["as_of"],
                                     revision=snap.revision)  # fmt: skip
                hours.append(materialise(engine, records, topic=VISIBILITY_HISTORY,
                                         batch_records=batch))  # fmt: skip
            live_doc = agg.live_document

            def store_live(step: int) -> Any:
                as_of = datetime.fromisoformat(live_doc["as_of"].replace("Z", "+00:00"))
                stamp = f"{as_of + timedelta(minutes=step):%Y-%m-%dT%H:%M:%SZ}"
                return materialise(engine, serialised(live_doc | {"as_of": stamp}, prefix="live"),
                                   topic=VISIBILITY_LIVE, batch_records=batch)  # fmt: skip

            lives = [store_live(0), store_live(0)]  # the second over rows already there
            for name, costs in (("hour", hours), ("live", lives[1:])):
                if costs:
                    c = costs[-1]
                    say(f"  materialiser, one {name} snapshot ({c.records:,} records): "
                        f"{c.cpu_s:.2f} s CPU here + {c.database_s:.2f} s PostgreSQL "
                        f"({c.wall_s:.1f} s wall)")  # fmt: skip
                    out[f"store_{name}"] = c.cpu_s + c.database_s
            with Session(engine) as session, session.begin():
                key = create_key(session, "inspector", "bench/stage_costs.py")[1]
            with api_process(url, args.boundaries, work / "api.log") as (pid, port):
                hour = agg.hour_documents[-1].document["as_of"] if agg.hour_documents else None
                paths = [("live metrics, ward 24h", "/api/v1/metrics?level=ward&window=24h"),
                         ("live metrics, every area and window", "/api/v1/metrics"),
                         ("live GeoJSON, wards", "/api/v1/geojson?level=ward")]  # fmt: skip
                if hour:
                    paths.append(("metrics at one stored hour (cached)",
                                  f"/api/v1/metrics?as_of={hour}"))  # fmt: skip
                api = [request_cost(pid, port, "trivial (no key)", "/bench/trivial", None,
                                    args.requests)]  # fmt: skip
                api += [request_cost(pid, port, n, p, key, args.requests) for n, p in paths]
                fresh = fresh_live_cost(pid, port, paths[0][1], key, store_live, 3,
                                        ttl_s=defaults().live_cache_seconds)  # fmt: skip
            for c in api:
                say(f"  API, {c.name}: {1e3 * c.cpu_s:.1f} ms CPU a request "
                    f"({c.body_bytes / 1e3:,.0f} kB as sent)")  # fmt: skip
            say(f"  API, live metrics, ward 24h, first request after a new live snapshot "
                f"(reload and render): {1e3 * fresh:.0f} ms CPU")  # fmt: skip
            out |= {"api": api, "api_fresh": fresh}
        finally:
            engine.dispose()
    return out


def _real_workers(args: Any, events: list, work: Path) -> dict[str, Any]:
    """Consumption's cost per event (the feed's; a no-op Faust agent's beside it), then the
    real workers."""
    from bench.stream_throughput import run_noop, run_workers

    say(f"== real workers on the embedded broker, {args.partitions} partitions ==")
    n, parts, out = len(events), args.partitions, {"runs": {}}
    for k in [0, *args.workers]:  # 0: the no-op agent
        with fresh_broker(parts) as broker:
            sent, seconds = produce(broker.bootstrap, events)
            if sent != n:
                raise SystemExit(f"produced {sent} records, not {n}")
            say(f"  produced {n:,} records in {seconds:.0f} s; load average "
                f"{os.getloadavg()[0]:.2f}")  # fmt: skip
            broker0, load = cpu_seconds(broker.pid), os.getloadavg()[0]
            if k == 0:
                out["consume"] = _feed_read(broker.bootstrap, parts)
                say(f"  read as a worker's feed reads it (LaneFeed, kafka-python): "
                    f"{1e6 * out['consume']:.1f} us CPU/event to consume")  # fmt: skip
                a = run_noop(broker.bootstrap, n, parts, work, "stage-noop")
                say(f"  (through Faust's consumer instead, a no-op agent: {a['rate']:,.0f} ev/s, "
                    f"{1e6 * a['cpu'] / a['rate']:.1f} us CPU/event)")  # fmt: skip
                continue
            r = run_workers(broker.bootstrap, n, parts, args.boundaries, work,
                            f"stage-workers-{k}", label=f"({k} workers)", workers=k)  # fmt: skip
            broker_cpu = (cpu_seconds(broker.pid) - broker0) / n
            say(f"  {k} workers: {r['rate']:,.0f} ev/s, CPU {100 * r['cpu']:.0f} % of a core "
                f"(all {k}); broker {1e6 * broker_cpu:.0f} us CPU/event over the run")  # fmt: skip
            out["runs"][k] = r | {"broker": broker_cpu, "load": load}
    return out


def _feed_read(bootstrap: str, partitions: int) -> float:
    """CPU per record of reading every partition from its start as a worker's feed reads
    them (:class:`beatlight.runtime.feed.LaneFeed`, all partitions at once)."""
    from beatlight.runtime.feed import LaneFeed
    from beatlight.runtime.reader import PartitionReader
    from beatlight.runtime.topics import PRESENCE

    ends = PartitionReader(bootstrap, PRESENCE)
    try:
        end = {p: ends.end_at_least(p) or 0 for p in range(partitions)}
    finally:
        ends.close()
    feed = LaneFeed(bootstrap, PRESENCE, fetch_wait_ms=50, max_records=4000)
    try:
        at = dict.fromkeys(range(partitions), 0)
        began, read = time.process_time(), 0
        while any(at[p] < end[p] for p in at):
            for partition, records in feed.poll(at, timeout_ms=500).items():
                read += len(records)
                at[partition] = records[-1].offset + 1
        return (time.process_time() - began) / max(read, 1)
    finally:
        feed.close()


def _report_costs(measured: list[Costs], hours_per_event: float) -> None:
    say("  per stage, CPU seconds (us = microseconds):")
    for c in measured:
        say(f"    {c.partitions:>2} lanes: lane {1e6 * c.lane_event:.1f} us/event + consume "
            f"{1e6 * c.consume_event:.1f}; lane-hour {c.lane_hour:.3f} s; lane live tick "
            f"{c.lane_live:.3f} s; aggregator {1e6 * c.agg_event:.1f} us/event, "
            f"{c.agg_hour:.2f} s/hour, {c.agg_live:.2f} s/live snapshot")  # fmt: skip
    say(f"  the N events' replay publishes {hours_per_event * 1e6:.1f} hours per million events")


def _national(args: Any, measured: list[Costs], consume: float, rest: float) -> dict[str, Any]:
    """The ceiling for 1 to --max-workers workers, one lane each, in real time: by the
    stages alone, and with the rest of a real worker's CPU per event (``rest``)."""
    say(f"  a feed in real time, one partition per worker (one lane each), live every 5 s; "
        f"'with the rest': plus the {1e6 * rest:.1f} us/event of a real worker no stage "
        "accounts for:")  # fmt: skip
    say("    workers | lanes x lane rate | aggregator core | ceiling ev/s | bound | with the rest")
    out: dict[str, Any] = {"cap": 0.0}
    shown = {1, 2, 4, 8, 16, 32, args.max_workers}
    for w in range(1, args.max_workers + 1):
        p = predict(fit(measured, w, consume), w)
        full = predict(fit(measured, w, consume + rest), w)
        out["cap"] = max(out["cap"], full.rate)
        if "workers" not in out and full.rate >= args.feed:
            out["workers"] = w
        if w in shown or out.get("workers") == w:
            say(f"    {w:>7} | {p.lanes_rate:>17,.0f} | {p.aggregator_rate:>15,.0f} | "
                f"{p.rate:>12,.0f} | {p.bound:>17} | {full.rate:>13,.0f}")  # fmt: skip
    return out


def _serving(args: Any, measured: list[Costs], store: dict) -> float:
    """The materialiser's and the API's share of a core, beside the workers'."""
    costs = next(c for c in measured if c.partitions == args.partitions)
    live_every = max(5.0, 5.0 * costs.agg_live)  # the aggregator's pacing
    share = store.get("store_hour", 0.0) / 3600 + store.get("store_live", 0.0) / live_every
    say(f"  materialiser (and PostgreSQL), live snapshots every {live_every:.1f} s: "
        f"{share:.2f} of a core")  # fmt: skip
    live = next(c for c in store["api"] if c.name.startswith("live metrics, ward"))
    say(f"  API: {1 / live.cpu_s:,.0f} requests/s of live ward figures a core (cached), "
        f"plus {store['api_fresh']:.2f} s a core per live snapshot per API process")  # fmt: skip
    return share


def _check(args: Any, measured: list[Costs], real: dict, hours_per_event: float) -> float:
    """Predicted against measured, for the real workers and the 16-core figures; the
    CPU per event of a real worker that no stage accounts for (the median run's)."""
    costs = next(c for c in measured if c.partitions == args.partitions)
    say(f"  the model against real workers here ({args.partitions} partitions):")
    say("    workers | predicted ev/s | measured ev/s | measured/predicted | cores a worker "
        "got | CPU by the model at the measured rate | measured CPU | not in the model, "
        "us/event | bound | broker us/event | load average")  # fmt: skip
    rests = []
    for k, r in sorted(real["runs"].items()):
        p = predict(costs, k, hours_per_event=hours_per_event)
        cpu = cores_at(costs, r["rate"], k, hours_per_event)
        rests.append(max(r["cpu"] - cpu, 0.0) / r["rate"])
        say(f"    {k:>7} | {p.rate:>14,.0f} | {r['rate']:>13,.0f} | {r['rate'] / p.rate:>18.2f} | "
            f"{r['cpu'] / k:>19.2f} | {cpu:>37.2f} | {r['cpu']:>12.2f} | "
            f"{1e6 * rests[-1]:>35.1f} | {p.bound:>17} | {1e6 * r['broker']:>15.1f} | "
            f"{r['load']:>12.2f}")  # fmt: skip
    rest = statistics.median(rests)
    return rest


if __name__ == "__main__":
    sys.exit(main())
