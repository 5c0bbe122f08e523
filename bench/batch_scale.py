"""Batch report at England scale: ``beatlight report`` against raw Shapely point-in-polygon.

    python bench/batch_scale.py [--events 10000000]
        [--boundaries ../shared/data/england-wards.geojson.gz] [--workdir DIR]
        [--formats ndjson,parquet] [--orders given,shuffled] [--compare-rev REV]
        [--check-points N] [--zones N] [--zone-rounds R] [--seed 1]

Everything is measured in one run on this machine, one step at a time:

1. Events: ``streams.simulate`` over the wards of ``--boundaries`` with its default
   roster, which scales with the geography: one unit per two wards (3,841 units for
   the 7,681 wards of England). 45 % walk, each one ward per shift of a beat of
   neighbouring wards (beats are cut along a Hilbert curve, so they are contiguous;
   15 % of wards are on no beat, the "neglected" ones); 10 % cycle round three small
   (town) wards; 45 % drive from one station per dozen wards to demand-weighted
   targets, mostly near it. Early, late and night shifts with breaks, radio silences
   and rest days; a ping every 30 s on air (about 2.8 M a day for England), with the
   feed's faults (duplicates, late and out-of-order delivery, bad coordinates,
   missing fields, malformed lines, ...). The first N events from 28 days back go to
   an NDJSON file, and the same events to Parquet (as a typed export holds them:
   malformed lines dropped, non-numeric coordinates null); the coordinates of every
   event with numeric ones are kept for step 3. With ``--workdir`` the files stay
   and a later run with the same N and seed reuses them.
2. The report, for each file: ``python -m beatlight report --events FILE
   --boundaries B --format json --out ...`` as a child process, timed from its
   start to its exit (loading the boundaries, building the geography, reading,
   validating, locating and modelling every event, writing the figures). Its CPU
   time comes from ``wait4``; its log gives the split. The wards' grid
   cells are built once first, into an empty cache (``geo/cache.py``), as any first
   start on a boundary file does; the reports read them back, as every later start
   does. Peak RSS is the child's VmHWM, read every half second. The summary also
   gives the rate with that one-off build added.
   ``--orders given,shuffled``: the report runs on each file as written (the feed's
   delivery order) and on a copy with its lines (rows) shuffled; the two documents
   must be identical (a file is a complete record), or the benchmark fails.
   ``--compare-rev REV``: the report of that git revision runs on the files as written
   too (from a worktree of it), and the summary gives each run's wall time and peak
   RSS against it.
   ``--zones N``: N hot spots of 150 m (``beatlight.geo.hot_spots``: nights crossing
   midnight, weekday afternoons, weekly targets only, some overlapping each other),
   centred on pings of a pilot day of the same simulation, and the feed simulated
   with units sent to them for 12-16 minute visits (``bench/_zones.py``); the share
   of pings inside zones is printed. After each ward-only report, the same report
   with ``--zones`` on the same file (``--zone-rounds R``: R such pairs, in turn
   zones last and zones first); the last line is what zones add to the ward-only
   batch time, the median pair's (target <= 25 %): wall time less the time the
   report's main thread waited for a core (``/proc/PID/schedstat``), as on a machine
   of its own; raw wall and CPU time beside it. On a shared 2-core machine, a
   neighbour's work can add a minute to one report's wall time and not the other's.
3. The baseline: the same points through ``shapely.STRtree(ward polygons).query(
   points, predicate=...)``, vectorised in chunks of 1 M (points built from the
   coordinate arrays, then one query), with "within" and with "intersects" (over
   the first ``--check-points`` only, if given); the faster rate is the baseline.
   Building the tree (tens of ms) is not counted.

events/s = N / the report's wall time; points/s = points / the baseline's wall time.
The last line is the ratio for the fastest file format (target >= 0.5), or, with
``--zones``, what zones add. Other work on
the machine slows both sides, so the load average is printed, and the same ratio by
CPU time beside it. Every child process is stopped on the way out.

Long because the three steps above and their summary are one question (the report
against the baseline on the same points), and each step is only used here; what other
benchmarks share lives in ``bench/_run.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import shapely  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from bench._run import (  # noqa: E402
    REPO,
    code_version,
    proc_status,
    stop_on_signals,
    stop_process,
    work_dir,
)
from bench._zones import hot_spot_file, share_in_zones  # noqa: E402

DEFAULT_BOUNDARIES = REPO.parent / "shared" / "data" / "england-wards.geojson.gz"
TARGET_RATIO = 0.5
TARGET_ZONES_EXTRA = 0.25  # zones add at most this share to the ward-only wall time
CHUNK = 1_000_000
DAYS = 28
PREDICATES = ("within", "intersects")

console = Console(width=140, stderr=False)


def say(text: str = "") -> None:
    console.print(text, highlight=False)


@dataclass
class Run:
    """One timed run: of the report on a file, or of the baseline with one predicate."""

    name: str
    items: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float = float("nan")
    split: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    waited_s: float = 0.0  # the report's main thread, runnable but waiting for a core

    @property
    def rate(self) -> float:
        return self.items / self.wall_s

    @property
    def cpu_rate(self) -> float:
        return self.items / self.cpu_s


def main() -> int:
    # SIGTERM (and SIGINT) unwind through the finally blocks: the report is stopped.
    stop_on_signals()
    args = _arguments()
    if not args.boundaries.exists():
        say(f"SKIP: no ward boundaries at {args.boundaries} (England's wards live in "
            "../shared/data/ beside the checkout; or pass --boundaries FILE)")  # fmt: skip
        return 0
    say(f"batch_scale: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), numpy {np.__version__}")  # fmt: skip
    say(f"  $ {shlex.join([sys.executable, *sys.argv])}")
    say(f"  code: {code_version()}; load average at start: {_load()}")
    began = time.perf_counter()

    from beatlight.geo.boundaries import load_wards

    wards = load_wards(args.boundaries)
    say(f"  {len(wards.codes):,} wards from {args.boundaries}")
    with contextlib.ExitStack() as stack:
        work = work_dir(stack, args.workdir)
        say(f"  files in {work}{'' if args.workdir else ' (removed at the end)'}")
        config = _config(wards, args)
        zones = None
        if args.zones:
            config, zones = _zones(wards, args, work, config)
        files, lon, lat = _events(wards, args, work, config)
        if zones is not None:
            say(f"   {share_in_zones(zones, lon, lat)}")
        cache = work / "geo-cache"
        shutil.rmtree(cache, ignore_errors=True)
        cold = _prime_cache(args.boundaries, cache)
        runs, earlier, pairs = [], [], []
        for path in files:
            if "given" in args.orders:
                runs.append(_report(path, args.boundaries, work, args.events, cache))
                if zones is not None:
                    pairs += _paired(path, args, work, cache, Path(zones.source), runs[-1])
            if "shuffled" in args.orders:
                mixed = _shuffled(path, args.seed)
                runs.append(_report(mixed, args.boundaries, work, args.events, cache))
                _same_documents(work, path, mixed)
                if zones is not None:
                    pairs += _paired(mixed, args, work, cache, Path(zones.source), runs[-1])
            if args.compare_rev:
                code = _checkout(stack, args.compare_rev, work)
                earlier.append(_report(path, args.boundaries, work, args.events, cache,
                                       code=code, label=args.compare_rev))  # fmt: skip
        baselines = [_baseline(wards, lon, lat, PREDICATES[0])]
        part = slice(0, min(lon.size, args.check_points or lon.size))
        sampled = bool(args.check_points)
        baselines += [_baseline(wards, lon[part], lat[part], p, sample=sampled)
                      for p in PREDICATES[1:]]  # fmt: skip
    _summary(runs, earlier, baselines, cold, time.perf_counter() - began)
    _against_earlier(runs, earlier)
    if pairs:
        _zones_summary(pairs)
    return 0


# --- 1. events ---------------------------------------------------------------------------


def _config(wards: Any, args: argparse.Namespace) -> Any:
    """The simulation: the default roster over 28 days up to last midnight."""
    from beatlight.streams.simulate import SimulationConfig

    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return SimulationConfig(seed=args.seed, start=start - timedelta(days=DAYS),
                            duration=timedelta(days=DAYS))  # fmt: skip


def _zones(wards: Any, args: argparse.Namespace, work: Path, config: Any) -> tuple[Any, Any]:
    """``--zones N`` hot spots where the patrols go (``bench/_zones.py``), kept beside the
    events they were made for; the simulation with units sent to them, and the zones."""
    from beatlight.geo.demo_zones import zone_points
    from beatlight.geo.zones import load_zones
    from beatlight.streams.schedule import parse_schedule

    path = work / f"zones-{args.zones}-events-{args.events}-seed{args.seed}.geojson"
    if path.exists():
        zones = load_zones(path, parse_schedule=parse_schedule, metric_crs=wards.metric_crs)
        config = replace(config, hot_spots=zone_points(zones.metric))
        say(f"1. reusing {len(zones)} hot spots from {path.name}")
    else:
        started = time.perf_counter()
        config, zones = hot_spot_file(wards, config, args.zones, path)
        say(f"1. {len(zones)} hot spots of 150 m in {path.name}, centred on pings of a "
            f"pilot day of the simulation ({time.perf_counter() - started:.0f} s)")  # fmt: skip
    kinds = Counter(text or "a weekly target, or nothing" for text in zones.schedule_texts)
    say("   schedules: " + "; ".join(f"{n} {text}" for text, n in kinds.most_common()))
    say(f"   the simulated units are sent to them for 12-16 minute visits, "
        f"{config.hot_spot_visits_per_hour:g} asked per hot spot an hour (4 times that on "
        "Friday and Saturday nights)")  # fmt: skip
    return config, zones


def _events(
    wards: Any, args: argparse.Namespace, work: Path, config: Any
) -> tuple[list[Path], Any, Any]:
    """The events files asked for and the coordinates of the events that have numeric ones."""
    from beatlight.streams.simulate import plan_units, simulate

    zoned = f"-zones{args.zones}" if args.zones else ""
    stem = work / f"events-{args.events}-seed{args.seed}{zoned}"
    ndjson, parquet, coords = (stem.with_suffix(s) for s in (".ndjson", ".parquet", ".npz"))
    roster = Counter(plan.mode for plan in plan_units(wards, config))
    modes = ", ".join(f"{n:,} {mode}" for mode, n in roster.items())
    say(f"1. roster: {sum(roster.values()):,} units ({modes}), a ping every "
        f"{config.ping_seconds:g} s on air")  # fmt: skip
    wanted = {"ndjson": ndjson, "parquet": parquet}
    files = [wanted[f] for f in args.formats]
    if all(p.exists() for p in files) and coords.exists():
        say(f"   reusing {', '.join(p.name for p in files)} and {coords.name} in {work}")
        with np.load(coords) as saved:
            return files, saved["lon"], saved["lat"]
    started = time.perf_counter()
    lon = np.full(args.events, np.nan)
    lat = np.full(args.events, np.nan)
    writer = _ParquetWriter(parquet) if "parquet" in args.formats else None
    dumps = orjson.dumps
    n = 0
    with ndjson.open("wb") as out, _Progress("simulating", args.events) as progress:
        stream = itertools.islice(simulate(wards, config), args.events)
        while block := list(itertools.islice(stream, 50_000)):
            lines = []
            for item in block:
                if isinstance(item, str):  # a broken line, as the feed sent it
                    lines.append(item.encode())
                    continue
                lines.append(dumps(item))
                x, y = item.get("lon"), item.get("lat")
                if type(x) is float and type(y) is float:
                    lon[n], lat[n] = x, y
                n += 1
            out.write(b"\n".join(lines) + b"\n")
            if writer is not None:
                writer.write([item for item in block if isinstance(item, dict)])
            progress.advance(len(block))
    if writer is not None:
        writer.close()
    keep = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[keep], lat[keep]
    np.savez(coords, lon=lon, lat=lat)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:,.0f} MB" for p in files)
    say(f"   {args.events:,} events simulated and written in {time.perf_counter() - started:.0f} s "
        f"({sizes}); {lon.size:,} with numeric coordinates")  # fmt: skip
    return files, lon, lat


class _ParquetWriter:
    """Events as a typed export holds them: the SPEC's columns, coordinates as doubles."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from beatlight.streams.events import FIELDS

        self.fields = FIELDS
        self.numeric = {"lat", "lon", "accuracy_m"}
        self.schema = pa.schema([(name, pa.float64() if name in self.numeric else pa.string())
                                 for name in FIELDS])  # fmt: skip
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, events: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        columns = {}
        for name in self.fields:
            values = [event.get(name) for event in events]
            if name in self.numeric:  # "NaN" strings and the like: null, as a typed export has
                values = [v if type(v) is float or type(v) is int else None for v in values]
            else:
                values = [v if isinstance(v, str) else None for v in values]
            columns[name] = values
        self.writer.write_table(pa.table(columns, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


# --- 2. the report -----------------------------------------------------------------------

#: What the report logs, and how much of its wall time each step took.
_SPLIT = {
    "boundaries loaded": re.compile(r"loaded \d+ wards .* in ([\d.]+) s"),
    "geography built (index, cells)": re.compile(r"geography ready: .* in ([\d.]+) s"),
    "events read and reported": re.compile(r"report as of .* in ([\d.]+) s"),
}


def _prime_cache(boundaries: Path, cache: Path) -> float:
    """The wards' grid cells built once into an empty cache, as a first start does (s)."""
    say(f"2. the geography built once, its ward cells kept in {cache} (as any first start "
        f"on these boundaries does): load average {_load()}")  # fmt: skip
    code = ("import sys; from geo.geography import load_geography; "
            "load_geography(sys.argv[1], cache_dir=sys.argv[2])")  # fmt: skip
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(boundaries), str(cache)], cwd=REPO,
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    seconds = time.perf_counter() - started
    say(f"   {seconds:.1f} s (the reports below read the cells back)")
    return seconds


def _report(
    events: Path,
    boundaries: Path,
    work: Path,
    n: int,
    cache: Path,
    *,
    code: Path = REPO,
    label: str = "",
    zones: Path | None = None,
) -> Run:
    """``beatlight report`` on one events file, as a child process, timed to its exit.

    ``code``: the checkout whose report runs (its folder comes first on the path);
    ``zones``: the zones file to give it (``--zones``)."""
    name = f"{events.stem}{events.suffix.replace('.', '-')}{'-' + label if label else ''}"
    out, log = work / f"report-{name}.json", work / f"report-{name}.log"
    command = [sys.executable, "-m", "beatlight", "report", "--events", str(events),
               "--boundaries", str(boundaries), "--format", "json", "--out", str(out),
               "--no-progress", *(["--zones", str(zones)] if zones else [])]  # fmt: skip
    say(f"2. the report on {events.name}{' with zones' if zones else ''}: load average "
        f"{_load()}")  # fmt: skip
    say(f"   $ {shlex.join(command)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    env["COLUMNS"] = "200"  # Rich's log lines unwrapped
    env["BEATLIGHT_GEO_CACHE_DIR"] = str(cache)
    size = events.stat().st_size
    with log.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=code, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    peak_kb, waited_s = 0, 0.0
    try:
        with _Progress(f"report on {events.name} (bytes read)", size) as progress:
            while True:
                peak_kb = max(peak_kb, proc_status(process.pid).get("VmHWM", 0))
                waited_s = _waited(process.pid, waited_s)
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                progress.advance(_file_position(process.pid, events) - progress.done)
                progress.alive()
                time.sleep(0.5)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        stop_process(process, grace_s=10.0)
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        sys.exit(f"the report exited with code {process.returncode}:\n{text[-3000:]}")
    split = {name: float(m.group(1)) for name, pattern in _SPLIT.items()
             if (m := pattern.search(text))}  # fmt: skip
    if len(split) == len(_SPLIT):  # "geography ready" counts from before loading the boundaries
        split["geography built (index, cells)"] -= split["boundaries loaded"]
    document = orjson.loads(out.read_bytes())
    counts = {key: document[key] for key in ("accepted", "duplicates", "outside")}
    counts["rejected"] = sum(document["rejected"].values())
    if "zones" in document:
        counts["zones"] = len(document["zones"])
        counts["sessions"] = sum(len(z["sessions"]) for z in document["zones"])
    order = "shuffled" if events.stem.endswith("-shuffled") else "as given"
    title = f"beatlight report{' ' + label if label else ''}, {events.suffix[1:]}, {order}"
    run = Run(title, n, wall, usage.ru_utime + usage.ru_stime, peak_kb / 1024, split,
              counts, waited_s)  # fmt: skip
    tally = ", ".join(f"{key} {value:,}" for key, value in counts.items())
    say(f"   {wall:.1f} s: {run.rate:,.0f} events/s, CPU {run.cpu_s:.1f} s, waited for a core "
        f"{waited_s:.1f} s, peak RSS {run.peak_rss_mb:,.0f} MB; {tally}")  # fmt: skip
    return run


def _waited(pid: int, before: float) -> float:
    """How long the process's main thread has been runnable but waiting for a core (s;
    ``before`` when it is gone): the share of its wall time that other work took."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    return before


def _shuffled(path: Path, seed: int) -> Path:
    """A copy of an events file with its lines (or rows) in a random order.

    Shuffled in a child process: holding a file's lines here would make every later
    child report a peak RSS of at least this process's (Linux counts a fork's pages).
    """
    mixed = path.with_name(f"{path.stem}-shuffled{path.suffix}")
    if mixed.exists():
        return mixed
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _SHUFFLE, str(path), str(mixed), str(seed)],
                   check=True)  # fmt: skip
    took = time.perf_counter() - started
    say(f"   {mixed.name}: the lines of {path.name} shuffled ({took:.0f} s)")
    return mixed


_SHUFFLE = """
import random, sys
import numpy as np
source, target, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
if source.endswith(".parquet"):
    import pyarrow.parquet as pq
    table = pq.read_table(source)
    pq.write_table(table.take(np.random.default_rng(seed).permutation(table.num_rows)), target)
else:
    with open(source, "rb") as f:
        lines = f.read().splitlines()
    random.Random(seed).shuffle(lines)
    with open(target, "wb") as f:
        f.write(b"\\n".join(lines) + b"\\n")
"""


def _same_documents(work: Path, given: Path, mixed: Path) -> None:
    """A file is a complete record: the same document whatever the order of its lines."""
    a = (work / f"report-{given.stem}{given.suffix.replace('.', '-')}.json").read_bytes()
    b = (work / f"report-{mixed.stem}{mixed.suffix.replace('.', '-')}.json").read_bytes()
    if a != b:
        sys.exit(f"FAIL: the report on {mixed.name} differs from the one on {given.name}")
    say(f"   the documents of {given.name} and {mixed.name} are identical ({len(a):,} bytes)")


def _checkout(stack: contextlib.ExitStack, rev: str, work: Path) -> Path:
    """A worktree of ``rev`` (removed at the end), to run that revision's report."""
    where = work / f"code-{rev}"
    if not where.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(where),
                        rev], check=True)  # fmt: skip
        stack.callback(subprocess.run, ["git", "-C", str(REPO), "worktree", "remove", "--force",
                                        str(where)], check=False)  # fmt: skip
    return where


