"""Stream worker benchmark: throughput against a no-op Faust agent, live latency, memory.

    python bench/stream_throughput.py [--events 200000] [--partitions 4]
        [--boundaries ../shared/data/staffordshire-wards.geojson] [--units 200]
        [--workers 1,2,4] [--rounds 3] [--skip-latency] [--skip-memory] [--memory-days 28]
        [--memory-units N] [--memory-ping-seconds S] [--memory-setting NAME=VALUE]
        [--profile SECONDS]

Everything is measured in one run on this machine, each part on its own embedded
Tansu broker (memory storage), the processes one after the other:

(a) baseline: N simulated events (with the feed's faults) are produced into
    ``patrol.presence``; a no-op Faust agent (``bench/_noop_agent.py``, the
    worker's broker settings and batching) consumes them. rate_a = N / (time of
    its N-th record - time of its first).
(b) the Beatlight worker (``beatlight worker --live-clock event``) on the same
    topic, with a fresh app id; its /metrics page is polled every 0.25 s (each
    poll costs the worker's event loop a request, so not more often).
    rate_b = N / (when sum(beatlight_lane_offset) reaches N, interpolated between
    two polls - the last poll at which it was still 0, which counts against the
    worker). (a) and (b) run back to back ``--rounds`` times (default 3), each with
    fresh consumer groups; each round's b/a is printed, and ``ratio b/a`` (target
    >= 0.7) is the median round's: on a shared 2-core machine one round's rates can
    move by a third while a neighbour is busy, and they move together within a round.
    With ``--workers 1,2,4``, the same with 2 and 4 worker processes in one group
    (each partition's offset taken from the worker that has it), printed against one
    worker.
(c) latency: a fresh broker, the worker with ``--live-clock wall`` and
    BEATLIGHT_LIVE_SECONDS=0.25, simulated pings re-timed to the wall clock at a
    steady 1,000 events/s; for every live snapshot of the force area read from
    ``visibility.live``: read time - produce time of the ping it last saw.
(d) memory: a fresh broker, ``--memory-days`` of the default roster over the
    wards (or ``--memory-units``, pinging every ``--memory-ping-seconds``),
    produced as fast as possible; the worker (``--live-clock event``, plus any
    ``--memory-setting`` BEATLIGHT_* values) processes them all while its VmRSS/VmHWM
    are sampled every second: a row whenever a lane passes a week of event time, and
    every ``--memory-row-minutes`` with the lowest and highest RSS since the last row
    (the lows show the state; the highs add a tick's or an hour's passing work).
    The broker's memory storage holds every record produced, outputs included: at
    England scale 28 days of them outgrow this machine, hence ``--memory-setting
    CHECKPOINT_SECONDS=3600`` and fewer live snapshots there.

Record counts come from what was produced (every send acknowledged), never from
``end_offsets`` (Tansu 0.6 answers ListOffsets(latest) with the last batch's base
offset + 1). Every child process is stopped at the end (SIGTERM, then SIGKILL),
every broker closed. The last line printed is the throughput ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import orjson  # noqa: E402

from beatlight.runtime.broker import EmbeddedBroker  # noqa: E402
from beatlight.runtime.producers import PresenceProducer  # noqa: E402
from beatlight.runtime.topics import VISIBILITY_LIVE, TopicSpec, ensure_topics  # noqa: E402
from beatlight.streams.simulate import SimulationConfig, simulate  # noqa: E402
from bench._run import REPO, code_version, free_port, stop_on_signals, work_dir  # noqa: E402

DEFAULT_BOUNDARIES = REPO.parent / "shared" / "data" / "staffordshire-wards.geojson"
NOOP_AGENT = Path(__file__).resolve().parent / "_noop_agent.py"
WEEK_S = 7 * 86_400
POLL_S = 0.25  # how often (b) reads the worker's /metrics
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def say(text: str = "") -> None:
    print(text, flush=True)


# --- child processes ---------------------------------------------------------------------


def stop_process(process: subprocess.Popen, name: str, grace_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(grace_s)
    except subprocess.TimeoutExpired:
        say(f"  {name} (pid {process.pid}) ignored SIGTERM for {grace_s:.0f} s: SIGKILL")
        process.kill()
        process.wait(10)
        return
    if code != 0:
        say(f"  {name} (pid {process.pid}) exited with code {code} on SIGTERM (see its log)")


@contextlib.contextmanager
def child(
    name: str,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path,
    log: Path,
    stdout: int | None = None,
) -> Iterator[subprocess.Popen]:
    """A child process, printed, logged to ``log``, stopped on the way out."""
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()
                     if k.startswith("BEATLIGHT_"))  # fmt: skip
    say(f"  $ {shown + ' ' if shown else ''}{shlex.join(command)}")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")  # Rich's log lines unwrapped in the logs
    with log.open("ab") as err:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else err,
            stderr=err,
        )
    try:
        yield process
    finally:
        stop_process(process, name)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_CATCH_UP = re.compile(r"lane\s+(\d+):\s+read\s+(\d+)\s+records\s+from\s+Kafka\s+in\s+([\d.]+)\s+s")


def catch_up_summary(*logs: Path) -> str:
    """What the worker's lanes read from Kafka themselves (idle-lane catch-up, gaps).

    The worker logs each such read of over 1,000 records; these records travel twice
    (once read by the lane with kafka-python, once delivered by Faust and skipped).
    """
    reads = [(int(p), int(n), float(s)) for log in logs for p, n, s in
             _CATCH_UP.findall(log.read_text(errors="replace"))]  # fmt: skip
    if not reads:
        return "no lane read Kafka itself (every record came through the Faust consumer)"
    records, seconds = sum(r[1] for r in reads), sum(r[2] for r in reads)
    lanes = sorted({r[0] for r in reads})
    return (
        f"lanes {lanes} read {records:,} records from Kafka themselves (idle-lane "
        f"catch-up, kafka-python) in {len(reads)} reads taking {seconds:.1f} s"
    )


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB (empty when the process is gone)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return math.nan


def scrape(port: int, timeout_s: float = 2.0) -> dict[str, dict[tuple, float]] | None:
    """The worker's /metrics page as {name: {labels: value}} (``None`` if not answering)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as r:
            text = r.read().decode()
    except OSError:
        return None
    metrics: dict[str, dict[tuple, float]] = defaultdict(dict)
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            name, labels, value = match.groups()
            metrics[name][tuple(sorted(_LABEL.findall(labels or "")))] = float(value)
    return metrics


