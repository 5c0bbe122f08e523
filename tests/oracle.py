"""Naive reference implementation ("oracle") of the Beatlight metric contract.

This module is deliberately slow and obvious. It exists to cross-check the fast
implementation (``streams/``, ``geo/``) and it was written without reading it.
It implements SPEC.md sections "The presence event", "Metric definitions (the
contract)" rules 1-13 and "Batch report contract", with the project's decisions
on the SPEC's open points (listed in the docstring of ``reference_report``).

Representation choices (for exactness, not speed):

* every timestamp is an ``int`` number of microseconds since the Unix epoch, UTC;
* presence is a plain ``dict`` keyed by ``(unit, ward_code, slot)``;
* every ping is located with one shapely ``covers`` call per ward.

Long because the oracle is one independent reference of the whole metric contract, read
top to bottom against the SPEC; split into modules, it would invite sharing code with
what it checks.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

US = 1_000_000  # microseconds per second
EPOCH = datetime(1970, 1, 1)  # naive, UTC
ONE_US = timedelta(microseconds=1)

WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "28d": 28 * 86400}
WEEK_SECONDS = 7 * 86400
MODES = {"foot", "cycle", "vehicle", "unknown"}
REQUIRED = ("event_id", "unit", "ts", "lat", "lon")

# RFC 3339 with an explicit offset. re.ASCII so that \d is [0-9] only;
# used with fullmatch so that "$" cannot match before a trailing newline.
TS_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


# --------------------------------------------------------------------------- time


def parse_ts(text: object) -> int | None:
    """RFC 3339 timestamp -> microseconds since the epoch (UTC), or None if invalid.

    Fractional seconds are truncated to microseconds. A timestamp whose UTC
    normalisation falls outside datetime's range (years 1..9999) is invalid.
    """
    if not isinstance(text, str):
        return None
    m = TS_RE.fullmatch(text)
    if m is None:
        return None
    try:
        naive = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
        )
    except ValueError:  # month 13, 30 February, hour 24, second 60, year 0, ...
        return None
    fraction = m.group(1)
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = m.group(2)
    if offset in ("Z", "z"):
        offset_minutes = 0
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset_minutes = (hours * 60 + minutes) * (1 if offset[0] == "+" else -1)
    local_us = (naive - EPOCH) // ONE_US + micros
    utc_us = local_us - offset_minutes * 60 * US
    try:
        format_ts(utc_us)
    except OverflowError:
        return None
    return utc_us


def format_ts(ts_us: int) -> str:
    """Microseconds since the epoch -> 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z'."""
    dt = EPOCH + timedelta(microseconds=ts_us)
    text = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def datetime_to_us(dt: datetime) -> int:
    """Aware (or naive = UTC) datetime -> microseconds since the epoch."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return (dt - EPOCH) // ONE_US


def seconds_to_us(seconds: float) -> int:
    return round(seconds * US)


# --------------------------------------------------------------------- validation


@dataclass
class Event:
    event_id: str
    unit: str
    ts_us: int
    lat: float
    lon: float
    mode: str


def is_number(value: object) -> bool:
    """JSON number: int or float, but not bool (bool is an int subclass)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: int | float) -> bool:
    """Python ints are always finite (math.isfinite would overflow on huge ones)."""
    return isinstance(value, int) or math.isfinite(value)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def validate(
    line: str, *, max_event_bytes: int, max_accuracy_m: float
) -> tuple[str | None, Event | None]:
    """Checks that depend on the line alone (everything but future/too_late).

    Returns (reason, None) for a rejected line, (None, event) otherwise.
    """
    if len(line.encode("utf-8")) > max_event_bytes:
        return "too_large", None

    try:
        # Strict JSON: NaN, Infinity and -Infinity are not JSON.
        obj = json.loads(line, parse_constant=_reject_constant)
    except Exception:  # JSONDecodeError, huge ints, RecursionError ...
        return "malformed_json", None
    if not isinstance(obj, dict):
        return "malformed_json", None

    for name in REQUIRED:
        if obj.get(name) is None:  # absent or JSON null
            return "missing_field", None

    event_id = obj["event_id"]
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 128:
        return "bad_event_id", None

    unit = obj["unit"]
    if not isinstance(unit, str) or not 1 <= len(unit) <= 64:
        return "bad_unit", None

    ts_us = parse_ts(obj["ts"])
    if ts_us is None:
        return "bad_timestamp", None

    lat, lon = obj["lat"], obj["lon"]
    if not is_number(lat) or not is_number(lon):
        return "bad_coordinates", None
    if not is_finite(lat) or not is_finite(lon):
        return "bad_coordinates", None
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        return "bad_coordinates", None
    if lat == 0 and lon == 0:
        return "bad_coordinates", None

    mode = obj.get("mode")
    if mode is None:
        mode = "unknown"
    elif not isinstance(mode, str) or mode not in MODES:
        return "bad_mode", None

    accuracy = obj.get("accuracy_m")
    if accuracy is not None:
        if not is_number(accuracy) or not is_finite(accuracy) or accuracy < 0:
            return "bad_accuracy", None
        if accuracy > max_accuracy_m:
            return "inaccurate", None

    return None, Event(event_id, unit, ts_us, float(lat), float(lon), mode)


