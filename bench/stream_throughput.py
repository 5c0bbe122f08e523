"""How fast does the stream worker process events, against a Faust agent that does nothing?

    python bench/stream_throughput.py [--events 200000] [--rounds 3] [--workers 1,2,4]
        [--units 200] [--zones N] [--profile SECONDS] [--partitions 4]
        [--boundaries ../shared/data/staffordshire-wards.geojson] [--workdir DIR]

N simulated events (with the feed's faults) are produced into ``patrol.presence`` on an
embedded Tansu broker (memory storage); then, one process after the other:

(a) baseline: a no-op Faust agent (``bench/_noop_agent.py``, the worker's broker
    settings and batching) consumes them. rate_a = N / (time of its N-th record -
    time of its first).
(b) the Beatlight worker (``beatlight worker --live-clock event``) on the same topic,
    with a fresh app id; its /metrics page is polled every 0.25 s (each poll costs the
    worker's event loop a request, so not more often). rate_b = N / (when
    sum(beatlight_lane_offset) reaches N, interpolated between two polls - the last
    poll at which it was still 0, which counts against the worker).

(a) and (b) run back to back ``--rounds`` times, each round on a fresh broker holding
the same input and with fresh consumer groups; each round's b/a is printed, and
``ratio b/a`` (target >= 0.7) is the median round's: on a shared 2-core machine one
round's rates can move by a third while a neighbour is busy, and they move together
within a round. With ``--workers 1,2,4``, the same as (b) with 2 and 4 worker
processes in one group, against one worker: from the first record, which counts the
rebalances as workers join one by one, and from when the group has settled (every
worker holds input partitions, by its ``beatlight_worker_partitions``), the rate a
running group keeps.

With ``--zones N``: N hot spots of 150 m where the simulated patrols go (they are sent
to them; ``bench/_zones.py``), and in each round (b0), the worker ward-only, runs
between (a) and (b), which has BEATLIGHT_ZONES (as have (b x k) and the
profile). The ratio b/a then has a target >= 0.65, and b/b0 is what zones cost.

The last line printed is the ratio b/a.

Long because the two runs it compares, the no-op agent and the worker, are read side by
side with how each rate is timed; what other benchmarks share is in bench/_stream.py and
bench/_run.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench import _pyspy  # noqa: E402
from bench._run import cpu_seconds, free_port, proc_status, stop_process, tail  # noqa: E402
from bench._stream import (  # noqa: E402
    catch_up_summary,
    child,
    fresh_broker,
    load_average,
    parser,
    partition_sum,
    produce,
    say,
    scrape,
    simulated,
    start,
    worker_command,
    worker_env,
)

NOOP_AGENT = Path(__file__).resolve().parent / "_noop_agent.py"
POLL_S = 0.25  # how often (b) reads the worker's /metrics


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, zones=True)
    cli.add_argument("--events", type=int, default=200_000, help="N (default 200,000)")
    cli.add_argument("--units", type=int, default=200, help="units in the simulation")
    cli.add_argument("--rounds", type=int, default=3, metavar="R",
                     help="(a) then (b) this many times, each with fresh consumer groups; "
                     "the ratio printed is the median round's (default 3)")  # fmt: skip
    cli.add_argument("--workers", type=lambda text: sorted({int(k) for k in text.split(",")}),
                     default=[1], help="worker counts for (b), comma-separated, e.g. 1,2,4 "
                     "(default 1)")  # fmt: skip
    cli.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                     help="last, run the worker once more under py-spy for this long "
                     "and print its top frames (0 = off)")  # fmt: skip
    args = cli.parse_args(argv)
    if args.rounds < 1 or args.events < 1 or args.zones < 0:
        cli.error("--rounds and --events must be at least 1, --zones at least 0")
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        wards, work = start("stream_throughput", args, stack)
        tp = throughput(args, wards, work)
    say("== summary ==")
    say(f"  produce {tp['produce']:,.0f} ev/s; rate_a {tp['a']['rate']:,.0f} ev/s; "
        f"rate_b {tp['b']['rate']:,.0f} ev/s  ({tp['wall']:.0f} s)")  # fmt: skip
    if len(tp["scaling"]) > 1:
        say("  workers, from the first record: " + "; ".join(
            f"{k}: {r['rate']:,.0f} ev/s ({r['rate'] / tp['b']['rate']:.2f} x one)"
            for k, r in sorted(tp["scaling"].items())))  # fmt: skip
        steady = {k: r["steady_rate"] for k, r in tp["scaling"].items() if "steady_rate" in r}
        if 1 in steady and len(steady) > 1:
            say("  workers, once the group settled: " + "; ".join(
                f"{k}: {rate:,.0f} ev/s ({rate / steady[1]:.2f} x one)"
                for k, rate in sorted(steady.items())))  # fmt: skip
    say(f"  total wall time {time.perf_counter() - began:.0f} s")
    if args.zones:
        say(f"  ward-only worker (b0): {tp['b0']['rate']:,.0f} ev/s, b0/a {tp['ratio0']:.2f}; "
            f"with {args.zones} zones b/b0 = {tp['zones_cost']:.2f} (rounds: "
            + ", ".join(f"{r:.2f}" for r in tp["zone_ratios"]) + ")")  # fmt: skip
        say(f"ratio b/a = {tp['ratio']:.2f} with {args.zones} zones (target >= 0.65); "
            f"load average {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    else:
        say(f"ratio b/a = {tp['ratio']:.2f} (target >= 0.7)")
    return 0


def throughput(args: Any, wards: Any, work: Path) -> dict[str, Any]:
    """(a) and (b) in rounds, then (b x k) and the profile; their rates."""
    n, parts = args.events, args.partitions
    say(f"== (a)+(b) throughput: {n:,} simulated events, {parts} partitions ==")
    say(f"  {load_average()}")
    started = time.perf_counter()
    events, zones = simulated(wards, n, seed=7, units=args.units, zones=args.zones, work=work)
    raw = sum(isinstance(e, str) for e in events)
    say(f"  simulated {n:,} events in {time.perf_counter() - started:.1f} s "
        f"({args.units:,} units, feed faults on; {raw} malformed lines sent raw)")  # fmt: skip
    out: dict[str, Any] = {}
    with fresh_broker(parts) as broker:
        sent, seconds = produce(broker.bootstrap, events)
        if sent != n:
            raise SystemExit(f"produced {sent} records, not {n}")
        out["produce"] = n / seconds
        say(f"  produce: {n:,} records in {seconds:.1f} s = {n / seconds:,.0f} ev/s "
            "(PresenceProducer, kafka-python, acks=all, every ack awaited)")  # fmt: skip
        rounds = []
        for r in range(1, args.rounds + 1):
            tag, suffix = (f" round {r}/{args.rounds}", f"-{r}") if args.rounds > 1 else ("", "")
            # Each round on a broker of its own with the same input: Tansu's memory storage
            # keeps every worker's output, and a broker holding earlier rounds' serves the
            # next worker more slowly.
            with contextlib.ExitStack() as round_broker:  # stopped even if loading it fails
                bootstrap = broker.bootstrap if r == 1 else _reloaded(round_broker, events, parts)
                rounds.append(_round(args, bootstrap, work, tag, suffix, zones, events))
        # A round's (a) and (b) ran back to back: their ratio is a paired measurement, and
        # the median round's shrugs off a round that other work slowed (with an even
        # number of rounds, the lower of the two middle ones).
        ratios = [b["rate"] / a["rate"] for a, b, _ in rounds]
        a, b, b0 = sorted(rounds, key=lambda r: r[1]["rate"] / r[0]["rate"])[(len(rounds) - 1) // 2]
        ratio = b["rate"] / a["rate"]
        say(f"  rate_a = {a['rate']:,.0f} ev/s (no-op Faust agent; the median round)")
        say(f"  rate_b = {b['rate']:,.0f} ev/s (Beatlight worker; the median round)")
        if len(rounds) > 1:
            say("  ratios by round: " + ", ".join(f"{r:.2f}" for r in ratios))
        say(f"  ratio b/a = {ratio:.2f} (target >= {0.65 if zones else 0.7})")
        out |= {"a": a, "b": b, "ratio": ratio, "ratios": ratios, "scaling": {1: b}}
        if zones is not None:
            zone_ratios = [b["rate"] / b0["rate"] for _, b, b0 in rounds]
            say(f"  rate_b0 = {b0['rate']:,.0f} ev/s (the worker ward-only; the median round "
                f"of b/a), b0/a = {b0['rate'] / a['rate']:.2f}; b/b0 by round (what "
                "zones cost): " + ", ".join(f"{r:.2f}" for r in zone_ratios))  # fmt: skip
            out |= {"b0": b0, "ratio0": b0["rate"] / a["rate"], "zone_ratios": zone_ratios,
                    "zones_cost": sorted(zone_ratios)[(len(zone_ratios) - 1) // 2]}  # fmt: skip
        run = dict(n=n, partitions=parts, boundaries=args.boundaries, work=work,
                   **({"BEATLIGHT_ZONES": str(zones)} if zones else {}))  # fmt: skip

        def on_fresh_broker(**more: Any) -> dict[str, Any]:
            """A run on a broker holding the input only: the internal topics' names are
            fixed, and workers would resume from an earlier run's checkpoints."""
            with contextlib.ExitStack() as own:
                return run_workers(_reloaded(own, events, parts), **run, **more)

        for k in (k for k in args.workers if k != 1):
            say(f"  (b x{k}) {k} workers in one group, fresh app id:")
            r = on_fresh_broker(app_id=f"bench-workers-{k}", label=f"(b x{k})", workers=k)
            say(f"  (b x{k}) N records in {r['seconds']:.2f} s; CPU {100 * r['cpu']:.0f} % of "
                f"a core (all {k}); rate {r['rate']:,.0f} ev/s = {r['rate'] / b['rate']:.2f} x "
                f"one worker, {r['rate'] / a['rate']:.2f} x rate_a")  # fmt: skip
            say(f"  (b x{k}) {_settling(r, b)}")
            out["scaling"][k] = r
        if args.profile > 0:
            say(f"  profile: the worker once more, with no live tick (fresh app id), under py-spy "
                f"for {args.profile:.0f} s; not used for any figure above")  # fmt: skip
            p = on_fresh_broker(app_id="bench-worker-profile", profile_s=args.profile,
                                label="(profile)", BEATLIGHT_LIVE_SECONDS="600")  # fmt: skip
            say(f"  (profiled pass: {p['rate']:,.0f} ev/s)")
            for line in _pyspy.top_frames(p["profile"]):
                say(line)
    out["wall"] = time.perf_counter() - started
    say(f"  wall time (a)+(b): {out['wall']:.0f} s")
    return out


