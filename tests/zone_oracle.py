"""Naive reference implementation ("oracle") of the zone figures (SPEC Z1-Z4).

Slow and obvious on purpose, written from the SPEC's text and not from
``geo/zones.py`` or ``streams/schedule.py``: it is what they are checked
against. Event validation, as_of and time formatting come from the ward oracle
(``tests/oracle.py``), so both oracles see the same accepted events.

Representation: timestamps are ``int`` microseconds since the epoch, UTC;
presence is a ``dict`` keyed by ``(unit, zone_code, slot)``; each ping is tested
against each zone with one shapely ``covers`` call in the metric CRS.

Decisions on points the SPEC leaves open (the same ones ``streams/schedule.py``
and ``geo/zones.py`` document):

1. Z1 is tested in the metric CRS (EPSG:27700): pings are converted with
   pyproj (``always_xy``), zones from their own CRS. Zones ignore wards: a ping
   outside every ward still counts for a zone covering it.
2. A zone's window has the ward metrics of rules 4-6, 8 and 10 without
   ``coverage`` (the key is absent). Without a weekly target, ``target_minutes``,
   ``attainment`` and ``status`` are null.
3. A local schedule time is the first instant at which the local clock shows it
   or later: an ambiguous time is its first occurrence, a time in a skipped hour
   is the instant the clocks jump. A session empty in UTC is left out.
4. Slot s is in session [start, end) iff start <= s*S < end (as for windows);
   an open session's figures so far count slots before as_of too.
5. A visit belongs to the session its first slot is in, and is measured over
   its whole run: a visit that starts before a session belongs to no session
   (its slots inside still count as patrol and unit minutes), one that runs past
   the end is a whole (maybe Koper) visit of the session it started in.
6. Listed sessions: ended ones with as_of - 28 d < end <= as_of, and open ones
   with start < as_of < end; by start. ``met`` is the conjunction of the
   conditions that are set (true when neither target is set), null while open.
7. ``kind`` is null when blank; a zone's entry has exactly Z4's keys.

Long because it is one independent reference of Z1-Z4, read against the SPEC's text in
one place together with the decisions listed above.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import geopandas as gpd
from pyproj import Transformer
from shapely.geometry import Point

from tests.oracle import (
    US,
    WEEK_SECONDS,
    WINDOWS,
    _not_ahead_latest,
    datetime_to_us,
    format_ts,
    parse_ts,
    reference_report,
    seconds_to_us,
    status_of,
    validate,
)

DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
SESSIONS_BACK_S = 28 * 86400


def reference_report_with_zones(
    lines: list[str], wards: list[dict], zones: list[dict], **kw
) -> dict:
    """The ward oracle's document with ``zones`` added at the same as_of."""
    zone_kw = {k: kw[k] for k in ("now", "slot_seconds", "max_gap_seconds", "koper_minutes",
                                   "metric_crs", "max_accuracy_m", "max_event_bytes",
                                   "future_seconds", "timezone") if k in kw}  # fmt: skip
    doc = reference_report(lines, wards, **{k: v for k, v in kw.items() if k != "timezone"})
    doc["zones"] = reference_zones(lines, zones, as_of=doc["as_of"], **zone_kw)
    return doc