def _against_earlier(runs: list[Run], earlier: list[Run]) -> None:
    """Each run's wall time and peak memory against the earlier revision's, same format."""
    for old in earlier:
        fmt = old.name.split(", ")[1]
        for run in (r for r in runs if r.name.split(", ")[1] == fmt):
            say(f"{run.name}: wall {run.wall_s:.0f} s = {run.wall_s / old.wall_s:.2f} x "
                f"{old.name} ({old.wall_s:.0f} s); peak RSS {run.peak_rss_mb:,.0f} MB "
                f"({old.peak_rss_mb:,.0f} MB)")  # fmt: skip


def _file_position(pid: int, path: Path) -> int:
    """How far the process has read ``path`` (0 before it opens it)."""
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                return int(info.split("pos:", 1)[1].split()[0])
    return 0


# --- 3. the baseline ---------------------------------------------------------------------


def _baseline(wards: Any, lon: Any, lat: Any, predicate: str, *, sample: bool = False) -> Run:
    """Raw Shapely: an STRtree of the ward polygons queried with every point, vectorised."""
    tree = shapely.STRtree(np.asarray(wards.geometry.values, dtype=object))
    say(f"3. baseline STRtree.query(points, predicate={predicate!r}): load average {_load()}")
    matched = 0
    wall = cpu = 0.0
    with _Progress(f"query {predicate}", lon.size) as progress:
        for first in range(0, lon.size, CHUNK):
            x, y = lon[first : first + CHUNK], lat[first : first + CHUNK]
            started, cpu_started = time.perf_counter(), time.process_time()
            points = shapely.points(x, y)
            found, _ = tree.query(points, predicate=predicate)
            wall += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
            matched += np.unique(found).size
            progress.advance(x.size)
    run = Run(f"STRtree query, {predicate}" + (f" ({lon.size:,} points)" if sample else ""),
              lon.size, wall, cpu,
              counts={"points in a ward": matched})  # fmt: skip
    say(f"   {wall:.1f} s: {run.rate:,.0f} points/s ({matched:,} of {lon.size:,} in a ward)")
    return run


