"""glibc's allocator in a long-running worker: large blocks in their own mappings.

A worker decodes lanes' hour figures (arrays of a few hundred kB) over and over. glibc
serves blocks of 128 KiB or more from their own mappings at first, but each time one
is freed it raises that threshold (up to 32 MiB), after which such arrays come from
the heap, and the holes they leave between longer-lived blocks are not given back:
over 28 simulated days, a worker's heap held ~100 MB free that it could not return
(``bench/stream_memory.py``). Fixing the threshold (which also stops the
adjustment, see mallopt(3)) puts them in mappings whenever the heap has no free block
that fits, unmapped when freed: the heap stops growing around them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["keep_large_blocks_mapped"]

log = logging.getLogger("beatlight.worker")

_M_MMAP_THRESHOLD = -3  # from <malloc.h>


def keep_large_blocks_mapped(threshold: int = 128 * 1024) -> bool:
    """Blocks of ``threshold`` bytes or more in their own mappings; ``False`` if not glibc.

    An operator's own ``MALLOC_MMAP_THRESHOLD_`` (read by glibc at start) is left alone.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, threshold) == 1
    if done:
        log.debug("glibc: blocks of %d bytes or more in their own mappings", threshold)
    return done