def lane_sum(metrics: dict[str, dict[tuple, float]], name: str = "beatlight_lane_offset") -> int:
    return int(sum(metrics.get(name, {}).values()))


def worker_command(bootstrap: str, boundaries: Path, clock: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "beatlight",
        "worker",
        "--bootstrap",
        bootstrap,
        "--boundaries",
        str(boundaries),
        "--live-clock",
        clock,
        "--web-port",
        str(port),
    ]


def worker_env(app_id: str, partitions: int, **extra: str) -> dict[str, str]:
    return {"BEATLIGHT_APP_ID": app_id, "BEATLIGHT_KAFKA_PARTITIONS": str(partitions), **extra}


# --- producing ---------------------------------------------------------------------------


def midnight_days_ago(days: float) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=math.ceil(days))


def simulated(
    wards: Any, n: int, *, seed: int, faults: bool = True, units: int = 200
) -> list[dict | str]:
    """N simulated events, in arrival order, all of them in the past."""
    days = n / (units * 600) + 1  # ~700 pings per unit-day for this roster; some to spare
    config = SimulationConfig(seed=seed, start=midnight_days_ago(days + 1),
                              duration=timedelta(days=days), units=units,
                              **({} if faults else _NO_FAULTS))  # fmt: skip
    events = list(itertools.islice(simulate(wards, config), n))
    if len(events) < n:
        raise SystemExit(f"the simulation gave {len(events)} events, fewer than {n}")
    return events


_NO_FAULTS = {f"{name}_rate": 0.0 for name in (
    "duplicate", "late", "out_of_order", "bad_coordinate", "missing_field", "inaccurate",
    "malformed", "identifying_field")}  # fmt: skip


def produce(bootstrap: str, events: Any) -> tuple[int, float]:
    """Send events (dicts, or raw lines for broken ones) and wait for every ack."""
    started = time.perf_counter()
    with PresenceProducer(bootstrap) as producer:
        for item in events:
            if isinstance(item, str):
                producer.send_raw(item.encode(), None)
            else:
                producer.send(item)
        producer.flush()
        sent = producer.sent
    return sent, time.perf_counter() - started


# --- (a) + (b): throughput ---------------------------------------------------------------