# -------------------------------------------------------------------------- wards


@dataclass
class Ward:
    code: str
    name: str
    geometry: object  # EPSG:4326
    neighbourhood: str
    district: str | None
    district_name: str | None
    population: float | None
    target: float
    metric_geometry: object = None  # metric CRS
    area_km2: float = 0.0
    cells: set = field(default_factory=set)


def prepare_wards(
    wards: list[dict], *, metric_crs: str, cell_m: float, default_target: float
) -> dict[str, Ward]:
    prepared: dict[str, Ward] = {}
    for w in wards:
        code = w["code"]
        if code in prepared:
            raise ValueError(f"duplicate ward code {code!r}")
        neighbourhood = w.get("neighbourhood")
        target = w.get("target_minutes_per_week")
        prepared[code] = Ward(
            code=code,
            name=w["name"],
            geometry=w["geometry"],
            neighbourhood=code if neighbourhood is None else neighbourhood,
            district=w.get("district"),
            district_name=w.get("district_name"),
            population=w.get("population"),
            target=default_target if target is None else target,
        )
    for ward in prepared.values():
        series = gpd.GeoSeries([ward.geometry], crs="EPSG:4326").to_crs(metric_crs)
        g = series.iloc[0]
        ward.metric_geometry = g
        ward.area_km2 = g.area / 1e6
        # Every grid square of the ward's bounds whose intersection has positive area.
        minx, miny, maxx, maxy = g.bounds
        for ix in range(math.floor(minx / cell_m), math.floor(maxx / cell_m) + 1):
            for iy in range(math.floor(miny / cell_m), math.floor(maxy / cell_m) + 1):
                square = box(ix * cell_m, iy * cell_m, (ix + 1) * cell_m, (iy + 1) * cell_m)
                if shapely.intersection(g, square).area > 0:
                    ward.cells.add((ix, iy))
    return prepared


def ward_of(lon: float, lat: float, wards: dict[str, Ward]) -> str | None:
    """Rule 1: the ward covering the point (boundary included); ties -> lowest code."""
    point = Point(lon, lat)
    covering = [code for code, w in wards.items() if w.geometry.covers(point)]
    return min(covering) if covering else None


# ------------------------------------------------------------------------- report


@dataclass
class Ping:
    event_id: str
    unit: str
    ts_us: int
    slot: int
    mode: str
    ward: str | None
    cell: tuple[int, int]


def gini(values: list[float]) -> float | None:
    n = len(values)
    if n == 0:
        return None
    total = sum(values)
    if total == 0:
        return None
    mean = total / n
    return sum(abs(a - b) for a in values for b in values) / (2 * n * n * mean)


def status_of(patrol_minutes: float, target: float, attainment: float | None) -> str:
    if patrol_minutes == 0:
        return "none"
    if target == 0 or attainment >= 1.0:
        return "green"
    if attainment >= 0.75:
        return "amber"
    return "red"


