"""Zone figures (SPEC Z2-Z4, Z6) from :class:`~beatlight.streams.zones.ZoneRuns`.

Every figure is one of rule 4-6's over a set of slots: a window ending at
``as_of``, a scheduled session, or a calendar period for funders' returns. All
three are intervals ``[lo, hi)`` of slots, at most one per zone at a time
(windows: one per zone; sessions of a zone never overlap; periods follow each
other), so :func:`interval_figures` joins the runs with the intervals they touch
by binary search and sums with ``bincount``: no Python loop over runs or slots.

Decisions the SPEC leaves open (the same as ``tests/zone_oracle.py``'s):

* A zone's window has the ward metrics without ``coverage``; without a weekly
  target, ``target_minutes``, ``attainment`` and ``status`` are null.
* Slot s is in a session [start, end) iff start <= s*S < end; an open session's
  figures count the slots before ``as_of``. A visit belongs to the session (or
  period) its first slot is in and is measured over its whole run.
* Listed sessions: ended with ``as_of - 28 d < end <= as_of``, and open with
  ``start < as_of < end``, by start. ``met`` is the conjunction of the conditions
  set (true when none is), null while open.
* Returns (Z6): periods start at local midnight in the force's time zone (ISO
  weeks on Monday, months on the 1st, quarters in January, April, July and
  October), from the period of the first accepted ping to that of the last slot
  before ``as_of``. A session counts in the period its start is in, once ended by
  ``as_of``; ``complete`` says whether the period ended by ``as_of``.
* The stream's returns: an hour's figures can still change after its end (a ping up
  to G later fills slots before it; a visit that starts in it turns Koper up to K
  later), so each hour snapshot carries, per zone, the figures of an earlier hour
  that can no longer change (:func:`returns_hours`, :func:`returns_lag_us`). Their
  sums over a period are the batch returns of that period, whatever ``as_of`` the
  batch has after the period's end plus the lag. Periods start at local midnight,
  an hour boundary in UTC for every time zone with whole-hour offsets (such as
  Europe/London's).

Long because windows, sessions and periods are three uses of one interval join,
and read best beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from beatlight.geo.zones import Zones
from beatlight.streams.metrics import statuses
from beatlight.streams.schedule import Session, to_utc_us
from beatlight.streams.zones import ZoneConfig, ZoneRuns
from beatlight.times import NO_TIME, format_us, format_us_array
from beatlight.windows import WINDOW_SECONDS

__all__ = [
    "PERIODS",
    "RETURNS_COLUMNS",
    "interval_figures",
    "periods",
    "returns_hours",
    "returns_lag_us",
    "returns_rows",
    "zone_entries",
]

_US = 1_000_000
_HOUR_US = 3_600 * _US
_WEEK_S = 7 * 86_400
SESSIONS_BACK_US = 28 * 86_400 * _US
PERIODS = ("week", "month", "quarter")
RETURNS_COLUMNS = (
    "code", "name", "kind", "period", "start", "end", "complete", "patrol_hours",
    "unit_hours", "visits", "koper_visits", "sessions", "sessions_met",
)  # fmt: skip


def interval_figures(
    runs: ZoneRuns, zone: np.ndarray, lo: np.ndarray, hi: np.ndarray, koper_slots: int
) -> dict[str, np.ndarray]:
    """Rule 4-6's figures, in slots, per interval ``[lo, hi)`` of zone ``zone``.

    Intervals must be sorted by zone, then ``lo``, and not overlap within a zone.
    """
    n = len(zone)
    r, i = _join(runs.zone, runs.start, runs.end, zone, lo, hi)
    inside = _overlap(runs.start[r], runs.end[r], lo[i], hi[i])
    patrol = np.bincount(i, weights=inside, minlength=n)
    gap = _longest_gaps(i, np.maximum(runs.start[r], lo[i]), np.minimum(runs.end[r], hi[i]),
                        lo, hi)  # fmt: skip
    r, i = _join(runs.foot_zone, runs.foot_start, runs.foot_end, zone, lo, hi)
    foot = np.bincount(i, weights=_overlap(runs.foot_start[r], runs.foot_end[r], lo[i], hi[i]),
                       minlength=n)  # fmt: skip
    r, i = _join(runs.unit_zone, runs.unit_start, runs.unit_end, zone, lo, hi)
    s, e = runs.unit_start[r], runs.unit_end[r]
    inside = _overlap(s, e, lo[i], hi[i])
    units = int(runs.unit.max()) + 1 if len(runs.unit) else 1
    pairs = np.unique(i[inside > 0] * units + runs.unit[r][inside > 0])
    begins = (s >= lo[i]) & (s < hi[i])
    return {
        "patrol": patrol.astype(np.int64),
        "foot": foot.astype(np.int64),
        "unit": np.bincount(i, weights=inside, minlength=n).astype(np.int64),
        "longest_gap": gap,
        "distinct_units": np.bincount(pairs // units, minlength=n),
        "visits": np.bincount(i[begins], minlength=n),
        "koper_visits": np.bincount(i[begins & (e - s >= koper_slots)], minlength=n),
    }


def zone_entries(
    zones: Zones, runs: ZoneRuns, config: ZoneConfig, as_of_us: int
) -> list[dict[str, Any]]:
    """The document's ``zones`` (Z4): per zone its windows and its listed sessions."""
    params = config.model
    per_slot = params.slot_us / 60_000_000  # minutes per slot
    n = len(zones)
    every = np.arange(n)
    windows: dict[str, list[dict[str, Any]]] = {}
    for name, lo, hi in params.window_slots(as_of_us):
        f = interval_figures(runs, every, np.full(n, lo), np.full(n, hi), params.koper_slots)
        patrol = f["patrol"] * per_slot
        weekly = zones.target_minutes_per_week
        target = weekly * WINDOW_SECONDS[name] / _WEEK_S  # type: ignore[index]
        with np.errstate(divide="ignore", invalid="ignore"):
            attainment = patrol / target
        status = statuses(patrol, attainment)
        last = np.where(runs.last_seen >= lo * params.slot_us, runs.last_seen, NO_TIME)
        columns = {
            "patrol_minutes": patrol.tolist(),
            "foot_minutes": (f["foot"] * per_slot).tolist(),
            "unit_minutes": (f["unit"] * per_slot).tolist(),
            "longest_gap_minutes": (f["longest_gap"] * per_slot).tolist(),
            "distinct_units": f["distinct_units"].tolist(),
            "visits": f["visits"].tolist(),
            "koper_visits": f["koper_visits"].tolist(),
            "last_seen": format_us_array(last),
            "target_minutes": _or_none(target),
            "attainment": _or_none(np.where(np.isnan(target), np.nan, attainment)),
            "status": [None if np.isnan(t) else str(s) for t, s in zip(target, status,
                                                                       strict=True)],
        }  # fmt: skip
        rows = zip(*columns.values(), strict=True)
        windows[name] = [dict(zip(columns, row, strict=True)) for row in rows]
    listed: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for s in _sessions(zones, runs, config, as_of_us - SESSIONS_BACK_US, as_of_us, as_of_us):
        z = s.pop("zone")
        del s["start_us"]
        listed[z].append(s)
    return [
        {
            "code": str(zones.codes[z]),
            "name": str(zones.names[z]),
            "kind": zones.kinds[z],
            "windows": {name: entries[z] for name, entries in windows.items()},
            "sessions": listed[z],
        }
        for z in range(n)
    ]