def reference_zones(
    lines: list[str],
    zones: list[dict],
    *,
    as_of: str | None = None,
    now: datetime | None = None,
    slot_seconds: int = 60,
    max_gap_seconds: float = 300,
    koper_minutes: float = 10,
    metric_crs: str = "EPSG:27700",
    timezone: str = "Europe/London",
    lateness_seconds: float = 3600,
    future_seconds: float = 300,
    max_accuracy_m: float = 100.0,
    max_event_bytes: int = 8192,
    periods: list[tuple[int, int]] = (),
) -> list[dict]:
    """The ``zones`` list of the batch document (Z4) for raw NDJSON ``lines``.

    ``periods`` (UTC microseconds, for returns, Z6): each zone also gets
    ``periods``, rule 4-6's figures over each [start, end) cut at as_of, and
    ``all_sessions``: every session of ``naive_sessions`` starting before as_of,
    listed or not, as the document lists them plus ``start_us``.

    A zone is a dict: ``code``, ``name``, ``geometry`` (shapely, in ``crs``,
    default EPSG:4326) and optionally ``crs``, ``kind``,
    ``target_minutes_per_week``, ``schedule``, ``session_target_minutes``,
    ``max_gap_minutes``.
    """
    S = slot_seconds
    S_us = S * US
    G_us = seconds_to_us(max_gap_seconds)
    now_us = datetime_to_us(now if now is not None else datetime.now(UTC))
    tz = ZoneInfo(timezone)

    # ---- accepted events: the ward oracle's decision 1, line by line
    candidates: dict[str, tuple[int, str, object]] = {}
    for line in lines:
        reason, event = validate(
            line, max_event_bytes=max_event_bytes, max_accuracy_m=max_accuracy_m
        )
        if reason is not None or event.ts_us > now_us + seconds_to_us(future_seconds):
            continue
        key = (event.ts_us, line.rstrip("\r\n"))
        if event.event_id not in candidates or key < candidates[event.event_id][:2]:
            candidates[event.event_id] = (*key, event)
    accepted = [event for _, _, event in candidates.values()]

    # ---- as_of: given, or the ward oracle's decision 2
    if as_of is not None:
        as_of_us = parse_ts(as_of)
    else:
        as_of_us = (_not_ahead_latest(accepted, seconds_to_us(lateness_seconds)) // S_us + 1) * S_us

    # ---- Z1: the zones of every ping before as_of, in the metric CRS
    to_metric = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    shapes = {}
    for z in zones:
        series = gpd.GeoSeries([z["geometry"]], crs=z.get("crs", "EPSG:4326"))
        shapes[z["code"]] = series.to_crs(metric_crs).iloc[0]
    pings = []  # (unit, ts_us, event_id, slot, mode, set of zone codes)
    for e in accepted:
        if e.ts_us >= as_of_us:
            continue
        x, y = to_metric.transform(e.lon, e.lat)
        inside = {code for code, shape in shapes.items() if shape.covers(Point(x, y))}
        pings.append((e.unit, e.ts_us, e.event_id, e.ts_us // S_us, e.mode, inside))

    # ---- rules 2 and 3 per zone: (unit, zone, slot) -> mode
    present: dict[tuple[str, str, int], str] = {}
    units = sorted({p[0] for p in pings})
    for unit in units:
        own = sorted((p for p in pings if p[0] == unit), key=lambda p: (p[1], p[2]))
        for p in own:
            for code in p[5]:
                present.setdefault((unit, code, p[3]), p[4])
        for p, q in zip(own, own[1:], strict=False):
            if 0 < q[1] - p[1] <= G_us:
                for code in p[5] & q[5]:  # gap fill only between two pings both in the zone
                    for s in range(p[3] + 1, q[3]):
                        assert (unit, code, s) not in present
                        present[(unit, code, s)] = p[4]

    def unit_slots(code: str) -> set[tuple[str, int]]:
        return {(u, s) for (u, z, s) in present if z == code}

    def runs(mine: set[tuple[str, int]]) -> list[tuple[int, int]]:
        """Rule 6: every (first slot, length) of a unit's run of present slots in the zone."""
        found = []
        for unit in units:
            own = sorted(s for (u, s) in mine if u == unit)
            for s in own:
                if found and found[-1][2] == unit and found[-1][0] + found[-1][1] == s:
                    found[-1] = (found[-1][0], found[-1][1] + 1, unit)
                else:
                    found.append((s, 1, unit))
        return [(first, length) for first, length, _ in found]

    def figures(code: str, slots: list[int]) -> dict:
        """Rule 4's minutes, the longest gap and rule 6's visits over a list of slots."""
        mine = unit_slots(code)
        occupied = {s for (u, s) in mine}
        foot = {s for (u, z, s), mode in present.items() if z == code and mode == "foot"}
        chosen = set(slots)
        longest = run = 0
        for s in slots:
            run = 0 if s in occupied else run + 1
            longest = max(longest, run)
        visits = [length for first, length in runs(mine) if first in chosen]
        return {
            "patrol_minutes": sum(1 for s in slots if s in occupied) * S / 60,
            "foot_minutes": sum(1 for s in slots if s in foot) * S / 60,
            "unit_minutes": sum(1 for (u, s) in mine if s in chosen) * S / 60,
            "longest_gap_minutes": longest * S / 60,
            "distinct_units": len({u for (u, s) in mine if s in chosen}),
            "visits": len(visits),
            "koper_visits": sum(1 for length in visits if length * S >= koper_minutes * 60),
        }

    def slots_between(start_us: int, end_us: int) -> list[int]:
        first = -(-start_us // S_us)  # the first slot starting at or after start
        return [s for s in range(first, end_us // S_us + 1) if start_us <= s * S_us < end_us]

    docs = []
    for z in sorted(zones, key=lambda z: z["code"]):
        code = z["code"]
        weekly = z.get("target_minutes_per_week")
        windows = {}
        for name, seconds in WINDOWS.items():
            slots = slots_between(as_of_us - seconds * US, as_of_us)
            f = figures(code, slots)
            chosen = set(slots)
            seen = [p[1] for p in pings if code in p[5] and p[3] in chosen]
            target = None if weekly is None else weekly * seconds / WEEK_SECONDS
            attainment = None if target is None else f["patrol_minutes"] / target
            windows[name] = {
                "patrol_minutes": f["patrol_minutes"],
                "foot_minutes": f["foot_minutes"],
                "unit_minutes": f["unit_minutes"],
                "longest_gap_minutes": f["longest_gap_minutes"],
                "distinct_units": f["distinct_units"],
                "visits": f["visits"],
                "koper_visits": f["koper_visits"],
                "last_seen": format_ts(max(seen)) if seen else None,
                "target_minutes": target,
                "attainment": attainment,
                "status": None
                if target is None
                else status_of(f["patrol_minutes"], target, attainment),
            }
        sessions, every = [], []
        for start_us, end_us in naive_sessions(z.get("schedule"), as_of_us, tz):
            is_open = start_us < as_of_us < end_us
            listed = is_open or as_of_us - SESSIONS_BACK_S * US < end_us <= as_of_us
            if not listed and not (periods and start_us < as_of_us):
                continue
            f = figures(code, slots_between(start_us, min(end_us, as_of_us)))
            met = None
            if not is_open:
                met = True
                if z.get("session_target_minutes") is not None:
                    met = met and f["patrol_minutes"] >= z["session_target_minutes"]
                if z.get("max_gap_minutes") is not None:
                    met = met and f["longest_gap_minutes"] <= z["max_gap_minutes"]
            entry = {
                    "start": format_ts(start_us),
                    "end": format_ts(end_us),
                    "open": is_open,
                    "patrol_minutes": f["patrol_minutes"],
                    "unit_minutes": f["unit_minutes"],
                    "visits": f["visits"],
                    "koper_visits": f["koper_visits"],
                    "longest_gap_minutes": f["longest_gap_minutes"],
                    "met": met,
                }  # fmt: skip
            if listed:
                sessions.append(entry)
            every.append({**entry, "start_us": start_us})
        doc = {
            "code": code,
            "name": z["name"],
            "kind": z.get("kind") or None,
            "windows": windows,
            "sessions": sessions,
        }
        if periods:
            doc["periods"] = [figures(code, slots_between(a, min(b, as_of_us))) for a, b in periods]
            doc["all_sessions"] = every
        docs.append(doc)
    return docs


# ----------------------------------------------------------------------- schedules


def naive_sessions(schedule: str | None, as_of_us: int, tz: ZoneInfo) -> list[tuple[int, int]]:
    """Every session (UTC microseconds) that starts on a local day from 30 days before as_of
    to the day after it, sorted; valid schedules only (the oracle checks no syntax)."""
    if not schedule:
        return []
    as_of_day = (
        (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=as_of_us)).astimezone(tz).date()
    )
    found = []
    for part in schedule.split(";"):
        day_text, time_text = part.split()
        days = set()
        for item in day_text.split(","):
            if "-" in item:
                a, b = (DAY_NAMES.index(d.capitalize()) for d in item.split("-"))
                d = a
                days.add(d)
                while d != b:  # ranges wrap round the week
                    d = (d + 1) % 7
                    days.add(d)
            else:
                days.add(DAY_NAMES.index(item.capitalize()))
        start_text, end_text = time_text.split("-")
        start = _minutes(start_text)
        end = _minutes(end_text)
        length = end - start if end > start else end + 24 * 60 - start
        for back in range(-1, 31):
            day = as_of_day - timedelta(days=back)
            if day.weekday() not in days:
                continue
            local_start = datetime(day.year, day.month, day.day) + timedelta(minutes=start)
            local_end = local_start + timedelta(minutes=length)
            begin, finish = first_instant(local_start, tz), first_instant(local_end, tz)
            if begin < finish:
                found.append((begin, finish))
    return sorted(found)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=100_000)
def first_instant(local: datetime, tz: ZoneInfo) -> int:
    """The first whole minute (UTC microseconds) at which the local clock shows ``local`` or
    later, found by walking minute by minute across every UTC offset there is (-12 h..+14 h).

    Exact for time zones whose clock changes fall on whole minutes (all of them since 1972).
    """
    guess = datetime(local.year, local.month, local.day, local.hour, local.minute, tzinfo=UTC)
    u = guess - timedelta(hours=14)
    while u.astimezone(tz).replace(tzinfo=None) < local:
        u += timedelta(minutes=1)
    return datetime_to_us(u)
