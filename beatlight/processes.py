"""Child processes that leave nothing behind: started in groups of their own, stopped in order.

``beatlight demo`` runs a worker and the API as child processes. Each child
starts in a new session (so a Ctrl-C at the terminal reaches the demo alone, which
then stops the children in the right order) and, on Linux, is told by the kernel to
stop if the demo dies without stopping it (``PR_SET_PDEATHSIG``). Stopping sends
SIGTERM to the child's whole process group, waits, then SIGKILLs the group, so
neither the child nor anything it started outlives it. :func:`free_port` finds a
port for a child's server (the embedded broker's, the demo's worker and API).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Child", "free_port", "spawn"]

log = logging.getLogger("beatlight.processes")

_TAIL_BYTES = 4000


@dataclass
class Child:
    """A running child process, the log file it writes, and how long it may take to stop."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stop_timeout_s: float = 20.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        """``None`` while it runs, else its exit code."""
        return self.process.poll()

    def stop(self, timeout_s: float | None = None, *, hurry: threading.Event | None = None) -> int:
        """SIGTERM its process group, wait, SIGKILL the group after the grace; its exit code.

        Idempotent. ``hurry`` (e.g. a second Ctrl-C) cuts the grace short. The group
        is swept with SIGKILL even when the child stopped in time, so a grandchild
        that ignored SIGTERM does not survive it.
        """
        grace = self.stop_timeout_s if timeout_s is None else timeout_s
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.process.poll() is None and time.monotonic() < deadline:
                if hurry is not None and hurry.is_set():
                    break
                time.sleep(0.05)
            if self.process.poll() is None:
                log.warning("%s (pid %d) did not stop within %.0f s: killing it",
                            self.name, self.pid, grace)  # fmt: skip
        _signal_group(self.pid, signal.SIGKILL)
        return self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of its log, for the message when it fails."""
        try:
            with self.log_path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _TAIL_BYTES))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stop_timeout_s: float = 20.0,
) -> Child:
    """Start ``argv`` in a session of its own, stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as output:  # the child keeps its own descriptor
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
    log.debug("started %s (pid %d): %s", name, process.pid, " ".join(argv))
    return Child(name, process, log_path, stop_timeout_s)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (for a server a child starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _signal_group(pid: int, sig: int) -> None:
    # start_new_session made the child its group's leader: its group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # PR_SET_PDEATHSIG: the kernel sends SIGTERM to the child if the demo dies first.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
