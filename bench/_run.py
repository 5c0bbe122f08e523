"""What every benchmark script does around its measurements: where it keeps its files,
which code it measured, and stopping cleanly on a signal."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

__all__ = ["REPO", "code_version", "free_port", "stop_on_signals", "work_dir"]


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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now (for a server a benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