def run_noop(
    bootstrap: str, n: int, partitions: int, work: Path, app_id: str = "bench-noop"
) -> dict[str, float]:
    datadir = work / f"{app_id}-data"
    log = work / f"{app_id}.log"
    command = [sys.executable, str(NOOP_AGENT), bootstrap, str(n), app_id,
               str(partitions), str(datadir)]  # fmt: skip
    out = work / f"{app_id}.out"
    with out.open("wb") as sink:
        fd = sink.fileno()
        with child("no-op agent", command, cwd=work, log=log, stdout=fd) as process:
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
            result = {
                "first_s": first - started,
                "seconds": last - first,
                "rate": n / (last - first),
                "cpu": (cpu1 - cpu0) / (last - first),
                "hwm_mb": hwm,
            }
    return result


def run_worker_throughput(
    bootstrap: str, n: int, partitions: int, boundaries: Path, work: Path, app_id: str,
    profile_s: float = 0.0, label: str = "(b)", workers: int = 1, **extra_env: str,
) -> dict[str, Any]:  # fmt: skip
    """``workers`` worker processes in one group; the rate at which they process N records.

    Progress is each partition's offset on the worker that has it (the highest, since a
    worker that lost a lane in a rebalance keeps showing where it left it), summed.
    """
    ports = [free_port() for _ in range(workers)]
    env = worker_env(app_id, partitions, **extra_env)
    with contextlib.ExitStack() as stack:
        processes = [
            stack.enter_context(
                child(
                    f"worker {i + 1}",
                    worker_command(bootstrap, boundaries, "event", port),
                    env=env,
                    cwd=work,
                    log=work / f"{app_id}-{i + 1}.log",
                )  # fmt: skip
            )
            for i, port in enumerate(ports)
        ]
        logs = [work / f"{app_id}-{i + 1}.log" for i in range(workers)]
        started = time.monotonic()
        deadline = started + 180 + n / 500
        t_first = t_last = None
        t_zero = t_before = started
        done_before = 0
        cpu0 = cpu1 = math.nan
        spy: subprocess.Popen | None = None
        spy_out = work / f"{app_id}.pyspy.txt"
        scraped: list[dict] = [{} for _ in ports]

        def cpu() -> float:
            return sum(cpu_seconds(p.pid) for p in processes)

        try:
            while True:
                for i, process in enumerate(processes):
                    if process.poll() is not None:
                        raise SystemExit(f"worker {i + 1} exited ({process.returncode}):\n"
                                         + tail(work / f"{app_id}-{i + 1}.log"))  # fmt: skip
                now = time.monotonic()
                if now > deadline:
                    raise SystemExit(f"the workers did not process {n} records in time "
                                     f"(at {done_before}):\n" + tail(logs[0]))  # fmt: skip
                scraped = [scrape(port) or old for port, old in zip(ports, scraped, strict=True)]
                done = partition_sum(scraped)
                if t_first is None:
                    if done == 0:
                        t_zero = now
                    else:  # began after the last poll that saw nothing: take that poll
                        t_first, cpu0 = t_zero, cpu()
                        if profile_s > 0:
                            spy = start_py_spy(processes[0].pid, profile_s, spy_out, work)
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
    return {"first_s": t_first - started, "seconds": t_last - t_first,
            "rate": n / (t_last - t_first), "cpu": (cpu1 - cpu0) / (now - t_first),
            "outcomes": dict(outcomes), "profile": spy_out if profile_s > 0 else None,
            "hwm_mb": hwm}  # fmt: skip


def partition_sum(scraped: list[dict]) -> int:
    """Sum over partitions of the highest ``beatlight_lane_offset`` any worker shows."""
    best: dict[str, float] = {}
    for metrics in scraped:
        for labels, value in metrics.get("beatlight_lane_offset", {}).items():
            partition = dict(labels).get("partition", "")
            best[partition] = max(best.get(partition, 0.0), value)
    return int(sum(best.values()))


def start_py_spy(pid: int, seconds: float, out: Path, work: Path) -> subprocess.Popen | None:
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(binary).exists():
        say("  (py-spy not installed: no profile; pip install py-spy)")
        return None
    command = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)),
               "--rate", "100", "--format", "raw", "--threads", "--nonblocking",
               "--output", str(out)]  # fmt: skip
    log = work / "py-spy.log"
    say(f"  $ {shlex.join(command)}")
    with log.open("ab") as err:
        return subprocess.Popen(command, stdout=err, stderr=err, stdin=subprocess.DEVNULL)