# --- output --------------------------------------------------------------------------------


def _summary(
    runs: list[Run], earlier: list[Run], baselines: list[Run], cold_s: float, seconds: float
) -> None:
    """The table (this code's runs, the earlier revision's, the baselines) and the ratio of
    this code's fastest run."""
    baseline = max(baselines, key=lambda r: r.rate)
    best = max(runs, key=lambda r: r.rate)
    table = Table(title=f"{best.items:,} events; baseline: {baseline.name}")
    for column in ("run", "items", "wall s", "items/s", "CPU s", "items/CPU s", "peak RSS MB",
                   "× baseline"):  # fmt: skip
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in [*runs, *earlier, *baselines]:
        table.add_row(run.name, f"{run.items:,}", f"{run.wall_s:.1f}", f"{run.rate:,.0f}",
                      f"{run.cpu_s:.1f}", f"{run.cpu_rate:,.0f}",
                      "" if run.peak_rss_mb != run.peak_rss_mb else f"{run.peak_rss_mb:,.0f}",
                      f"{run.rate / baseline.rate:.2f}")  # fmt: skip
    console.print(table)
    for run in [*runs, *earlier]:
        if run.split:
            parts = ", ".join(f"{name} {s:.1f} s" for name, s in run.split.items())
            rest = run.wall_s - sum(run.split.values())
            say(f"{run.name}: {parts}, the rest (start-up, writing) {rest:.1f} s")
    ratio = best.rate / baseline.rate
    first = best.items / (best.wall_s + cold_s)
    say(f"a first start on these boundaries also builds the ward cells ({cold_s:.1f} s, once, "
        f"kept in the cache): {best.name} with them {first:,.0f} events/s = "
        f"{first / baseline.rate:.2f} x baseline")  # fmt: skip
    say(f"load average at the end: {_load()}; whole benchmark {seconds / 60:.1f} min")
    say(f"ratio {best.name} / {baseline.name}: {ratio:.2f} (target >= {TARGET_RATIO}) "
        f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}; by CPU time "
        f"{best.cpu_rate / baseline.cpu_rate:.2f}")  # fmt: skip


