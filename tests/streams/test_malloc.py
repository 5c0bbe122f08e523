"""The worker's allocator setting: hour figures' arrays live in their own mappings."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beatlight.runtime.malloc import keep_large_blocks_mapped

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]

# After a 4 MiB mapped block is freed, glibc serves blocks below 4 MiB from its heap;
# the script prints how many bytes of a new 3 MiB array are in mappings.
_SCRIPT = """
import ctypes, sys
import numpy as np
from beatlight.runtime.malloc import keep_large_blocks_mapped

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "set":
    assert keep_large_blocks_mapped()
big = np.ones(4 << 20, dtype=np.uint8)
del big
before = libc.mallinfo2().hblkhd
array = np.ones(3 << 20, dtype=np.uint8)
print(libc.mallinfo2().hblkhd - before)
"""


def _glibc_with_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


def _mapped(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return int(out.stdout.strip())


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")
def test_large_arrays_stay_in_their_own_mappings():
    assert _mapped("default") == 0  # glibc's own behaviour: from the heap, once raised
    assert _mapped("set") >= 3 << 20


def test_an_operators_own_threshold_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert keep_large_blocks_mapped() is False
