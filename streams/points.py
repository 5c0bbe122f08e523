"""Recent presence points for the inspector's live map, as records of ``visibility.points``.

SPEC "Privacy and publication rules": only the ``inspector`` role sees recent
presence points, only the last 15 minutes, and never a unit pseudonym. So a point
leaves the worker with the time, the position, the ward and the mode of an accepted
ping, and nothing else: no unit, no ``event_id``, no accuracy, no field a feed added.

A lane picks its batch's points with array masks: a ping older than the cut-off
(a replay of weeks of history, with the wall clock) costs one comparison and is
never looked at one by one. The points are live data, not a record: the topic
keeps an hour and the API holds the last minutes in memory, never in its store.
"""

from __future__ import annotations

import numpy as np
import orjson

from beatlight.streams.events import MODES, ValidEvents
from beatlight.times import format_us_array

__all__ = ["POINT_FIELDS", "point_records"]

#: Every field of a point, and all of them: anything else stays in the worker.
POINT_FIELDS = ("ts", "lat", "lon", "ward", "mode")


def point_records(
    events: ValidEvents, ward: np.ndarray, codes: np.ndarray, since_us: int
) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` records for ``visibility.points``, in arrival order.

    ``ward`` is the lane's verdict per row (:attr:`beatlight.streams.lane.Outcome.ward`): a
    ward index for accepted, first-seen pings in a ward, ``-1`` for rejected,
    duplicate and outside ones, which are never points. Only pings at or after
    ``since_us`` are kept. The key is the ward code; the value holds
    :data:`POINT_FIELDS` as JSON.
    """
    rows = np.flatnonzero((ward >= 0) & (events.ts_us >= since_us))
    if not len(rows):
        return []
    ward_codes = [str(code) for code in np.asarray(codes, dtype=object)[ward[rows]]]
    columns = zip(
        format_us_array(events.ts_us[rows]),
        events.lat[rows].tolist(),
        events.lon[rows].tolist(),
        ward_codes,
        events.mode[rows].tolist(),
        strict=True,
    )
    return [
        (code.encode(), orjson.dumps(
            {"ts": ts, "lat": lat, "lon": lon, "ward": code, "mode": MODES[mode]}
        ))
        for ts, lat, lon, code, mode in columns
    ]  # fmt: skip