def summarise_profile(path: Path, top: int = 12) -> None:
    """Top frames of a py-spy raw (collapsed) profile, per thread: self and inclusive."""
    if not path.exists():
        say("  (no profile written)")
        return
    threads: dict[str, Counter] = defaultdict(Counter)
    inclusive: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        n = int(count)
        totals[thread] += n
        if frames:
            threads[thread][_frame(frames[-1])] += n
        for frame in {_frame(f) for f in frames}:
            inclusive[thread][frame] += n
    say("  py-spy samples by thread (100 Hz, idle excluded): "
        + ", ".join(f"{t} {c}" for t, c in totals.most_common()))  # fmt: skip
    for thread, total in totals.most_common(2):
        say(f"  {thread}: top frames by own time")
        for frame, n in threads[thread].most_common(top):
            say(f"    {100 * n / total:5.1f} %  {frame}")
        say(f"  {thread}: top functions by inclusive time")
        for frame, n in inclusive[thread].most_common(top + 8)[: top + 8]:
            say(f"    {100 * n / total:5.1f} %  {frame}")


def _frame(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)", lines merged
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    name, file = match.groups()
    parts = Path(file).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})"


def _reloaded(stack: contextlib.ExitStack, events: list, parts: int) -> str:
    """A fresh broker in ``stack`` holding the same input; its bootstrap address."""
    broker = stack.enter_context(EmbeddedBroker())
    ensure_topics(broker.bootstrap, parts)
    sent, _ = produce(broker.bootstrap, events)
    if sent != len(events):
        raise SystemExit(f"produced {sent} records, not {len(events)}")
    say(f"  a fresh broker for this round: {broker.bootstrap}, {sent:,} records produced again")
    return broker.bootstrap


def _round(
    args: argparse.Namespace, bootstrap: str, work: Path, tag: str, suffix: str
) -> tuple[dict, dict]:
    """(a) then (b) on ``bootstrap``: one paired round."""
    n, parts = args.events, args.partitions
    say(f"  (a){tag} no-op Faust agent, take_events(2000, within=0.2), fresh group:")
    a = run_noop(bootstrap, n, parts, work, f"bench-noop{suffix}")
    say(
        f"  (a) first record {a['first_s']:.1f} s after start (group join); "
        f"N records in {a['seconds']:.2f} s; CPU {100 * a['cpu']:.0f} % of a core; "
        f"peak RSS {a['hwm_mb']:,.0f} MB"
    )
    say(f"  rate_a = {a['rate']:,.0f} ev/s")
    say(f"  (b){tag} beatlight worker (--live-clock event), fresh app id, /metrics "
        f"polled every {POLL_S} s:")  # fmt: skip
    b = run_worker_throughput(bootstrap, n, parts, args.boundaries, work,
                              f"bench-worker-b{suffix}")  # fmt: skip
    say(f"  (b) first lane offset {b['first_s']:.1f} s after start; N records in "
        f"{b['seconds']:.2f} s; CPU {100 * b['cpu']:.0f} % of a core; peak RSS "
        f"{b['hwm_mb']:,.0f} MB; events {b['outcomes']}")  # fmt: skip
    say(f"  rate_b = {b['rate']:,.0f} ev/s; this round's b/a = {b['rate'] / a['rate']:.2f}")
    return a, b


