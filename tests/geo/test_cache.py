"""The wards' grid cells kept between starts: same geography, never the wrong wards' cells."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from beatlight.geo.boundaries import wards_from_frame
from beatlight.geo.cache import cached_ward_cells, cells_key
from beatlight.geo.cells import ward_cells
from beatlight.geo.geography import load_geography
from beatlight.geo.synthetic import synthetic_wards, write_synthetic

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def boundaries(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("wards") / "wards.geojson")


@pytest.fixture(scope="module")
def metric():
    """The synthetic wards' shapes in the metric CRS."""
    return wards_from_frame(synthetic_wards()).metric


class _Counted:
    """ward_cells, counting its calls: a cache hit builds nothing."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, metric, cell_m):
        self.calls += 1
        return ward_cells(metric, cell_m)


def _entries(folder):
    return sorted(folder.glob("ward-cells-*.npz"))


def test_a_second_start_reads_the_cells_and_builds_the_same_geography(boundaries, tmp_path, caplog):
    cold = load_geography(boundaries, cache_dir=tmp_path)
    assert len(_entries(tmp_path)) == 1
    with caplog.at_level(logging.INFO, logger="beatlight.geo"):
        warm = load_geography(boundaries, cache_dir=tmp_path)
    assert "from the cache" in caplog.text
    uncached = load_geography(boundaries)
    for built in (cold, warm):
        assert np.array_equal(built.cells, uncached.cells)
        assert np.array_equal(built.areas.area_cell_keys, uncached.areas.area_cell_keys)
        assert np.array_equal(built.areas.cell_count, uncached.areas.cell_count)
    lon, lat = np.array([-2.0, -1.9, -1.95]), np.array([52.8, 52.85, 52.9])
    assert [a.tolist() for a in warm.locate(lon, lat)] == [
        a.tolist() for a in uncached.locate(lon, lat)
    ]


def test_without_a_cache_dir_the_cells_are_built_every_time(metric):
    build = _Counted()
    first = cached_ward_cells(metric, 200.0, None, build)
    second = cached_ward_cells(metric, 200.0, None, build)
    assert build.calls == 2
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_other_wards_or_another_cell_size_never_read_these_cells(metric, tmp_path):
    build = _Counted()
    cached_ward_cells(metric, 200.0, tmp_path, build)
    cached_ward_cells(metric, 200.0, tmp_path, build)
    assert build.calls == 1
    cached_ward_cells(metric, 250.0, tmp_path, build)
    assert build.calls == 2
    moved = metric.translate(xoff=1.0)  # one metre east: other shapes, other cells
    assert cells_key(moved, 200.0) != cells_key(metric, 200.0)
    got = cached_ward_cells(moved, 200.0, tmp_path, build)
    assert build.calls == 3
    assert all(np.array_equal(g, w) for g, w in zip(got, ward_cells(moved, 200.0), strict=True))
    assert len(_entries(tmp_path)) == 3


def test_a_damaged_entry_is_rebuilt_with_a_warning(metric, tmp_path, caplog):
    expected = ward_cells(metric, 200.0)
    cached_ward_cells(metric, 200.0, tmp_path, ward_cells)
    (entry,) = _entries(tmp_path)
    entry.write_bytes(entry.read_bytes()[:100])  # cut short, as by a full disk
    build = _Counted()
    with caplog.at_level(logging.WARNING, logger="beatlight.geo"):
        got = cached_ward_cells(metric, 200.0, tmp_path, build)
    assert build.calls == 1
    assert "unreadable" in caplog.text
    assert all(np.array_equal(g, w) for g, w in zip(got, expected, strict=True))
    assert cached_ward_cells(metric, 200.0, tmp_path, build) is not None
    assert build.calls == 1  # rewritten whole: read back this time


def test_an_entry_for_another_number_of_wards_is_not_used(metric, tmp_path, caplog):
    cached_ward_cells(metric, 200.0, tmp_path, ward_cells)
    (entry,) = _entries(tmp_path)
    np.savez(entry, cells=np.arange(5, dtype=np.int64), offsets=np.array([0, 5], dtype=np.int64))
    build = _Counted()
    with caplog.at_level(logging.WARNING, logger="beatlight.geo"):
        cached_ward_cells(metric, 200.0, tmp_path, build)
    assert build.calls == 1
    assert "does not fit these wards" in caplog.text


def test_an_unwritable_cache_path_costs_time_not_the_start(metric, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="beatlight.geo"):
        got = cached_ward_cells(metric, 200.0, blocker / "cache", ward_cells)
    assert len(got) == len(metric)
    assert "could not keep the ward cells" in caplog.text
    assert not list(tmp_path.glob("**/*.tmp"))


def test_only_the_newest_entries_are_kept(metric, tmp_path):
    for k in range(5):
        cached_ward_cells(metric.translate(xoff=float(k)), 200.0, tmp_path, ward_cells, keep=3)
        time.sleep(0.05)  # file times are coarser than a build of these few wards
    entries = _entries(tmp_path)
    assert len(entries) == 3
    newest = {f"ward-cells-{cells_key(metric.translate(xoff=float(k)), 200.0)}.npz"
              for k in (2, 3, 4)}  # fmt: skip
    assert {e.name for e in entries} == newest