def returns_lag_us(params: Any) -> int:
    """How long after an hour's end its returns figures settle: whole hours covering
    K (a visit starting in its last slot turns Koper), G (a later ping fills its last
    slots) and a slot."""
    wait = params.koper_slots * params.slot_us + params.gap_us + params.slot_us
    return max(1, -(-wait // _HOUR_US)) * _HOUR_US


def returns_hours(
    zones: Zones, runs: ZoneRuns, config: ZoneConfig, as_of_us: int
) -> list[dict[str, Any]]:
    """Per zone (the zones' order), Z6's figures of the hour ending
    :func:`returns_lag_us` before ``as_of_us`` (an hour boundary), as they stay.

    ``runs`` are as of ``as_of_us``. A visit counts in the hour its first slot is in,
    Koper if its whole run (as far as ``as_of_us``) is at least K.
    """
    params = config.model
    end_us = as_of_us - returns_lag_us(params)
    start_us = end_us - _HOUR_US
    n = len(zones)
    lo = np.full(n, -(-start_us // params.slot_us))
    hi = np.full(n, -(-end_us // params.slot_us))
    f = interval_figures(runs, np.arange(n), lo, hi, params.koper_slots)
    per_slot = params.slot_us / 60_000_000
    start = format_us(start_us)
    return [
        {"start": start, "patrol_minutes": float(f["patrol"][z] * per_slot),
         "unit_minutes": float(f["unit"][z] * per_slot), "visits": int(f["visits"][z]),
         "koper_visits": int(f["koper_visits"][z])}
        for z in range(n)
    ]  # fmt: skip


def periods(kind: str, first_us: int, as_of_us: int, timezone: str) -> list[tuple[str, int, int]]:
    """``(label, start_us, end_us)`` of each period (``week``, ``month``, ``quarter``) from
    the one holding ``first_us`` to the one holding the last instant before ``as_of_us``."""
    if kind not in PERIODS:
        raise ValueError(f"a period is one of {', '.join(PERIODS)}, not {kind!r}")
    tz = ZoneInfo(timezone)
    day = _local_date(first_us, tz)
    if kind == "week":
        day -= timedelta(days=day.weekday())
    else:
        month = day.month if kind == "month" else (day.month - 1) // 3 * 3 + 1
        day = date(day.year, month, 1)
    found = []
    start = to_utc_us(datetime.combine(day, time()), tz)
    while start < as_of_us:
        if kind == "week":
            iso = day.isocalendar()
            label, following = f"{iso.year}-W{iso.week:02d}", day + timedelta(days=7)
        else:
            step = 1 if kind == "month" else 3
            month = day.month - 1 + step
            following = date(day.year + month // 12, month % 12 + 1, 1)
            label = (f"{day.year}-{day.month:02d}" if kind == "month"
                     else f"{day.year}-Q{(day.month - 1) // 3 + 1}")  # fmt: skip
        end = to_utc_us(datetime.combine(following, time()), tz)
        found.append((label, start, end))
        day, start = following, end
    return found


def returns_rows(
    zones: Zones,
    runs: ZoneRuns,
    config: ZoneConfig,
    *,
    as_of_us: int,
    first_us: int,
    period: str,
) -> list[dict[str, Any]]:
    """Z6: one row per zone and period (see the module docstring), zones in code order."""
    params = config.model
    spans = periods(period, first_us, as_of_us, config.timezone)
    if not spans or not len(zones):
        return []
    n, k = len(zones), len(spans)
    S = params.slot_us
    zone = np.repeat(np.arange(n), k)
    starts = np.array([s for _, s, _ in spans], dtype=np.int64)
    ends = np.array([e for _, _, e in spans], dtype=np.int64)
    lo = np.tile(-(-starts // S), n)
    hi = np.tile(-(-np.minimum(ends, as_of_us) // S), n)
    f = interval_figures(runs, zone, lo, hi, params.koper_slots)
    sessions = _sessions(zones, runs, config, int(starts[0]), as_of_us, as_of_us)
    held = np.zeros(n * k, dtype=np.int64)
    met = np.zeros(n * k, dtype=np.int64)
    for s in sessions:
        at = int(np.searchsorted(starts, s["start_us"], side="right")) - 1
        if s["open"] or at < 0:
            continue
        held[s["zone"] * k + at] += 1
        met[s["zone"] * k + at] += bool(s["met"])
    per_hour = S / 3_600_000_000
    rows = []
    for row in range(n * k):
        z, p = divmod(row, k)
        label, start, end = spans[p]
        rows.append({
            "code": str(zones.codes[z]), "name": str(zones.names[z]), "kind": zones.kinds[z] or "",
            "period": label, "start": format_us(start), "end": format_us(end),
            "complete": end <= as_of_us, "patrol_hours": float(f["patrol"][row] * per_hour),
            "unit_hours": float(f["unit"][row] * per_hour), "visits": int(f["visits"][row]),
            "koper_visits": int(f["koper_visits"][row]), "sessions": int(held[row]),
            "sessions_met": int(met[row]),
        })  # fmt: skip
    return rows


# -- internals --------------------------------------------------------------------------

_SESSION_KEYS = (
    "zone", "start_us", "start", "end", "open", "patrol_minutes", "unit_minutes", "visits",
    "koper_visits", "longest_gap_minutes", "met",
)  # fmt: skip


def _sessions(
    zones: Zones, runs: ZoneRuns, config: ZoneConfig, from_us: int, to_us: int, as_of_us: int
) -> list[dict[str, Any]]:
    """Sessions overlapping [from_us, to_us) and starting before ``as_of``, with figures."""
    tz = ZoneInfo(config.timezone)
    found: list[tuple[int, Session]] = []
    for z, schedule in enumerate(zones.schedules):
        if schedule is not None:
            found += [(z, s) for s in schedule.sessions(from_us, to_us, tz)
                      if s.start_us < as_of_us]  # fmt: skip
    if not found:
        return []
    params = config.model
    S = params.slot_us
    zone = np.array([z for z, _ in found], dtype=np.int64)
    start = np.array([s.start_us for _, s in found], dtype=np.int64)
    end = np.array([s.end_us for _, s in found], dtype=np.int64)
    lo, hi = -(-start // S), -(-np.minimum(end, as_of_us) // S)
    f = interval_figures(runs, zone, lo, hi, params.koper_slots)
    per_slot = S / 60_000_000
    patrol = f["patrol"] * per_slot
    gap = f["longest_gap"] * per_slot
    target = zones.session_target_minutes[zone]
    most = zones.max_gap_minutes[zone]
    met = (np.isnan(target) | (patrol >= target)) & (np.isnan(most) | (gap <= most))
    open_ = end > as_of_us
    columns = (
        zone.tolist(), start.tolist(), format_us_array(start), format_us_array(end),
        open_.tolist(), patrol.tolist(), (f["unit"] * per_slot).tolist(), f["visits"].tolist(),
        f["koper_visits"].tolist(), gap.tolist(), np.where(open_, None, met).tolist(),
    )  # fmt: skip
    return [dict(zip(_SESSION_KEYS, row, strict=True)) for row in zip(*columns, strict=True)]


def _join(
    run_zone: np.ndarray, run_start: np.ndarray, run_end: np.ndarray,
    zone: np.ndarray, lo: np.ndarray, hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every (run, interval) pair of one zone that overlap or where the interval is empty
    inside the run: each run's intervals are a range found by binary search."""
    if not len(run_zone) or not len(zone):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    base = min(int(run_start.min()), int(lo.min()))
    span = max(int(run_end.max()), int(hi.max())) - base + 2
    first = np.searchsorted(zone * span + (hi - base), run_zone * span + (run_start - base),
                            side="right")  # fmt: skip
    last = np.searchsorted(zone * span + (lo - base), run_zone * span + (run_end - base),
                           side="left")  # fmt: skip
    count = np.clip(last - first, 0, None)
    run = np.repeat(np.arange(len(run_zone)), count)
    within = np.arange(len(run)) - np.repeat(np.cumsum(count) - count, count)
    return run, first[run] + within


def _overlap(start: np.ndarray, end: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0, None)


def _longest_gaps(
    group: np.ndarray, start: np.ndarray, end: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Per interval, the longest stretch of ``[lo, hi)`` covered by none of its (clipped,
    disjoint) runs; the whole interval when none."""
    best = np.maximum(hi - lo, 0).astype(np.int64)
    keep = end > start
    group, start, end = group[keep], start[keep], end[keep]
    if not len(group):
        return best
    order = np.lexsort((start, group))
    group, start, end = group[order], start[order], end[order]
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    last = np.ones(len(group), dtype=bool)
    last[:-1] = first[1:]
    previous = np.concatenate(([0], end[:-1]))
    before = np.where(first, start - lo[group], start - previous)
    after = np.where(last, hi[group] - end, 0)
    best[np.unique(group)] = 0
    np.maximum.at(best, group, np.maximum(before, after))
    return best


def _or_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


def _local_date(us: int, tz: ZoneInfo) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).astimezone(tz).date()
