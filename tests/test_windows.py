"""The SPEC's windows (beatlight.windows): one definition that every layer reads."""

from __future__ import annotations

import pytest

from beatlight.api.publication import PERIOD_WINDOWS
from beatlight.windows import (
    COVERAGE_WINDOWS,
    WINDOW_SECONDS,
    WINDOWS,
    window_hours,
    window_words,
)

pytestmark = pytest.mark.unit


def test_the_four_windows_shortest_first():
    assert WINDOWS == ("1h", "24h", "7d", "28d")
    assert list(WINDOW_SECONDS) == list(WINDOWS)
    assert [window_hours(w) for w in WINDOWS] == [1, 24, 168, 672]


def test_every_window_has_words_and_the_maps_and_public_view_use_windows_that_exist():
    assert [window_words(w) for w in WINDOWS] == ["hour", "24 hours", "7 days", "28 days"]
    assert set(COVERAGE_WINDOWS) <= set(WINDOWS)
    assert set(PERIOD_WINDOWS.values()) <= set(WINDOWS)