def _paired(
    path: Path, args: argparse.Namespace, work: Path, cache: Path, zones: Path, first: Run
) -> list[tuple[Run, Run]]:
    """``--zone-rounds`` pairs of reports on one file, ward-only and with ``--zones``, each
    pair back to back, in turn zones last and zones first (the first pair's ward-only run
    is ``first``, just made), so that a neighbour's work on the machine falls on both."""
    pairs = []
    for r in range(args.zone_rounds):
        tag = f"r{r + 1}" if args.zone_rounds > 1 else ""

        def run(with_zones: bool, tag: str = tag) -> Run:
            label = " ".join(filter(None, ["zones" if with_zones else "", tag]))
            return _report(path, args.boundaries, work, args.events, cache,
                           zones=zones if with_zones else None, label=label)  # fmt: skip

        if r == 0:
            pairs.append((first, run(True)))
        elif r % 2:
            zoned = run(True)
            pairs.append((run(False), zoned))
        else:
            plain = run(False)
            pairs.append((plain, run(True)))
    return pairs


def _zones_summary(pairs: list[tuple[Run, Run]]) -> None:
    """Each report with zones against the ward-only one run beside it on the same file;
    the last line is what zones add: the median pair's."""
    alone, walls, cpus = [], [], []
    for ward_only, with_zones in pairs:
        alone.append((with_zones.wall_s - with_zones.waited_s)
                     / (ward_only.wall_s - ward_only.waited_s) - 1)  # fmt: skip
        walls.append(with_zones.wall_s / ward_only.wall_s - 1)
        cpus.append(with_zones.cpu_s / ward_only.cpu_s - 1)
        say(f"{with_zones.name}: wall {with_zones.wall_s:.1f} s against {ward_only.wall_s:.1f} s "
            f"ward-only ({walls[-1]:+.1%}); less the time waiting for a core "
            f"{with_zones.wall_s - with_zones.waited_s:.1f} s against "
            f"{ward_only.wall_s - ward_only.waited_s:.1f} s ({alone[-1]:+.1%}); CPU "
            f"{with_zones.cpu_s:.1f} s against {ward_only.cpu_s:.1f} s ({cpus[-1]:+.1%}); peak "
            f"RSS {with_zones.peak_rss_mb:,.0f} MB against {ward_only.peak_rss_mb:,.0f} MB; "
            f"{with_zones.counts.get('zones', 0)} zones, "
            f"{with_zones.counts.get('sessions', 0):,} sessions")  # fmt: skip
    time_, wall, cpu = (float(np.median(x)) for x in (alone, walls, cpus))
    zoned = [z for _, z in pairs]
    say(f"{'median of ' + str(len(pairs)) + ' pairs' if len(pairs) > 1 else 'the pair'}: "
        f"wall {wall:+.1%}, wall less the time waiting for a core {time_:+.1%}, CPU "
        f"{cpu:+.1%}; load average at the end: {_load()}")  # fmt: skip
    say(f"zones add {time_:.1%} to the ward-only batch time (wall {wall:+.1%}, CPU "
        f"{cpu:+.1%}; {zoned[0].counts.get('zones', 0)} zones, "
        f"{zoned[0].items:,} events; target <= {TARGET_ZONES_EXTRA:.0%}) "
        f"{'PASS' if time_ <= TARGET_ZONES_EXTRA else 'MISS'}")  # fmt: skip


