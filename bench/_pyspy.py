"""Profiles of a benchmark's child process with py-spy (``pip install py-spy``): sampling
it, and reading the collapsed stacks back as the frames it was busiest in."""

from __future__ import annotations

import math
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

__all__ = ["api_profile", "record", "top_frames"]


def record(pid: int, seconds: float, out: Path, log: Path) -> subprocess.Popen | None:
    """py-spy recording ``pid`` for ``seconds`` into ``out`` (raw collapsed stacks, every
    thread, 100 Hz), in the background; ``None`` (and a note) without py-spy."""
    binary = _binary()
    if binary is None:
        print("  (py-spy not installed: no profile; pip install py-spy)", flush=True)
        return None
    command = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)),
               "--rate", "100", "--format", "raw", "--threads", "--nonblocking",
               "--output", str(out)]  # fmt: skip
    print(f"  $ {shlex.join(command)}", flush=True)
    with log.open("ab") as err:
        return subprocess.Popen(command, stdout=err, stderr=err, stdin=subprocess.DEVNULL)


def top_frames(path: Path, top: int = 12) -> list[str]:
    """Top frames of a :func:`record` profile, for its two busiest threads: by own time
    and by inclusive time."""
    if not path.exists():
        return ["  (no profile written)"]
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
            threads[thread][_short(frames[-1], depth=2)] += n
        for frame in {_short(f, depth=2) for f in frames}:
            inclusive[thread][frame] += n
    lines = ["  py-spy samples by thread (100 Hz, idle excluded): "
             + ", ".join(f"{t} {c}" for t, c in totals.most_common())]  # fmt: skip
    for thread, total in totals.most_common(2):
        lines.append(f"  {thread}: top frames by own time")
        lines += [f"    {100 * n / total:5.1f} %  {f}" for f, n in threads[thread].most_common(top)]
        lines.append(f"  {thread}: top functions by inclusive time")
        lines += [f"    {100 * n / total:5.1f} %  {f}"
                  for f, n in inclusive[thread].most_common(top + 8)]  # fmt: skip
    return lines


def api_profile(
    pid: int, seconds: float, drive: Callable[[float], object], say: Callable[[str], None]
) -> None:
    """Sample the API process with py-spy (250 Hz) while ``drive(seconds)`` loads it; say
    where its busy samples were, and keep the stacks in ``./api-profile.txt``."""
    spy = _binary()
    if spy is None:
        say("--profile needs py-spy: pip install py-spy")
        return
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "api.txt"
        sampler = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
             "--rate", "250", "--format", "raw", "--output", str(raw), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(0.5)
        drive(seconds)
        _, err = sampler.communicate(timeout=seconds + 60)
        if sampler.returncode != 0 or not raw.exists():
            say(f"py-spy failed: {err.decode(errors='replace').strip()[-500:]}")
            return
        saved = Path.cwd() / "api-profile.txt"
        shutil.copy(raw, saved)
        say(f"{_api_phases(raw.read_text())}\n(collapsed stacks in {saved}: "
            "flamegraph.pl or speedscope draw them)")  # fmt: skip


#: Where an API process spends its time: a name, and a piece of a frame on the stack.
API_PHASES = (
    ("reading and parsing requests", "data_received ("),
    ("solving dependencies (FastAPI: parameters, security, auth)", "solve_dependencies ("),
    ("  of which the auth dependency (api/auth.py requires)", "requires.<locals>.principal ("),
    ("  of which handing work to the thread pool", "run_in_threadpool ("),
    ("the route functions (api/routes)", "(api/routes/"),
    ("writing responses", "Response.__call__ ("),
    ("  of which the socket writes", "_SelectorSocketTransport.write ("),
    ("the store (SQLAlchemy)", "sqlalchemy/"),
    ("request metrics (api/app.py _Measure, prometheus-client)", "prometheus_client/"),
)


def _api_phases(collapsed: str, top: int = 15) -> str:
    """Where the busy samples were: by phase of a request, and the busiest leaf frames."""
    phases: Counter = Counter()
    leaf: Counter = Counter()
    busy = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not stack or frames[-1].startswith(("Condition.wait ", "EpollSelector.select ")):
            continue  # a thread waiting for work
        busy += int(count)
        leaf[_short(frames[-1])] += int(count)
        for name, piece in API_PHASES:
            if any(piece in frame for frame in frames):
                phases[name] += int(count)
    if not busy:
        return "no busy samples"
    return "\n".join([
        f"busy samples: {busy:,} (threads waiting for work left out); on the stack in:",
        *(f"{phases[name] / busy:6.1%}  {name}" for name, _ in API_PHASES),
        "running themselves (leaf frames):",
        *(f"{n / busy:6.1%}  {frame}" for frame, n in leaf.most_common(top)),
    ])  # fmt: skip


def _binary() -> str | None:
    """py-spy on the PATH or beside this Python."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def _short(frame: str, depth: int = 1) -> str:
    """``function (path/to/module.py:12)`` as ``function (module.py)`` (``depth`` 2:
    ``function (to/module.py)``); the lines of a function merged."""
    match = re.match(r"(.*?) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    name, file = match.groups()
    return f"{name} ({'/'.join(Path(file).parts[-depth:])})"
