"""The SPEC's rolling windows ("Metric definitions"): their names, lengths and words.

A window of length W as of T holds the slots from T − W up to T. Every document
carries each area's figures for all four; the maps, the reports and the public view
show some of them. The standard library only, so every layer may import it.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "COVERAGE_WINDOWS",
    "CoverageWindow",
    "WINDOWS",
    "WINDOW_SECONDS",
    "Window",
    "window_hours",
    "window_words",
]

Window = Literal["1h", "24h", "7d", "28d"]
#: The windows, shortest first: the order of every document's ``windows``.
WINDOWS: tuple[Window, ...] = get_args(Window)
#: Each window's length in seconds.
WINDOW_SECONDS: dict[Window, int] = {
    "1h": 3600,
    "24h": 86_400,
    "7d": 7 * 86_400,
    "28d": 28 * 86_400,
}

#: The windows of the coverage map (the PCC office's commitments are weekly).
CoverageWindow = Literal["7d", "28d"]
COVERAGE_WINDOWS: tuple[CoverageWindow, ...] = get_args(CoverageWindow)

_WORDS: dict[Window, str] = {"1h": "hour", "24h": "24 hours", "7d": "7 days", "28d": "28 days"}


def window_hours(window: Window) -> int:
    """The window's length in hours."""
    return WINDOW_SECONDS[window] // 3600


def window_words(window: Window) -> str:
    """The window in words, to follow "the" ("the 7 days to Monday …")."""
    return _WORDS[window]
