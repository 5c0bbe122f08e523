"""What every benchmark script does around its measurements: where it keeps its files,
which code it measured, stopping cleanly on a signal, and watching its child processes
(a free port, CPU time, peak RSS, a log's tail, stopping them)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

__all__ = [
    "REPO",
    "code_version",
    "cpu_seconds",
    "free_port",
    "proc_status",
    "stop_on_signals",
    "stop_process",
    "tail",
    "work_dir",
]


def work_dir(stack: contextlib.ExitStack, requested: Path | None) -> Path:
    """``requested`` (made if missing, kept afterwards), or a temporary folder that
    ``stack`` removes at the end."""
    if requested is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="beatlight-bench-")))
    work = requested.resolve()
    work.mkdir(parents=True, exist_ok=True)
    return work


def code_version() -> str:
    """The commit measured, and whether the product's sources differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip

    try:
        dirty = git("status", "--porcelain", "--", "streams", "runtime", "geo", "beatlight", "api")
        commit = git("rev-parse", "--short", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return "(not a git checkout)"
    return f"commit {commit}" + (" with uncommitted changes" if dirty else "")


def stop_on_signals() -> None:
    """SIGTERM and SIGINT (even when a background shell ignores it) unwind through the
    ``finally`` blocks, so every child process and broker is stopped."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a child's web server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in kB (empty when the process is gone).

    Not ``wait4``'s ``ru_maxrss``: Linux counts in it the pages of the process that
    forked the child (the benchmark, holding its inputs), before exec."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (NaN when it is gone)."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return math.nan


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a child's log, for the message when it failed."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen, name: str = "", grace_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s`` (nothing if it has exited).

    With a ``name``, says when the process needed SIGKILL or exited with an error."""
    if process.returncode is not None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(grace_s)
    except subprocess.TimeoutExpired:
        if name:
            print(f"  {name} (pid {process.pid}) ignored SIGTERM for {grace_s:.0f} s: SIGKILL",
                  flush=True)  # fmt: skip
        process.kill()
        process.wait(10)
        return
    if name and code != 0:
        print(f"  {name} (pid {process.pid}) exited with code {code} on SIGTERM (see its log)",
              flush=True)  # fmt: skip


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
