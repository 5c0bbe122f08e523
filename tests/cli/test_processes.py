"""Child processes in groups of their own: stopping one stops all it started."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from beatlight.processes import spawn

pytestmark = pytest.mark.integration

# A child that starts a grandchild, reports its pid, and ignores SIGTERM if asked.
_CHILD = """
import signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(grandchild.pid, flush=True)
time.sleep(600)
"""


def _grandchild(log: Path) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = log.read_text().strip()
        if text:
            return int(text.splitlines()[0])
        time.sleep(0.05)
    raise AssertionError("the child did not start its grandchild")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"  # not a zombie


@pytest.mark.parametrize("kind", ["polite", "stubborn"])
def test_stopping_a_child_stops_its_whole_group(tmp_path, kind):
    log = tmp_path / "child.log"
    child = spawn("child", [sys.executable, "-c", _CHILD, kind], log_path=log, stop_timeout_s=1)
    grandchild = _grandchild(log)
    assert os.getpgid(child.pid) == child.pid != os.getpgid(0)  # its own group, not ours
    code = child.stop()
    assert code == (-signal.SIGTERM if kind == "polite" else -signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
    assert child.stop() == code  # idempotent


def test_a_hurried_stop_does_not_wait_for_the_grace(tmp_path):
    log = tmp_path / "child.log"
    child = spawn("child", [sys.executable, "-c", _CHILD, "stubborn"], log_path=log,
                  stop_timeout_s=60)  # fmt: skip
    grandchild = _grandchild(log)
    hurry = threading.Event()
    hurry.set()
    started = time.monotonic()
    assert child.stop(hurry=hurry) == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert child.log_tail() == str(grandchild)  # what it printed, for error messages