def throughput(args: argparse.Namespace, wards: Any, work: Path) -> dict[str, Any]:
    n, parts = args.events, args.partitions
    say(f"== (a)+(b) throughput: {n:,} simulated events, {parts} partitions ==")
    say(f"  load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews rates)")
    started = time.perf_counter()
    t = time.perf_counter()
    events = simulated(wards, n, seed=7, units=args.units)
    raw = sum(isinstance(e, str) for e in events)
    say(f"  simulated {n:,} events in {time.perf_counter() - t:.1f} s "
        f"({args.units:,} units, feed faults on; {raw} malformed lines sent raw)")  # fmt: skip
    out: dict[str, Any] = {}
    with EmbeddedBroker() as broker:
        say(f"  broker: embedded Tansu at {broker.bootstrap} (pid {broker.pid})")
        ensure_topics(broker.bootstrap, parts)
        sent, seconds = produce(broker.bootstrap, events)
        if sent != n:
            raise SystemExit(f"produced {sent} records, not {n}")
        out["produce"] = n / seconds
        say(f"  produce: {n:,} records in {seconds:.1f} s = {n / seconds:,.0f} ev/s "
            "(PresenceProducer, kafka-python, acks=all, every ack awaited)")  # fmt: skip
        rounds = []
        for r in range(1, args.rounds + 1):
            tag = f" round {r}/{args.rounds}" if args.rounds > 1 else ""
            suffix = f"-{r}" if args.rounds > 1 else ""
            # Each round on a broker of its own with the same input: Tansu's memory storage
            # keeps every worker's output, and a broker holding earlier rounds' serves the
            # next worker more slowly (b fell ~17 % from round 1 to 2 while a rose).
            with contextlib.ExitStack() as round_broker:  # stopped even if loading it fails
                bootstrap = broker.bootstrap if r == 1 else _reloaded(round_broker, events, parts)
                a, b = _round(args, bootstrap, work, tag, suffix)
            rounds.append((a, b))
        del events
        # Each round's (a) and (b) ran back to back: their ratio is a paired measurement,
        # and the median round's shrugs off a round that other work slowed.
        # (With an even number of rounds, the lower of the two middle ones.)
        ratios = [b["rate"] / a["rate"] for a, b in rounds]
        a, b = sorted(rounds, key=lambda ab: ab[1]["rate"] / ab[0]["rate"])[(len(rounds) - 1) // 2]
        ratio = b["rate"] / a["rate"]
        say(f"  rate_a = {a['rate']:,.0f} ev/s (no-op Faust agent; the median round)")
        say(f"  rate_b = {b['rate']:,.0f} ev/s (Beatlight worker; the median round)")
        if len(rounds) > 1:
            say("  ratios by round: " + ", ".join(f"{r:.2f}" for r in ratios))
        say(f"  ratio b/a = {ratio:.2f} (target >= 0.7)")
        out |= {"a": a, "b": b, "ratio": ratio, "ratios": ratios, "scaling": {1: b}}
        for k in args.workers:
            if k == 1:
                continue
            say(f"  (b x{k}) {k} workers in one group, fresh app id:")
            r = run_worker_throughput(
                broker.bootstrap, n, parts, args.boundaries, work, f"bench-workers-{k}",
                label=f"(b x{k})", workers=k,
            )  # fmt: skip
            say(f"  (b x{k}) N records in {r['seconds']:.2f} s; CPU {100 * r['cpu']:.0f} % of "
                f"a core (all {k}); rate {r['rate']:,.0f} ev/s = {r['rate'] / b['rate']:.2f} x "
                f"one worker, {r['rate'] / a['rate']:.2f} x rate_a")  # fmt: skip
            out["scaling"][k] = r
        if not args.skip_faust_only:
            say(
                "  (b') the same worker with BEATLIGHT_LIVE_SECONDS=600: no live tick in the "
                "run, so no lane reads Kafka itself and every record comes through Faust:"
            )
            f = run_worker_throughput(
                broker.bootstrap,
                n,
                parts,
                args.boundaries,
                work,
                "bench-worker-faust-only",
                label="(b')",
                BEATLIGHT_LIVE_SECONDS="600",
            )
            say(f"  (b') N records in {f['seconds']:.2f} s; CPU {100 * f['cpu']:.0f} % of a "
                f"core; peak RSS {f['hwm_mb']:,.0f} MB")  # fmt: skip
            say(f"  rate_b' = {f['rate']:,.0f} ev/s; ratio b'/a = {f['rate'] / a['rate']:.2f} "
                "(the worker through Faust alone)")  # fmt: skip
            out["faust_only"] = f
        if args.profile > 0:
            say(f"  profile: the worker once more as in (b') (fresh app id) under py-spy "
                f"for {args.profile:.0f} s; not used for any figure above")  # fmt: skip
            p = run_worker_throughput(
                broker.bootstrap,
                n,
                parts,
                args.boundaries,
                work,
                "bench-worker-profile",
                profile_s=args.profile,
                label="(profile)",
                BEATLIGHT_LIVE_SECONDS="600",
            )
            say(f"  (profiled pass: {p['rate']:,.0f} ev/s)")
            summarise_profile(p["profile"])
    out["wall"] = time.perf_counter() - started
    say(f"  wall time (a)+(b): {out['wall']:.0f} s")
    return out


# --- (c): latency -------------------------------------------------------------------------


def _us_to_rfc3339(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rfc3339_to_us(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


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
        self.snapshots: list[tuple[float, int | None]] = []  # (read wall time, last_seen us)
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
                    self.snapshots.append((read_at, _rfc3339_to_us(seen) if seen else None))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.consumer.close()


_OVERLAP = re.compile(r"tick\s+is\s+overlapping\s+\(interval=[\d.]+\s+runtime=([\d.]+)\)")


def latency(args: argparse.Namespace, wards: Any, work: Path) -> dict[str, Any]:
    rate, duration, skip, live_s = 1000, 40.0, 10.0, args.live_seconds
    pause = args.latency_pause
    say(f"== (c) latency: {rate:,} ev/s for {duration:.0f} s, live every {live_s} s "
        "(wall clock) ==")  # fmt: skip
    say(f"  load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews rates)")
    if pause:
        say(f"  (--latency-pause: the feed stops for {pause:.1f} s after its first 5 s)")
    started = time.perf_counter()
    n = int(rate * duration)
    source = [e for e in simulated(wards, int(n * 1.05), seed=11, faults=False)
              if isinstance(e, dict)][:n]  # fmt: skip
    out: dict[str, Any] = {}
    log = work / "latency-worker.log"
    with EmbeddedBroker() as broker:
        say(f"  broker: embedded Tansu at {broker.bootstrap} (pid {broker.pid})")
        ensure_topics(broker.bootstrap, args.partitions)
        port = free_port()
        env = worker_env("bench-worker-c", args.partitions, BEATLIGHT_LIVE_SECONDS=str(live_s))
        with child("worker", worker_command(broker.bootstrap, args.boundaries, "wall", port),
                   env=env, cwd=work, log=log) as process:  # fmt: skip
            while scrape(port) is None:  # geography loaded, web page up
                if process.poll() is not None:
                    raise SystemExit("the worker exited:\n" + tail(log))
                time.sleep(0.2)
            reader = LiveReader(broker.bootstrap)
            reader.start()
            produced: dict[int, float] = {}
            behind = 0.0
            cpu0 = cpu_seconds(process.pid)
            try:
                with PresenceProducer(broker.bootstrap) as producer:
                    t0 = time.monotonic()
                    wall0 = time.time()
                    last_us = 0
                    for i, event in enumerate(source):
                        due = t0 + i / rate + (pause if pause and i >= 5 * rate else 0.0)
                        wait = due - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        else:
                            behind = max(behind, -wait)
                        now = time.time()
                        ts_us = max(int(now * 1e6), last_us + 1)
                        last_us = ts_us
                        producer.send({**event, "event_id": f"lat-{i}",
                                       "ts": _us_to_rfc3339(ts_us)})  # fmt: skip
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
        hops = {wait: broker_hop(broker.bootstrap, wait) for wait in (1500, 50)}
        say(f"  sent {n:,} pings in {sending:.1f} s ({n / sending:,.0f} ev/s; at most "
            f"{1000 * behind:.0f} ms behind the pace); worker CPU "
            f"{100 * (cpu1 - cpu0) / sending:.0f} % of a core; processed "
            f"{done_at_end:,} records when the feed ended, {processed:,} 2 s later")  # fmt: skip
    say(f"  worker: {catch_up_summary(log)}")
    ticks = [float(x) for x in _OVERLAP.findall(log.read_text(errors="replace"))]
    if ticks:
        say(
            f"  worker: the live timer overran its {live_s} s interval {len(ticks)} times, "
            f"longest tick {max(ticks):.1f} s (Faust's 'tick is overlapping' warnings)"
        )
    steady = [(r, s) for r, s in reader.snapshots if wall0 + skip <= r <= wall1]
    lat, unmatched = [], 0
    for read_at, seen in steady:
        if seen is None or seen not in produced:
            unmatched += 1
            continue
        lat.append(read_at - produced[seen])
    lat.sort()
    expected = (wall1 - wall0 - skip) / live_s
    reads = [r for r, _ in steady]
    gaps = [b - a for a, b in zip([wall0 + skip, *reads], [*reads, wall1], strict=True)]
    say(f"  {len(reader.snapshots)} force snapshots read in all ({reader.records:,} live "
        f"records); in the steady part (after {skip:.0f} s): {len(steady)} of the ~"
        f"{expected:.0f} a {live_s} s live interval gives, {unmatched} unmatched; longest "
        f"time without one {max(gaps):.1f} s")  # fmt: skip
    ages = _sampled_ages(reader.snapshots, produced, wall0, wall0 + skip, wall1)
    if lat:
        p50, p99 = _percentile(lat, 50), _percentile(lat, 99)
        say(f"  latency ping produced -> force snapshot read (per snapshot): p50 "
            f"{1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms, min {1000 * lat[0]:.0f} ms, max "
            f"{1000 * lat[-1]:.0f} ms (target p99 < 1 s)")  # fmt: skip
    else:
        p50 = p99 = math.nan
        say("  latency ping produced -> force snapshot read: no snapshot in the steady part "
            "(target p99 < 1 s: not met)")  # fmt: skip
    say("  one hop through the broker (aiokafka, a record every 10 ms), by Fetch max wait: "
        + "; ".join(f"{w} ms (Faust's fixed value): p50 {1000 * _percentile(h, 50):.0f} ms, "
                    f"max {1000 * h[-1]:.0f} ms" if w == 1500 else
                    f"{w} ms: p50 {1000 * _percentile(h, 50):.0f} ms, max {1000 * h[-1]:.0f} ms"
                    for w, h in hops.items() if h))  # fmt: skip
    if ages:
        say(f"  age of the newest force snapshot, sampled every 0.1 s (counts stalls): p50 "
            f"{1000 * _percentile(ages, 50):.0f} ms, p99 {1000 * _percentile(ages, 99):.0f} ms, "
            f"max {1000 * ages[-1]:.0f} ms")  # fmt: skip
    out |= {"p50": p50, "p99": p99, "count": len(lat), "expected": expected,
            "age_p99": _percentile(ages, 99) if ages else math.nan,
            "max_gap": max(gaps), "longest_tick": max(ticks, default=0.0),
            "hop_p50": _percentile(hops[1500], 50) if hops[1500] else math.nan,
            "wall": time.perf_counter() - started}  # fmt: skip
    say(f"  wall time (c): {out['wall']:.0f} s")
    return out


def broker_hop(bootstrap: str, fetch_wait_ms: int = 1500, seconds: float = 5.0) -> list[float]:
    """Produce -> consume delay of one hop through the broker, for a consumer that asks
    Fetch to wait up to ``fetch_wait_ms`` (Faust's aiokafka consumer: 1500, fixed).

    A record every 10 ms, ``linger_ms=0``, delays measured on one clock.
    """
    import asyncio

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
                await producer.send_and_wait(name, str(time.time()).encode(),
                                             partition=0)  # fmt: skip
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


# --- (d): memory ---------------------------------------------------------------------------


#: (d) fails when the worker's records processed stay the same this long.
STALL_S = 600.0


def memory(args: argparse.Namespace, wards: Any, work: Path) -> dict[str, Any]:
    days = args.memory_days
    roster = f"{args.memory_units:,} units" if args.memory_units else "default roster"
    say(f"== (d) memory: {days} simulated days, {roster} over the wards, a ping every "
        f"{args.memory_ping_seconds:g} s ==")  # fmt: skip
    say(f"  load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews rates)")
    started = time.perf_counter()
    start = midnight_days_ago(days + 1)
    config = SimulationConfig(
        seed=5, start=start, duration=timedelta(days=days), units=args.memory_units,
        ping_seconds=args.memory_ping_seconds,
    )  # fmt: skip
    out: dict[str, Any] = {}
    with EmbeddedBroker() as broker:
        say(f"  broker: embedded Tansu at {broker.bootstrap} (pid {broker.pid})")
        ensure_topics(broker.bootstrap, args.partitions)
        n, seconds = produce(broker.bootstrap, simulate(wards, config))
        say(f"  simulated and produced {n:,} events ({n / days:,.0f}/day, event time "
            f"{start:%Y-%m-%d} + {days} d) in {seconds:.0f} s")  # fmt: skip
        port = free_port()
        log = work / "memory-worker.log"
        settings = {f"BEATLIGHT_{name.upper()}": value for name, value in args.memory_setting}
        env = worker_env("bench-worker-d", args.partitions, **settings)
        # Week boundaries inside the simulated period (its end is the last row).
        weeks = [start.timestamp() + k * WEEK_S for k in range(1, (days - 1) // 7 + 1)]
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
                    if time.monotonic() - row_at >= args.memory_row_minutes * 60:
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
        say(
            "  (a lane's watermark gauge moves when the worker records its progress: a lane "
            "that reads its backlog from Kafka itself jumps to its last week in one step)"
        )
        say(
            f"  worker peak RSS: {peak_hwm:,.0f} MB (VmHWM; max sampled VmRSS "
            f"{peak_rss:,.0f} MB) (target < 500 MB); broker RSS {broker_rss:,.0f} MB"
        )
        out |= {"events": n, "peak_mb": peak_hwm, "rows": rows}
    out["wall"] = time.perf_counter() - started
    say(f"  wall time (d): {out['wall']:.0f} s")
    return out


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    stop_on_signals()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="N for (a) and (b)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--units", type=int, default=200, help="units in the simulation")
    parser.add_argument(
        "--workers",
        type=lambda text: sorted({int(k) for k in text.split(",")}),
        default=[1],
        help="worker counts for (b), comma-separated, e.g. 1,2,4 (default 1)",
    )
    parser.add_argument("--boundaries", type=Path, default=DEFAULT_BOUNDARIES)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--skip-faust-only",
        action="store_true",
        help="skip (b'): the worker with no live tick during the run",
    )
    parser.add_argument(
        "--skip-throughput",
        action="store_true",
        help="skip (a) and (b) (for debugging the other parts; no ratio)",
    )
    parser.add_argument("--memory-days", type=int, default=28)
    parser.add_argument("--memory-units", type=int, default=None,
                        help="(d): units (default: one per two wards)")  # fmt: skip
    parser.add_argument("--memory-setting", action="append", default=[],
                        type=lambda text: tuple(text.split("=", 1)), metavar="NAME=VALUE",
                        help="a BEATLIGHT_NAME setting for (d)'s worker, e.g. "
                        "CHECKPOINT_SECONDS=3600 (repeatable)")  # fmt: skip
    parser.add_argument(
        "--memory-row-minutes",
        type=float,
        default=5.0,
        help="(d): a row of the memory table this often (default 5)",
    )
    parser.add_argument("--memory-ping-seconds", type=float, default=30.0,
                        help="(d): seconds between a unit's pings (default 30)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, metavar="R",
                        help="(a) then (b) this many times, each with fresh consumer groups; "
                        "the ratio printed is the median round's (default 3)")  # fmt: skip
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="after (b), run the worker once more under py-spy for this long "
                        "and print its top frames (0 = off)")  # fmt: skip
    parser.add_argument(
        "--live-seconds",
        type=float,
        default=0.25,
        help="(c): BEATLIGHT_LIVE_SECONDS of the worker (default 0.25)",
    )
    parser.add_argument(
        "--latency-pause",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="(c): stop the feed this long after its first 5 s, so that an "
        "idle-lane catch-up begun at start-up can end (default 0: a steady feed)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the processes' logs here (default: a temporary directory)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.boundaries.exists():
        say(f"SKIP: no ward boundaries at {args.boundaries} (the Staffordshire wards live in "
            "../shared/data/ beside the checkout; or pass --boundaries FILE)")  # fmt: skip
        return 0
    args.boundaries = args.boundaries.resolve()

    from beatlight.geo.geography import load_geography

    began = time.perf_counter()
    say(f"stream_throughput: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}")  # fmt: skip
    say(f"  $ {shlex.join([sys.executable, *sys.argv])}")
    say(f"  code: {code_version()}")
    geography = load_geography(args.boundaries)
    say(f"  wards: {len(geography.wards.codes)} from {args.boundaries}")
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        work = work_dir(stack, args.workdir)
        say(f"  logs and Faust data in {work}{'' if args.workdir else ' (removed at the end)'}")
        if not args.skip_throughput:
            results["tp"] = throughput(args, geography.wards, work)
        if not args.skip_latency:
            results["lat"] = latency(args, geography.wards, work)
        if not args.skip_memory:
            results["mem"] = memory(args, geography.wards, work)
    tp = results.get("tp")
    say("== summary ==")
    if tp:
        fo = tp.get("faust_only")
        say(f"  produce {tp['produce']:,.0f} ev/s; rate_a {tp['a']['rate']:,.0f} ev/s; "
            f"rate_b {tp['b']['rate']:,.0f} ev/s"
            + (f"; rate_b' (through Faust alone) {fo['rate']:,.0f} ev/s = "
               f"{fo['rate'] / tp['a']['rate']:.2f} x rate_a" if fo else "")
            + f"  ({tp['wall']:.0f} s)")  # fmt: skip
        if len(tp["scaling"]) > 1:
            say("  workers: " + "; ".join(
                f"{k}: {r['rate']:,.0f} ev/s ({r['rate'] / tp['b']['rate']:.2f} x one)"
                for k, r in sorted(tp["scaling"].items())))  # fmt: skip
    if "lat" in results:
        lat = results["lat"]
        say(
            f"  latency at 1,000 ev/s: p50 {1000 * lat['p50']:.0f} ms, p99 "
            f"{1000 * lat['p99']:.0f} ms over {lat['count']} snapshots (~{lat['expected']:.0f} "
            f"due), age p99 {1000 * lat['age_p99']:.0f} ms, longest without a snapshot "
            f"{lat['max_gap']:.1f} s (target p99 < 1 s)  ({lat['wall']:.0f} s)"
        )
    if "mem" in results:
        mem = results["mem"]
        say(
            f"  memory after {args.memory_days} d ({mem['events']:,} events): peak RSS "
            f"{mem['peak_mb']:,.0f} MB (target < 500 MB)  ({mem['wall']:.0f} s)"
        )
    say(f"  total wall time {time.perf_counter() - began:.0f} s")
    if tp:
        say(f"ratio b/a = {tp['ratio']:.2f} (target >= 0.7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
