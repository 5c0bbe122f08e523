"""Each ward's grid cells, kept on disk between runs.

Finding which 200 m cells meet each ward is most of the time it takes to get a
geography ready: about 7 s of 9 for England's 7,681 wards, every time a worker,
the API or ``beatlight report`` starts. The cells depend only on the wards'
shapes in the metric CRS and on the cell size, so they are kept in a file named
by a hash of exactly those (the WKB of every ward's metric geometry, the CRS,
the cell size and this format's version): different boundaries, a repaired
geometry or another cell size is another file, and a stale entry can never be
read for the wrong wards.

A cache entry that cannot be read (cut short, corrupted, another version) is
rebuilt with a warning; one that cannot be written (a read-only disk) costs only
the next start's time, also with a warning. The newest ``keep`` entries are kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
from geopandas import GeoSeries

__all__ = ["cached_ward_cells", "cells_key"]

log = logging.getLogger("beatlight.geo")

_VERSION = b"beatlight ward cells v1"
_PREFIX = "ward-cells-"


def cells_key(metric: GeoSeries, cell_m: float) -> str:
    """What the ward cells depend on, hashed: shapes, CRS, cell size, format version."""
    digest = hashlib.sha256(_VERSION)
    digest.update(str(metric.crs).encode())
    digest.update(repr(float(cell_m)).encode())
    digest.update(len(metric).to_bytes(8, "little"))
    for wkb in shapely.to_wkb(np.asarray(metric.values), output_dimension=2):
        digest.update(len(wkb).to_bytes(8, "little"))
        digest.update(wkb)
    return digest.hexdigest()


def cached_ward_cells(
    metric: GeoSeries,
    cell_m: float,
    cache_dir: Path | None,
    build: Callable[[GeoSeries, float], list[np.ndarray]],
    *,
    keep: int = 4,
) -> list[np.ndarray]:
    """``build(metric, cell_m)``, read from ``cache_dir`` when it holds these wards' cells."""
    if cache_dir is None:
        return build(metric, cell_m)
    path = Path(cache_dir) / f"{_PREFIX}{cells_key(metric, cell_m)}.npz"
    if path.exists():
        started = time.perf_counter()
        cells = _read(path, len(metric))
        if cells is not None:
            log.info("ward cells of %d wards from the cache %s in %.2f s", len(metric), path,
                     time.perf_counter() - started)  # fmt: skip
            os.utime(path)  # the newest entries are the ones kept
            return cells
    cells = build(metric, cell_m)
    _write(path, cells, keep)
    return cells


def _read(path: Path, n_wards: int) -> list[np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            flat, offsets = data["cells"], data["offsets"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        log.warning("ward cells cache %s unreadable (%s): building the cells again", path, error)
        return None
    valid = (
        flat.dtype == np.int64
        and flat.ndim == 1
        and offsets.shape == (n_wards + 1,)
        and offsets.dtype == np.int64
        and offsets[0] == 0
        and offsets[-1] == len(flat)
        and bool(np.all(np.diff(offsets) >= 0))
    )
    if not valid:
        log.warning("ward cells cache %s does not fit these wards: building the cells again", path)
        return None
    return np.split(flat, offsets[1:-1])


def _write(path: Path, cells: list[np.ndarray], keep: int) -> None:
    lengths = np.fromiter(map(len, cells), np.int64, len(cells))
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    flat = np.concatenate(cells).astype(np.int64) if cells else np.empty(0, dtype=np.int64)
    aside: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file, even mid-crash.
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{_PREFIX}", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            np.savez(out, cells=flat, offsets=offsets)
        os.replace(aside, path)
    except OSError as error:
        if aside is not None:
            Path(aside).unlink(missing_ok=True)
        log.warning("could not keep the ward cells in %s (%s): the next start builds them "
                    "again", path.parent, error)  # fmt: skip
        return
    log.info("ward cells kept in %s (%.0f MB)", path, path.stat().st_size / 1e6)
    _prune(path.parent, keep)


def _prune(folder: Path, keep: int) -> None:
    """The newest ``keep`` entries stay; older ones (other boundaries) go."""
    entries = sorted(
        folder.glob(f"{_PREFIX}*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True
    )
    for old in entries[keep:]:
        old.unlink(missing_ok=True)