class _Progress:
    """A progress bar on a terminal; otherwise a line at every tenth of the work."""

    def __init__(self, description: str, total: int) -> None:
        self.description, self.total, self.done = description, max(total, 1), 0
        self.bar = Progress("   [progress.description]{task.description}", BarColumn(),
                            TaskProgressColumn(), TimeElapsedColumn(), console=console,
                            transient=True)  # fmt: skip
        self.task = self.bar.add_task(description, total=self.total)
        self.started = self.said = time.perf_counter()

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def alive(self, every_s: float = 60.0) -> None:
        """A line now and then when the work cannot be measured (off a terminal)."""
        now = time.perf_counter()
        if not console.is_terminal and now - self.said >= every_s:
            say(f"   {self.description}: running for {now - self.started:.0f} s")
            self.said = now

    def advance(self, n: int) -> None:
        tenth = 10 * self.done // self.total
        self.done += n
        self.bar.update(self.task, completed=self.done)
        if not console.is_terminal and 10 * self.done // self.total > tenth:
            self.said = time.perf_counter()
            say(f"   {self.description}: {self.done / self.total:.0%} after "
                f"{self.said - self.started:.0f} s")  # fmt: skip


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="N (default 10 M).")
    parser.add_argument("--boundaries", type=Path, default=DEFAULT_BOUNDARIES)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="Keep the events files, reports and logs here, and reuse events files "
        "of the same N and seed (default: a temporary directory).",
    )
    parser.add_argument(
        "--formats",
        default="ndjson,parquet",
        help="Events files to report on, comma-separated from ndjson,parquet.",
    )
    parser.add_argument(
        "--check-points",
        type=int,
        default=0,
        help="Only this many points for the second baseline predicate (default: all; "
        "the first always takes all).",
    )
    parser.add_argument(
        "--orders",
        default="given,shuffled",
        help="Line orders to report on, comma-separated from given,shuffled.",
    )
    parser.add_argument(
        "--compare-rev",
        default=None,
        help="Also run this git revision's report on each file as given, and compare.",
    )
    parser.add_argument(
        "--zones",
        type=int,
        default=0,
        metavar="N",
        help="Also make N 150 m hot spots where the simulated patrols go (they are sent "
        "to them), and run the report with --zones after each ward-only run on the same "
        "file; the last line is what zones add to its time (default 0: no zones).",
    )
    parser.add_argument(
        "--zone-rounds",
        type=int,
        default=1,
        metavar="R",
        help="With --zones: R pairs (ward-only, with zones) per file and order, in turn "
        "zones last and zones first; the figure is the median pair's (default 1).",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.orders = [o.strip() for o in args.orders.split(",") if o.strip()]
    if not args.orders or set(args.orders) - {"given", "shuffled"}:
        parser.error("--orders: given, shuffled or both")
    args.formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not args.formats or set(args.formats) - {"ndjson", "parquet"}:
        parser.error("--formats: ndjson, parquet or both")
    if args.events < 1 or args.check_points < 0 or args.zones < 0 or args.zone_rounds < 1:
        parser.error("--events and --zone-rounds must be at least 1, --check-points and "
                     "--zones at least 0")  # fmt: skip
    args.boundaries = args.boundaries.resolve()
    return args


if __name__ == "__main__":
    sys.exit(main())
