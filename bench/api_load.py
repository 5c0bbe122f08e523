"""API load benchmark: the live metrics and GeoJSON endpoints against a trivial endpoint.

    python bench/api_load.py [--seconds 10] [--rounds 2] [--concurrency 32] [--warmup 2]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--boundaries ../shared/data/staffordshire-wards.geojson] [--days 28]
        [--only WORDS] [--profile SECONDS] [--accept-encoding gzip]

    # England: 7,681 wards; two days of history (3 M rows, a minute to store)
    python bench/api_load.py --boundaries ../shared/data/england-wards.geojson.gz \
        --days 2 --only GeoJSON

Everything is measured in one run on this machine:

1. A scratch PostgreSQL database ``beatlight_bench_<random>`` on the server of
   ``--database-url`` (env ``BEATLIGHT_TEST_POSTGRES_URL``), migrated, and dropped
   at the end whatever happens (``bench/_api_store.py``).
2. The store holds ``--days`` days of hourly snapshots and a live one for the wards
   of ``--boundaries`` (211 Staffordshire wards, 211 neighbourhoods, 9 districts,
   the force; four windows each; England: 15,689 areas): one simulated day,
   reported once, re-stamped and scaled for every hour; history rows go in by COPY
   (about 60,000 rows/s: England's 1.5 M rows a day take 25 s), and each hour is
   rendered into ``hour_documents`` as the materialiser does (a few seconds an England
   hour); then ``VACUUM ANALYZE``, as autovacuum does soon after.
3. An inspector key; the API in its own process (``bench/_api_server.py``: the
   real app with default settings but no rate limit, plus ``GET /bench/trivial``
   with no key, on one uvicorn process as ``beatlight api`` runs).
4. This process is the load generator (``bench/_http_load.py``): ``--concurrency``
   keep-alive connections, each sending its next request when the last is
   answered; ``--seconds`` per endpoint in ``--rounds`` turns, each turn after an
   uncounted ``--warmup`` (so cached endpoints are measured warm; "every hour in
   turn" visits every stored hour, each read as stored: every area in every window,
   and then the wards in one window, as a map stepping through the hours asks; the
   history every ward's rows). Requests carry
   ``Accept-Encoding: gzip`` as browsers and HTTP libraries send it (the API sends
   large snapshot renders compressed: ``api/compression.py``). The API has one of
   the machine's two cores, the generator the other; the table shows the CPU
   share each used.

The last row asks for the live ward metrics again with ``If-None-Match`` naming the
answer the client holds (one request made first, for its ``ETag``): 304s with no body.

Printed per endpoint: requests/s, p50 and p99 latency, throughput as a ratio of
the trivial endpoint's, and the size of an answer as sent and the bytes per second.
A ward's history is asked for twice: by the run's connections (its rate; each request
then waits for the other 31) and by 4 clients at once (a request's latency, against the
target p99 < 100 ms). The last line is the key ratio (live ward metrics / trivial)
against the issue's targets, >= 0.5 and p99 < 50 ms. ``--profile S`` then samples the
API with py-spy (``pip install py-spy``) for S seconds under the live metrics load (or
that of the first endpoint ``--only`` chose) and prints the frames it is busiest in.

Long because it is one run from end to end: the store filled, the API started, every
endpoint measured and the table printed, and its own arguments and endpoints beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench._api_store import base_document, fill_store, scratch_database  # noqa: E402
from bench._http_load import Endpoint, Load, measure  # noqa: E402
from bench._pyspy import api_profile  # noqa: E402
from bench._run import free_port, stop_process, tail  # noqa: E402

DEFAULT_BOUNDARIES = REPO.parent / "shared" / "data" / "staffordshire-wards.geojson"
DEFAULT_SERVER = os.environ.get("BEATLIGHT_TEST_POSTGRES_URL",
                                "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip
SERVER_SCRIPT = Path(__file__).resolve().parent / "_api_server.py"
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
#: Clients reading ward histories at once in the history latency row: people (inspectors,
#: the PCC's office) a few at a time. With 32 clients in a closed loop, a request's wait
#: is 32 over the rate: that row gives the rate, this one the latency of a request.
HISTORY_CLIENTS = 4
#: A ward's 28 days of hourly history, p99 (issue 17).
TARGET_HISTORY_P99_MS = 100.0
#: Metrics at every stored hour in turn, as a ratio of the trivial endpoint (issue 17).
TARGET_HOURS_RATIO = 0.3

console = Console(width=140)


def say(text: str = "") -> None:
    console.print(text, highlight=False)


def main() -> None:
    args = _arguments()
    with scratch_database(args.database_url, say) as url, tempfile.TemporaryDirectory() as tmp:
        key, hours, wards = _fill(url, args)
        endpoints = _endpoints(key, hours, wards, args.only)
        port = free_port()
        with _api_process(url, args.boundaries, port, Path(tmp) / "api.log") as pid:
            if not args.only or "304" in args.only:
                endpoints.append(_conditional(endpoints[1], port, args.accept_encoding))
            say(f"API pid {pid} on port {port}: {args.concurrency} connections, "
                f"{args.seconds:g} s per endpoint in {args.rounds} rounds, each turn after "
                f"{args.warmup:g} s of warm-up")  # fmt: skip
            options = dict(port=port, pid=pid, concurrency=args.concurrency,
                           accept_encoding=args.accept_encoding)  # fmt: skip
            loads = measure(endpoints, seconds=args.seconds, warmup=args.warmup,
                            rounds=args.rounds, report=_report, **options)  # fmt: skip
            if args.profile > 0:
                # Under the load of the first endpoint --only chose, else the live metrics.
                profiled = endpoints[2] if args.only and len(endpoints) > 2 else endpoints[1]
                say(f"profile of the API under the load of {profiled.name} ({args.profile:g} s):")
                api_profile(pid, args.profile, lambda s: measure([profiled], seconds=s,
                            warmup=0, report=_report, **options), say)  # fmt: skip

    console.print(_table(loads, args))
    for load in loads:
        if load.name.endswith(f"{HISTORY_CLIENTS} clients"):
            p99 = load.percentile_ms(99)
            say(f"history p99 with {HISTORY_CLIENTS} clients: {p99:.1f} ms (target < "
                f"{TARGET_HISTORY_P99_MS:.0f} ms) "
                f"{'PASS' if p99 < TARGET_HISTORY_P99_MS else 'MISS'}")  # fmt: skip
    live, trivial = loads[1], loads[0]
    for load in loads:
        if "every hour in turn" in load.name:
            ratio = load.rate / trivial.rate
            say(f"ratio {load.name} / trivial: {ratio:.2f} (target >= {TARGET_HOURS_RATIO}) "
                f"{'PASS' if ratio >= TARGET_HOURS_RATIO else 'MISS'}")  # fmt: skip
    ratio, p99 = live.rate / trivial.rate, live.percentile_ms(99)
    say(
        f"ratio live metrics (ward, 24h) / trivial: {ratio:.2f} (target >= {TARGET_RATIO}) "
        f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}; p99 {p99:.1f} ms "
        f"(target < {TARGET_P99_MS:.0f} ms) {'PASS' if p99 < TARGET_P99_MS else 'MISS'}"
    )


def _fill(url: str, args: argparse.Namespace) -> tuple[str, list[datetime], list[str]]:
    """Migrate and fill the store at ``url``: an inspector key, the hours, the ward codes."""
    from beatlight.api.db import create_engine_for, upgrade
    from beatlight.api.keys import create_key
    from beatlight.geo.geography import load_geography

    say(f"loading {args.boundaries}")
    geography = load_geography(args.boundaries)
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    hours = [end - timedelta(hours=h) for h in range(args.days * 24 - 1, -1, -1)]
    started = time.perf_counter()
    base = base_document(geography, end, args.seed)
    say(f"one simulated day reported in {time.perf_counter() - started:.1f} s: "
        f"{len(base['wards'])} wards, {len(base['neighbourhoods'])} neighbourhoods, "
        f"{len(base['districts'])} districts")  # fmt: skip
    upgrade(url)
    engine = create_engine_for(url)
    try:
        started = time.perf_counter()
        rows = fill_store(engine, base, hours, now, seed=args.seed, say=say)
        say(f"{len(hours)} hourly snapshots ({rows:,} history rows) and the live one stored "
            f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        with Session(engine) as session, session.begin():
            key = create_key(session, "inspector", "bench/api_load.py")[1]
        started = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # As autovacuum does soon after the rows arrive (0008_hour_documents): the
            # series index's pages all-visible, so a ward's history is an index-only scan.
            connection.exec_driver_sql("VACUUM ANALYZE")
        say(f"vacuumed in {time.perf_counter() - started:.0f} s")
    finally:
        engine.dispose()
    return key, hours, [w["code"] for w in base["wards"]]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="Counted seconds per endpoint, over all rounds."
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="Turns over the endpoints (each gets seconds / rounds a turn).",
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="Uncounted seconds before each turn."
    )
    parser.add_argument("--concurrency", type=int, default=32, help="Open connections.")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="A PostgreSQL server where a scratch database may be created.",
    )
    parser.add_argument("--boundaries", type=Path, default=DEFAULT_BOUNDARIES)
    parser.add_argument("--days", type=int, default=28, help="Days of hourly history.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--accept-encoding",
        default="gzip",
        help="The requests' Accept-Encoding, as browsers and HTTP libraries send it "
        "(default gzip; '' for none: every answer uncompressed).",
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="WORDS",
        help="Only the endpoints whose name holds one of these comma-separated "
        "words (and the trivial and live ward ones), e.g. --only history.",
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Then sample the API with py-spy under the live metrics load, or that of the "
        "first endpoint --only chose.",
    )
    args = parser.parse_args()
    if not args.boundaries.exists():
        sys.exit(f"no boundary file at {args.boundaries}: this benchmark needs the "
                 "Staffordshire wards (shared/data/staffordshire-wards.geojson beside the "
                 "repository) or another boundary file given with --boundaries")  # fmt: skip
    if args.seconds <= 0 or min(args.concurrency, args.days, args.rounds) < 1:
        sys.exit("--seconds must be positive; --concurrency, --days and --rounds at least 1")
    return args


def _endpoints(key: str, hours: list[datetime], wards: list[str], only: str) -> list[Endpoint]:
    """What is measured: the trivial baseline first, the live ward metrics second."""

    def stamp(moment: datetime) -> str:
        return f"{moment:%Y-%m-%dT%H:%M:%SZ}"

    span = f"start={stamp(hours[0])}&end={stamp(hours[-1])}"
    days = round(len(hours) / 24)
    endpoints = [
        Endpoint("trivial (no key)", ["/bench/trivial"]),
        Endpoint("live metrics, ward 24h", ["/api/v1/metrics?level=ward&window=24h"], key),
        Endpoint("live metrics, all", ["/api/v1/metrics"], key),
        Endpoint("live GeoJSON, ward", ["/api/v1/geojson?level=ward"], key),
        Endpoint("metrics as_of one hour",
                 [f"/api/v1/metrics?as_of={stamp(hours[len(hours) // 2])}"], key),
        Endpoint("metrics as_of every hour in turn",
                 [f"/api/v1/metrics?as_of={stamp(h)}" for h in hours], key),
        Endpoint("metrics as_of every hour in turn, ward 24h",
                 [f"/api/v1/metrics?as_of={stamp(h)}&level=ward&window=24h" for h in hours],
                 key),
        Endpoint(f"history 24h, {days} d hourly, every ward in turn",
                 [f"/api/v1/history/{w}?window=24h&{span}" for w in wards], key),
        Endpoint(f"history 24h, {days} d hourly, every ward in turn, {HISTORY_CLIENTS} clients",
                 [f"/api/v1/history/{w}?window=24h&{span}" for w in wards], key,
                 concurrency=HISTORY_CLIENTS),
    ]  # fmt: skip
    words = [w.strip() for w in only.split(",") if w.strip()]
    return [e for i, e in enumerate(endpoints)
            if i <= 1 or not words or any(w in e.name for w in words)]  # fmt: skip


@dataclass
class _Conditional(Endpoint):
    """Requests that send ``If-None-Match`` with the tag of the answer the client holds."""

    etag: str = ""

    def requests(self, port: int, accept_encoding: str = "") -> list[bytes]:
        tag = f"If-None-Match: {self.etag}\r\n".encode()
        return [r[:-2] + tag + b"\r\n" for r in super().requests(port, accept_encoding)]


def _conditional(endpoint: Endpoint, port: int, accept_encoding: str) -> Endpoint:
    """``endpoint`` asked again by a client that holds its answer: 304s, with no body."""
    headers = {"X-API-Key": endpoint.key or "", "Accept-Encoding": accept_encoding}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{endpoint.paths[0]}",
                                     headers=headers)  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        etag = answer.headers["ETag"]
    if not etag:
        sys.exit(f"{endpoint.paths[0]} sent no ETag: the conditional requests cannot be measured")
    return _Conditional(f"{endpoint.name}, If-None-Match (304)", endpoint.paths, endpoint.key,
                        etag=etag)  # fmt: skip


def _report(load: Load) -> None:
    failures = f", {load.failures} not 2xx: {dict(load.statuses)}" if load.failures else ""
    say(f"  {load.name}: {load.rate:,.0f} req/s, p99 {load.percentile_ms(99):.1f} ms, "
        f"{load.mean_kb:,.1f} kB an answer{failures}")  # fmt: skip


def _table(loads: list[Load], args: argparse.Namespace) -> Table:
    trivial = loads[0].rate
    out = Table(title=f"API under load: {args.concurrency} connections, {args.seconds:g} s per "
                      f"endpoint in {args.rounds} rounds, {args.days} days of history")  # fmt: skip
    for column in ("endpoint", "req/s", "p50 ms", "p99 ms", "× trivial", "kB/answer", "MB/s",
                   "API CPU", "client CPU", "not 2xx"):  # fmt: skip
        out.add_column(column, justify="left" if column == "endpoint" else "right")
    for load in loads:
        out.add_row(load.name, f"{load.rate:,.0f}", f"{load.percentile_ms(50):.1f}",
                    f"{load.percentile_ms(99):.1f}", f"{load.rate / trivial:.2f}",
                    f"{load.mean_kb:,.1f}", f"{load.body_bytes / load.seconds / 1e6:,.0f}",
                    f"{load.server_cpu:.0%}", f"{load.client_cpu:.0%}",
                    str(load.failures))  # fmt: skip
    return out


# --- the API process -------------------------------------------------------


@contextlib.contextmanager
def _api_process(database_url: str, boundaries: Path, port: int, log: Path) -> Iterator[int]:
    """``bench/_api_server.py`` until the block ends; yields its pid once it answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEATLIGHT_")}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), database_url, str(boundaries), str(port)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                sys.exit(f"the API exited with code {process.returncode}:\n{tail(log)}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            if time.monotonic() > deadline:
                sys.exit(f"the API did not answer /healthz within 60 s:\n{tail(log)}")
            time.sleep(0.2)
        yield process.pid
    finally:
        stop_process(process)


if __name__ == "__main__":
    main()