def _not_ahead_latest(accepted: list[Event], lateness_us: int) -> int:
    """The default as_of's event time: the latest of the units' latest accepted pings
    that is not more than the lateness ahead of the watermark of those latest times.

    The watermark, naively: take the units' latest times in time order; after each, the
    recent units are those within the lateness of the watermark so far; of the n recent
    units, max(n // 20, 1) may run ahead, so the watermark becomes at least the
    (that + 1)-th latest recent time (the only one, for n = 1).
    """
    latest: dict[str, int] = {}
    for event in accepted:
        latest[event.unit] = max(latest.get(event.unit, event.ts_us), event.ts_us)
    times = sorted(latest.values())
    watermark = times[0]
    for i in range(len(times)):
        recent = [t for t in times[: i + 1] if t >= watermark - lateness_us]
        k = min(max(len(recent) // 20, 1) + 1, len(recent))
        watermark = max(watermark, sorted(recent)[-k])
    return max(t for t in times if t <= watermark + lateness_us)


def reference_report(
    lines: list[str],
    wards: list[dict],
    *,
    as_of: str | None = None,
    now: datetime | None = None,
    slot_seconds=60,
    max_gap_seconds=300,
    koper_minutes=10,
    cell_m=200.0,
    metric_crs="EPSG:27700",
    lateness_seconds=3600,
    future_seconds=300,
    max_accuracy_m=100.0,
    max_event_bytes=8192,
    default_target=600.0,
    force_name="Force area",
) -> dict:
    """The batch report for raw NDJSON ``lines`` (arrival order) and ``wards``.

    Project decisions implemented here (see also the module docstring):

    1. Validation order, first failure wins: too_large, malformed_json,
       missing_field, bad_event_id, bad_unit, bad_timestamp, bad_coordinates,
       bad_mode, bad_accuracy, inaccurate, future. Nothing is too_late: the lines are
       a complete record, in any order. Of the valid copies of one event_id, the one
       with the earliest ts counts (ties: the smaller line text); the others are
       silent duplicates.
    2. as_of defaults to the start of the slot after the latest valid event time
       not running ahead (_not_ahead_latest); events with ts >= as_of are ignored
       by every metric.
    3. Slot s is in window W iff as_of - W <= s*S < as_of.
    4.-10. See the inline comments below, numbered like the decisions.
    """
    S = slot_seconds
    if int(S) != S or S <= 0:
        raise ValueError("slot_seconds must be a positive whole number")
    S_us = int(S) * US
    G_us = seconds_to_us(max_gap_seconds)
    now_us = datetime_to_us(now if now is not None else datetime.now(UTC))

    ward_by_code = prepare_wards(
        wards, metric_crs=metric_crs, cell_m=cell_m, default_target=default_target
    )
    to_metric = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)

    # ---- decision 1: validation; the file is a complete record (no too_late)
    rejected: dict[str, int] = {}
    valid: list[tuple[int, str, Event]] = []  # (ts, line text, event)
    for line in lines:
        reason, event = validate(
            line, max_event_bytes=max_event_bytes, max_accuracy_m=max_accuracy_m
        )
        if reason is None and event.ts_us > now_us + seconds_to_us(future_seconds):
            reason = "future"
        if reason is not None:
            rejected[reason] = rejected.get(reason, 0) + 1
            continue
        valid.append((event.ts_us, line.rstrip("\r\n"), event))
    # Copies of one event_id: the earliest ts counts, ties broken by the smaller line text.
    best: dict[str, tuple[int, str, Event]] = {}
    for candidate in valid:
        event_id = candidate[2].event_id
        if event_id not in best or candidate[:2] < best[event_id][:2]:
            best[event_id] = candidate
    accepted = [event for _, _, event in best.values()]
    duplicates = len(valid) - len(accepted)

    # ---- decision 2: as_of
    if as_of is not None:
        as_of_us = parse_ts(as_of)
        if as_of_us is None:
            raise ValueError(f"as_of is not an RFC 3339 timestamp: {as_of!r}")
    elif accepted:
        latest = _not_ahead_latest(accepted, seconds_to_us(lateness_seconds))
        as_of_us = (latest // S_us + 1) * S_us
    else:
        raise ValueError("no accepted event and no as_of")
    after_as_of = sum(1 for e in accepted if e.ts_us >= as_of_us)

    # ---- decision 4: ward and cell of every accepted ping before as_of
    pings: list[Ping] = []
    for e in accepted:
        if e.ts_us >= as_of_us:
            continue
        x, y = to_metric.transform(e.lon, e.lat)
        pings.append(
            Ping(
                event_id=e.event_id,
                unit=e.unit,
                ts_us=e.ts_us,
                slot=e.ts_us // S_us,
                mode=e.mode,
                ward=ward_of(e.lon, e.lat, ward_by_code),
                cell=(math.floor(x / cell_m), math.floor(y / cell_m)),
            )
        )
    outside = sum(1 for p in pings if p.ward is None)

    # ---- decisions 5 and 6: presence (unit, ward, slot) -> mode
    by_unit: dict[str, list[Ping]] = {}
    for p in pings:
        by_unit.setdefault(p.unit, []).append(p)
    present: dict[tuple[str, str, int], str] = {}
    for unit, unit_pings in by_unit.items():
        unit_pings.sort(key=lambda p: (p.ts_us, p.event_id))
        # Direct presence; pings are in (ts, event_id) order, so the first ping
        # seen for a (unit, ward, slot) is the one that decides its mode.
        for p in unit_pings:
            if p.ward is not None:
                key = (unit, p.ward, p.slot)
                if key not in present:
                    present[key] = p.mode
        # Gap fill between consecutive pings (outside pings break pairs).
        for p, q in zip(unit_pings, unit_pings[1:], strict=False):
            if p.ward is not None and p.ward == q.ward and 0 < q.ts_us - p.ts_us <= G_us:
                for s in range(p.slot + 1, q.slot):
                    key = (unit, p.ward, s)
                    assert key not in present, "a filled slot cannot hold a direct ping"
                    present[key] = p.mode

    # ---- decision 3: windows
    def in_window(slot: int, window_s: int) -> bool:
        return as_of_us - window_s * US <= slot * S_us < as_of_us

    def window_slots(window_s: int) -> list[int]:
        first = -((window_s * US - as_of_us) // S_us)  # ceil((as_of - W) / S)
        last = -(-as_of_us // S_us) - 1  # largest s with s*S < as_of
        slots = list(range(first, last + 1))
        assert all(in_window(s, window_s) for s in slots)
        assert not in_window(first - 1, window_s) and not in_window(last + 1, window_s)
        return slots

    # ---- decision 7: metrics of an area (a set of ward codes) for one window
    def area_metrics(codes: set[str], window_s: int) -> dict:
        unit_slots = {(u, s) for (u, w, s) in present if w in codes}
        occupied_slots = {s for (u, s) in unit_slots}
        foot_slots = {s for (u, w, s), mode in present.items() if w in codes and mode == "foot"}

        slots = window_slots(window_s)
        patrol_count = sum(1 for s in slots if s in occupied_slots)
        foot_count = sum(1 for s in slots if s in foot_slots)
        unit_count = sum(1 for (u, s) in unit_slots if in_window(s, window_s))

        longest = run = 0
        for s in slots:
            run = 0 if s in occupied_slots else run + 1
            longest = max(longest, run)

        units = {u for (u, s) in unit_slots if in_window(s, window_s)}

        slots_by_unit: dict[str, list[int]] = {}
        for u, s in unit_slots:
            slots_by_unit.setdefault(u, []).append(s)
        visits = koper_visits = 0
        for own in slots_by_unit.values():
            runs: list[tuple[int, int]] = []  # (first slot, length), over all time
            for s in sorted(own):
                if runs and runs[-1][0] + runs[-1][1] == s:
                    runs[-1] = (runs[-1][0], runs[-1][1] + 1)
                else:
                    runs.append((s, 1))
            for first, length in runs:
                if in_window(first, window_s):
                    visits += 1
                    if length * S >= koper_minutes * 60:
                        koper_visits += 1

        window_pings = [p for p in pings if p.ward in codes and in_window(p.slot, window_s)]
        area_cells: set[tuple[int, int]] = set()
        for code in codes:
            area_cells |= ward_by_code[code].cells
        hit_cells = {p.cell for p in window_pings} & area_cells
        coverage = len(hit_cells) / len(area_cells) if area_cells else None

        last_seen = format_ts(max(p.ts_us for p in window_pings)) if window_pings else None

        patrol_minutes = patrol_count * S / 60
        weekly = sum(ward_by_code[c].target for c in sorted(codes))
        target = weekly * window_s / WEEK_SECONDS
        attainment = patrol_minutes / target if target != 0 else None
        return {
            "patrol_minutes": patrol_minutes,
            "foot_minutes": foot_count * S / 60,
            "unit_minutes": unit_count * S / 60,
            "longest_gap_minutes": longest * S / 60,
            "distinct_units": len(units),
            "visits": visits,
            "koper_visits": koper_visits,
            "coverage": coverage,
            "last_seen": last_seen,
            "target_minutes": target,
            "attainment": attainment,
            "status": status_of(patrol_minutes, target, attainment),
        }

    def windows_of(codes: set[str]) -> dict:
        return {name: area_metrics(codes, seconds) for name, seconds in WINDOWS.items()}

    # ---- decision 8: roll-up attributes
    def rollup(code: str, name: str, codes: list[str]) -> dict:
        members = [ward_by_code[c] for c in sorted(codes)]
        populations = [w.population for w in members]
        return {
            "code": code,
            "name": name,
            "wards": sorted(codes),
            "area_km2": sum(w.area_km2 for w in members),
            "population": None if any(p is None for p in populations) else sum(populations),
            "target_minutes_per_week": sum(w.target for w in members),
            "windows": windows_of(set(codes)),
        }

    ward_docs = []
    for code in sorted(ward_by_code):
        w = ward_by_code[code]
        ward_docs.append(
            {
                "code": w.code,
                "name": w.name,
                "neighbourhood": w.neighbourhood,
                "district": w.district,
                "area_km2": w.area_km2,
                "population": w.population,
                "target_minutes_per_week": w.target,
                "windows": windows_of({code}),
            }
        )

    neighbourhoods: dict[str, list[str]] = {}
    for code in sorted(ward_by_code):
        neighbourhoods.setdefault(ward_by_code[code].neighbourhood, []).append(code)
    neighbourhood_docs = [rollup(n, n, codes) for n, codes in sorted(neighbourhoods.items())]

    districts: dict[str, list[str]] = {}
    for code in sorted(ward_by_code):
        if ward_by_code[code].district is not None:
            districts.setdefault(ward_by_code[code].district, []).append(code)
    district_docs = []
    for d, codes in sorted(districts.items()):
        names = [
            ward_by_code[c].district_name
            for c in codes
            if ward_by_code[c].district_name is not None
        ]
        district_docs.append(rollup(d, names[0] if names else d, codes))

    force_doc = rollup("force", force_name, list(ward_by_code))

    # ---- decision 9: fairness over wards
    fairness = {}
    for window in WINDOWS:
        rows = [(ward_by_code[d["code"]], d["windows"][window]) for d in ward_docs]
        known = [(w, m) for w, m in rows if w.population is not None]
        known_population = sum(w.population for w, m in known)

        def share_wards(status, rows=rows):
            return sum(1 for w, m in rows if m["status"] == status) / len(rows) if rows else None

        def share_residents(status, known=known, known_population=known_population):
            if not known or known_population == 0:
                return None
            return sum(w.population for w, m in known if m["status"] == status) / known_population

        fairness[window] = {
            "gini_minutes_per_km2": gini([m["patrol_minutes"] / w.area_km2 for w, m in rows]),
            "gini_minutes_per_1000_residents": gini(
                [m["patrol_minutes"] / (w.population / 1000) for w, m in known if w.population > 0]
            ),
            "share_wards_red": share_wards("red"),
            "share_residents_red": share_residents("red"),
            "share_wards_none": share_wards("none"),
            "share_residents_none": share_residents("none"),
        }

    return {
        "as_of": format_ts(as_of_us),
        "slot_seconds": S,
        "wards": ward_docs,
        "neighbourhoods": neighbourhood_docs,
        "districts": district_docs,
        "force": force_doc,
        "fairness": fairness,
        "outside": outside,
        "rejected": dict(sorted(rejected.items())),
        "duplicates": duplicates,
        "after_as_of": after_as_of,
        "accepted": len(pings),
    }