def run_noop(bootstrap: str, n: int, partitions: int, work: Path, app_id: str) -> dict[str, float]:
    """(a): the no-op agent from its first record to its N-th."""
    log, out = work / f"{app_id}.log", work / f"{app_id}.out"
    command = [sys.executable, str(NOOP_AGENT), bootstrap, str(n), app_id,
               str(partitions), str(work / f"{app_id}-data")]  # fmt: skip
    with out.open("wb") as sink:
        with child("no-op agent", command, cwd=work, log=log, stdout=sink.fileno()) as process:
            started = time.monotonic()
            deadline = started + 120 + n / 1000
            first = last = None
            cpu0 = cpu1 = math.nan
            while last is None:
                if process.poll() is not None:
                    raise SystemExit(f"the no-op agent exited ({process.returncode}):\n"
                                     + tail(log))  # fmt: skip
                if time.monotonic() > deadline:
                    raise SystemExit("the no-op agent did not reach the N-th record in time:\n"
                                     + tail(log))  # fmt: skip
                # (Faust's worker writes terminal escapes to stdout: search, not split.)
                text = out.read_text(errors="replace")
                if first is None and (found := re.search(r"FIRST (\S+)", text)):
                    first, cpu0 = float(found.group(1)), cpu_seconds(process.pid)
                if found := re.search(r"LAST (\S+)", text):
                    last, cpu1 = float(found.group(1)), cpu_seconds(process.pid)
                    hwm = proc_status(process.pid).get("VmHWM", 0) / 1024
                time.sleep(0.05)
    assert first is not None
    seconds = max(last - first, 1e-3)  # a tiny run's N records can come in one batch
    return {"first_s": first - started, "seconds": seconds, "rate": n / seconds,
            "cpu": (cpu1 - cpu0) / seconds, "hwm_mb": hwm}  # fmt: skip


