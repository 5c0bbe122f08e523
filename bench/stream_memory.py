"""How much memory does the stream worker hold over weeks of events (target < 500 MB)?

    python bench/stream_memory.py [--days 28] [--units N] [--ping-seconds 30]
        [--setting NAME=VALUE ...] [--row-minutes 5] [--partitions 4]
        [--boundaries ../shared/data/staffordshire-wards.geojson] [--workdir DIR]

A fresh embedded Tansu broker (memory storage); ``--days`` of the default roster over
the wards (or ``--units``, pinging every ``--ping-seconds``), with the feed's faults,
produced as fast as possible; then the worker (``--live-clock event``, plus any
``--setting`` BEATLIGHT_* values) processes them all from the start while its
VmRSS/VmHWM are sampled every second: a row whenever a lane passes a week of event
time, and every ``--row-minutes`` with the lowest and highest RSS since the last row
(the lows show the state; the highs add a tick's or an hour's passing work).

The broker's memory storage holds every record produced, outputs included: at England
scale 28 days of them outgrow a small machine, hence ``--setting
CHECKPOINT_SECONDS=3600`` there. The old ``--memory-*`` option names still work.

The last line printed is the worker's peak RSS (VmHWM).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from beatlight.streams.simulate import SimulationConfig, simulate  # noqa: E402
from bench._run import free_port, proc_status, tail  # noqa: E402
from bench._stream import (  # noqa: E402
    catch_up_summary,
    child,
    fresh_broker,
    lane_sum,
    load_average,
    midnight_days_ago,
    parser,
    produce,
    say,
    scrape,
    start,
    worker_command,
    worker_env,
)

WEEK_S = 7 * 86_400
#: The run fails when the worker's records processed stay the same this long.
STALL_S = 600.0


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__)
    cli.add_argument("--days", "--memory-days", type=int, default=28,
                     help="simulated days (default 28)")  # fmt: skip
    cli.add_argument("--units", "--memory-units", type=int, default=None,
                     help="units (default: one per two wards)")  # fmt: skip
    cli.add_argument("--ping-seconds", "--memory-ping-seconds", type=float, default=30.0,
                     help="seconds between a unit's pings (default 30)")  # fmt: skip
    cli.add_argument("--setting", "--memory-setting", action="append", default=[],
                     type=lambda text: tuple(text.split("=", 1)), metavar="NAME=VALUE",
                     help="a BEATLIGHT_NAME setting for the worker, e.g. "
                     "CHECKPOINT_SECONDS=3600 (repeatable)")  # fmt: skip
    cli.add_argument("--row-minutes", "--memory-row-minutes", type=float, default=5.0,
                     help="a row of the memory table this often (default 5)")  # fmt: skip
    args = cli.parse_args(argv)
    if args.days < 1:
        cli.error("--days must be at least 1")
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        wards, work = start("stream_memory", args, stack)
        mem = memory(args, wards, work)
    say("== summary ==")
    say(f"  total wall time {time.perf_counter() - began:.0f} s")
    say(f"memory after {args.days} d ({mem['events']:,} events): peak RSS "
        f"{mem['peak_mb']:,.0f} MB (target < 500 MB)  ({mem['wall']:.0f} s)")  # fmt: skip
    return 0


def memory(args: Any, wards: Any, work: Path) -> dict[str, Any]:
    days = args.days
    roster = f"{args.units:,} units" if args.units else "default roster"
    say(f"== (d) memory: {days} simulated days, {roster} over the wards, a ping every "
        f"{args.ping_seconds:g} s ==")  # fmt: skip
    say(f"  {load_average()}")
    started = time.perf_counter()
    first_day = midnight_days_ago(days + 1)
    config = SimulationConfig(seed=5, start=first_day, duration=timedelta(days=days),
                              units=args.units, ping_seconds=args.ping_seconds)  # fmt: skip
    with fresh_broker(args.partitions) as broker:
        n, seconds = produce(broker.bootstrap, simulate(wards, config))
        say(f"  simulated and produced {n:,} events ({n / days:,.0f}/day, event time "
            f"{first_day:%Y-%m-%d} + {days} d) in {seconds:.0f} s")  # fmt: skip
        port = free_port()
        log = work / "memory-worker.log"
        settings = {f"BEATLIGHT_{name.upper()}": value for name, value in args.setting}
        env = worker_env("bench-worker-d", args.partitions, **settings)
        # Week boundaries inside the simulated period (its end is the last row).
        weeks = [first_day.timestamp() + k * WEEK_S for k in range(1, (days - 1) // 7 + 1)]
        # A row whenever a lane's watermark crosses a week of event time (lanes may run
        # one after the other, so each lane's weeks are shown: "2/0/1/0").
        rows: list[tuple[str, int, float]] = []  # (when, records processed, RSS MB)
        reached = "/".join("0" * args.partitions)
        with child("worker", worker_command(broker.bootstrap, args.boundaries, "event", port),
                   env=env, cwd=work, log=log) as process:  # fmt: skip
            t0 = time.monotonic()
            # No fixed deadline: a whole country's hours take seconds each, so 28 days may
            # take long. The worker fails the run only when it stops making progress.
            progressed, last_done = t0, -1
            peak_rss = 0
            t_first = t_last = None
            row_at, low, high = time.monotonic(), math.inf, 0.0
            while t_last is None:
                if process.poll() is not None:
                    raise SystemExit(f"the worker exited ({process.returncode}):\n" + tail(log))
                if time.monotonic() - progressed > STALL_S:
                    raise SystemExit(f"the worker processed nothing for {STALL_S:.0f} s:\n"
                                     + tail(log))  # fmt: skip
                rss = proc_status(process.pid).get("VmRSS", 0) / 1024
                peak_rss = max(peak_rss, rss)
                if rss > 0:  # 0: not readable at that instant
                    low, high = min(low, rss), max(high, rss)
                metrics = scrape(port)
                if metrics is not None:
                    done = lane_sum(metrics)
                    if t_first is None and done > 0:
                        t_first = time.monotonic()
                        rows.append(("first records (geography loaded)", done, rss))
                    gauge = metrics.get("beatlight_lane_watermark_seconds", {})
                    marks = {dict(k)["partition"]: v for k, v in gauge.items()}
                    now_reached = "/".join(str(sum(marks.get(str(p), 0) >= w for w in weeks))
                                           for p in range(args.partitions))  # fmt: skip
                    if now_reached != reached:
                        reached = now_reached
                        rows.append((f"weeks of event time per lane {reached}", done, rss))
                    if time.monotonic() - row_at >= args.row_minutes * 60:
                        minutes = (time.monotonic() - t0) / 60
                        rows.append((f"{minutes:.0f} min (low {low:,.0f}, high {high:,.0f} MB "
                                     f"since the last row)", done, rss))  # fmt: skip
                        row_at, low, high = time.monotonic(), math.inf, 0.0
                    if done > last_done:
                        progressed, last_done = time.monotonic(), done
                    if done >= n:
                        t_last = time.monotonic()
                time.sleep(1.0)
            time.sleep(2.0)
            status = proc_status(process.pid)
            rows.append((f"all {days} days processed (+2 s)", lane_sum(scrape(port) or {}),
                         status.get("VmRSS", 0) / 1024))  # fmt: skip
            peak_hwm = status.get("VmHWM", 0) / 1024
            broker_rss = proc_status(broker.pid or 0).get("VmRSS", 0) / 1024
        say(f"  worker: {catch_up_summary(log)}")
        took = t_last - (t_first or t0)
        say(f"  worker processed {n:,} records in {took:.0f} s ({n / took:,.0f} ev/s)")
        say("  | when | records processed | worker RSS (MB) |")
        say("  | --- | ---: | ---: |")
        for label, done, rss in rows:
            say(f"  | {label} | {done:,} | {rss:,.0f} |")
        say("  (a lane's watermark gauge moves when the worker records its progress: a lane "
            "that reads its backlog from Kafka itself jumps to its last week in one "
            "step)")  # fmt: skip
        say(f"  worker peak RSS: {peak_hwm:,.0f} MB (VmHWM; max sampled VmRSS "
            f"{peak_rss:,.0f} MB) (target < 500 MB); broker RSS {broker_rss:,.0f} MB")  # fmt: skip
    out = {"events": n, "peak_mb": peak_hwm, "rows": rows, "wall": time.perf_counter() - started}
    say(f"  wall time (d): {out['wall']:.0f} s")
    return out


if __name__ == "__main__":
    sys.exit(main())
