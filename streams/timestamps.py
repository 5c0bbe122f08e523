"""Event times as :func:`beatlight.streams.events.validate` reads them: RFC 3339 with an offset.

:func:`timestamps_us` reads a whole ``ts`` column at once: the common form in one
vectorised pass (pandas, with a pyarrow regex to pick it out), every other form one
distinct string at a time. Anything that is not an RFC 3339 time with an offset is bad.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["timestamps_us"]

# RFC 3339 date-time with a mandatory offset (SPEC: "RFC 3339 timestamp with offset").
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def timestamps_us(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``ts`` values → int64 µs since the epoch (UTC), and a mask of those that are not
    RFC 3339 times with an offset (their µs are 0).

    Digits beyond the microsecond are truncated: the microsecond is the unit of
    account everywhere (gap lengths are compared exactly).
    """
    text = [v if type(v) is str else None for v in values]
    ts_us = np.full(len(text), _BAD_TIMESTAMP, dtype=np.int64)
    # The common form (2026-11-20T10:00:00Z, fractions, offsets within a day, years
    # 1900-2199) in one vectorised pass; a time it cannot read, and every other form, as
    # before: in a file in time order many pings share each second, so each distinct
    # string is parsed once, but in a shuffled file nearly every string is distinct.
    fast = _common_form(text)
    if fast.any():
        found = pd.to_datetime(pd.Series([text[i] for i in np.flatnonzero(fast)]),
                               format="ISO8601", utc=True, errors="coerce")  # fmt: skip
        ns = found.to_numpy(dtype="datetime64[ns]").view(np.int64)
        read = ns != np.iinfo(np.int64).min
        rows = np.flatnonzero(fast)
        ts_us[rows[read]] = ns[read] // 1000
        fast[rows[~read]] = False
    rest = np.flatnonzero(~fast)
    if len(rest):
        others = [text[i] for i in rest.tolist()]
        parsed = {v: _timestamp_us(v) for v in set(others)}
        ts_us[rest] = np.fromiter(map(parsed.__getitem__, others), np.int64, len(others))
    bad = ts_us == _BAD_TIMESTAMP
    ts_us[bad] = 0
    return ts_us, bad


def _common_form(text: list[str | None]) -> np.ndarray:
    """Which strings have the common RFC 3339 form (RE2 over an Arrow array, no loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    matched = pc.match_substring_regex(pa.array(text, pa.string()), _COMMON_RFC3339)
    return matched.fill_null(False).to_numpy(zero_copy_only=False)


_COMMON_RFC3339 = (
    r"^(19|20|21)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)


def _timestamp_us(text: str | None) -> int:
    """One RFC 3339 string as µs since the epoch (UTC); ``_BAD_TIMESTAMP`` if it is not one."""
    if text is None or _RFC3339.fullmatch(text) is None:
        return _BAD_TIMESTAMP
    try:
        # In UTC, as every time is kept: one whose UTC date falls outside years
        # 1..9999 (0001-01-01T00:00:00+01:00) could never be written out again.
        moment = datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # 2026-02-30, 24:00:00, offsets beyond ±24 h …
        return _BAD_TIMESTAMP
    return (moment - _EPOCH) // _MICROSECOND


_BAD_TIMESTAMP = np.iinfo(np.int64).min  # years 1..9999 are within ±2.6e17 µs of 1970


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