def run_workers(
    bootstrap: str, n: int, partitions: int, boundaries: Path, work: Path, app_id: str,
    profile_s: float = 0.0, label: str = "(b)", workers: int = 1, **extra_env: str,
) -> dict[str, Any]:  # fmt: skip
    """(b): ``workers`` worker processes in one group; the rate at which they process N
    records (:func:`bench._stream.partition_sum` of their /metrics)."""
    ports = [free_port() for _ in range(workers)]
    logs = [work / f"{app_id}-{i + 1}.log" for i in range(workers)]
    env = worker_env(app_id, partitions, **extra_env)
    spy: subprocess.Popen | None = None
    spy_out = work / f"{app_id}.pyspy.txt"
    with contextlib.ExitStack() as stack:
        processes = [stack.enter_context(child(f"worker {i + 1}", worker_command(
            bootstrap, boundaries, "event", port), env=env, cwd=work, log=logs[i]))
            for i, port in enumerate(ports)]  # fmt: skip

        def cpu() -> float:
            return sum(cpu_seconds(p.pid) for p in processes)

        started = time.monotonic()
        deadline = started + 180 + n / 500
        t_first = t_last = settled = None
        t_zero = t_before = started
        done_before = 0
        cpu0 = cpu1 = math.nan
        scraped: list[dict] = [{} for _ in ports]
        try:
            while True:
                for i, process in enumerate(processes):
                    if process.poll() is not None:
                        raise SystemExit(f"worker {i + 1} exited ({process.returncode}):\n"
                                         + tail(logs[i]))  # fmt: skip
                now = time.monotonic()
                if now > deadline:
                    raise SystemExit(f"the workers did not process {n} records in time "
                                     f"(at {done_before}):\n" + tail(logs[0]))  # fmt: skip
                scraped = [scrape(port) or old for port, old in zip(ports, scraped, strict=True)]
                done = partition_sum(scraped)
                if settled is None and group_settled(scraped, partitions):
                    settled = (now, done, cpu())
                if t_first is None:
                    if done == 0:
                        t_zero = now
                    else:  # began after the last poll that saw nothing: take that poll
                        t_first, cpu0 = t_zero, cpu()
                        if profile_s > 0:
                            spy = _pyspy.record(processes[0].pid, profile_s, spy_out,
                                                work / "py-spy.log")  # fmt: skip
                if done >= n:
                    # N was reached between the last two polls: interpolate.
                    share = (n - done_before) / max(done - done_before, 1)
                    t_last = t_before + share * (now - t_before)
                    cpu1 = cpu()
                    hwm = max(proc_status(p.pid).get("VmHWM", 0) for p in processes) / 1024
                    break
                t_before, done_before = now, done
                time.sleep(max(0.0, POLL_S - (time.monotonic() - now)))
            if spy is not None:
                spy.wait(profile_s + 30)
        finally:
            if spy is not None:
                stop_process(spy, "py-spy", grace_s=10)
    assert t_first is not None and t_last is not None
    say(f"  {label} {catch_up_summary(*logs)}")
    outcomes: Counter = Counter()
    for metrics in scraped:
        for k, v in metrics.get("beatlight_events_total", {}).items():
            outcomes[dict(k).get("outcome")] += int(v)
    out = {"first_s": t_first - started, "seconds": t_last - t_first,
           "rate": n / (t_last - t_first), "cpu": (cpu1 - cpu0) / (now - t_first),
           "outcomes": dict(outcomes), "profile": spy_out if profile_s > 0 else None,
           "hwm_mb": hwm, "rebalances": rebalances(scraped)}  # fmt: skip
    if settled is not None and settled[0] < t_last and n - settled[1] >= n / 4:
        # Settled before the first record: the steady rate starts where the other does.
        t_settled, done_settled, cpu_settled = max(settled, (t_first, 0, cpu0))
        out |= {"settled_s": t_settled - started, "settled_done": done_settled,
                "steady_rate": (n - done_settled) / (t_last - t_settled),
                "steady_cpu": (cpu1 - cpu_settled) / (t_last - t_settled)}  # fmt: skip
    return out


def _settling(r: dict[str, Any], one: dict[str, Any]) -> str:
    """What the group's joins cost, and the rate once every worker held its lanes."""
    joins = f"{r['rebalances']} rebalances in all"
    if "steady_rate" not in r:
        return (f"{joins}; the group settled too late for a steady rate (more --events "
                "give one)")  # fmt: skip
    versus = (f" = {r['steady_rate'] / one['steady_rate']:.2f} x one worker's"
              if "steady_rate" in one else "")  # fmt: skip
    return (f"{joins}; every worker held lanes {r['settled_s']:.1f} s after the start, "
            f"{r['settled_done']:,} records in; from then on {r['steady_rate']:,.0f} ev/s"
            f"{versus} (CPU {100 * r['steady_cpu']:.0f} % of a core)")  # fmt: skip


def group_settled(scraped: list[dict], partitions: int) -> bool:
    """Whether every worker holds input partitions and together they hold them all: once
    every worker has joined, the group rebalances no more."""
    held = [sum(m.get("beatlight_worker_partitions", {}).values()) for m in scraped]
    return sum(held) == partitions and sum(h >= 1 for h in held) == min(len(held), partitions)


def rebalances(scraped: list[dict]) -> int:
    """Rebalances the workers went through, together (each counts its own)."""
    return int(sum(sum(m.get("beatlight_worker_rebalances_total", {}).values())
                   for m in scraped))  # fmt: skip


def _round(
    args: Any, bootstrap: str, work: Path, tag: str, suffix: str, zones: Path | None,
    events: list,
) -> tuple[dict, dict, dict | None]:  # fmt: skip
    """(a) then (b) on ``bootstrap``: one paired round; with ``zones``, (b0) the worker
    ward-only between them, on a broker of its own holding the same input (the internal
    topics' names are fixed: (b) would read (b0)'s partials and checkpoints), and (b)
    with the zones."""
    n, parts = args.events, args.partitions
    say(f"  (a){tag} no-op Faust agent, take_events(2000, within=0.2), fresh group:")
    a = run_noop(bootstrap, n, parts, work, f"bench-noop{suffix}")
    say(f"  (a) first record {a['first_s']:.1f} s after start (group join); N records in "
        f"{a['seconds']:.2f} s; CPU {100 * a['cpu']:.0f} % of a core; peak RSS "
        f"{a['hwm_mb']:,.0f} MB")  # fmt: skip
    say(f"  rate_a = {a['rate']:,.0f} ev/s")
    b0 = None
    if zones is not None:
        say(f"  (b0){tag} beatlight worker ward-only (--live-clock event), fresh app id, "
            f"/metrics polled every {POLL_S} s:")  # fmt: skip
        with contextlib.ExitStack() as own:
            b0 = run_workers(_reloaded(own, events, parts), n, parts, args.boundaries, work,
                             f"bench-worker-b0{suffix}", label="(b0)")  # fmt: skip
        say(f"  rate_b0 = {b0['rate']:,.0f} ev/s; this round's b0/a = "
            f"{b0['rate'] / a['rate']:.2f}")  # fmt: skip
    say(f"  (b){tag} beatlight worker (--live-clock event"
        + (f", {args.zones} zones in BEATLIGHT_ZONES" if zones else "")
        + f"), fresh app id, /metrics polled every {POLL_S} s:")  # fmt: skip
    b = run_workers(bootstrap, n, parts, args.boundaries, work, f"bench-worker-b{suffix}",
                    **({"BEATLIGHT_ZONES": str(zones)} if zones else {}))  # fmt: skip
    say(f"  (b) first lane offset {b['first_s']:.1f} s after start; N records in "
        f"{b['seconds']:.2f} s; CPU {100 * b['cpu']:.0f} % of a core; peak RSS "
        f"{b['hwm_mb']:,.0f} MB; events {b['outcomes']}")  # fmt: skip
    say(f"  rate_b = {b['rate']:,.0f} ev/s; this round's b/a = {b['rate'] / a['rate']:.2f}"
        + (f", b/b0 = {b['rate'] / b0['rate']:.2f}" if b0 else ""))  # fmt: skip
    return a, b, b0


def _reloaded(stack: contextlib.ExitStack, events: list, parts: int) -> str:
    """A fresh broker in ``stack`` holding the same input; its bootstrap address."""
    broker = stack.enter_context(fresh_broker(parts))
    if (sent := produce(broker.bootstrap, events)[0]) != len(events):
        raise SystemExit(f"produced {sent} records, not {len(events)}")
    say(f"  a fresh broker: {sent:,} records produced again")
    return broker.bootstrap


if __name__ == "__main__":
    sys.exit(main())
