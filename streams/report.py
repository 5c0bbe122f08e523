"""The batch report document (SPEC "Batch report contract"), as JSON-ready dicts and CSV rows.

Pure: it takes the area table, the figures and the counts and lays them out.
The stream's ``beatlight snapshots`` and the API's report endpoint build the
same document through :func:`report_document`, so the three can be diffed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from beatlight.geo.areas import Areas
from beatlight.streams.metrics import WindowFigures, fairness
from beatlight.times import format_us, format_us_array

__all__ = [
    "CSV_COLUMNS", "SESSION_COLUMNS", "csv_rows", "report_document", "session_rows",
    "zone_csv_rows",
]  # fmt: skip


#: Window metrics in the order the SPEC lists them.
METRICS = (
    "patrol_minutes",
    "foot_minutes",
    "unit_minutes",
    "longest_gap_minutes",
    "distinct_units",
    "visits",
    "koper_visits",
    "coverage",
    "last_seen",
    "target_minutes",
    "attainment",
    "status",
)
CSV_COLUMNS = (
    "level", "code", "name", "neighbourhood", "district", "area_km2", "population",
    "target_minutes_per_week", "window", *METRICS,
)  # fmt: skip


def report_document(
    areas: Areas,
    figures: Mapping[str, WindowFigures],
    *,
    as_of_us: int,
    slot_seconds: int,
    outside: int,
    accepted: int,
    rejected: Mapping[str, int],
    duplicates: int,
) -> dict[str, Any]:
    """The SPEC's report document: wards, roll-ups, force, fairness and counts."""

    # Each window's metrics per area, built from columns of Python lists at once rather
    # than one NumPy scalar (or one dict comprehension) at a time.
    rows = {name: _window_rows(_window_columns(window)) for name, window in figures.items()}

    described = areas.derived("report.described", _Described)

    def level(name: str) -> list[dict[str, Any]]:
        return [
            {**described[a], "windows": {w: window[a] for w, window in rows.items()}}
            for a in areas.of_level(name).tolist()
        ]

    force = level("force")
    return {
        "as_of": format_us(as_of_us),
        "slot_seconds": slot_seconds,
        "wards": level("ward"),
        "neighbourhoods": level("neighbourhood"),
        "districts": level("district"),
        "force": force[0] if force else {},
        "fairness": {name: fairness(window, areas) for name, window in figures.items()},
        "outside": int(outside),
        "accepted": int(accepted),
        "rejected": {reason: int(n) for reason, n in sorted(rejected.items()) if n},
        "duplicates": int(duplicates),
    }


def csv_rows(
    document: Mapping[str, Any], *, levels: tuple[str, ...] = ("wards",)
) -> Iterator[dict]:
    """One row per area and window (SPEC: ``--format csv``), wards by default."""
    singular = {"wards": "ward", "neighbourhoods": "neighbourhood", "districts": "district"}
    for key in levels:
        entries = [document["force"]] if key == "force" else document[key]
        for area in entries:
            for window, metrics in area["windows"].items():
                row = {
                    "level": singular.get(key, key),
                    "code": area["code"],
                    "name": area["name"],
                    "neighbourhood": area.get("neighbourhood", ""),
                    "district": area.get("district") or "",
                    "area_km2": area["area_km2"],
                    "population": "" if area["population"] is None else area["population"],
                    "target_minutes_per_week": area["target_minutes_per_week"],
                    "window": window,
                }
                row.update({m: "" if metrics[m] is None else metrics[m] for m in METRICS})
                yield row


#: The sessions CSV (``--sessions-out``): one row per zone session of the document.
SESSION_COLUMNS = (
    "code", "name", "kind", "start", "end", "open", "patrol_minutes", "unit_minutes",
    "visits", "koper_visits", "longest_gap_minutes", "met",
)  # fmt: skip


def zone_csv_rows(document: Mapping[str, Any]) -> Iterator[dict]:
    """One row per zone and window, in :data:`CSV_COLUMNS` (level ``zone``).

    A zone has no neighbourhood, district, area, population or coverage: those cells
    are empty, as are attainment and status without a weekly target."""
    for zone in document.get("zones", []):
        weekly = zone["windows"]["7d"]["target_minutes"]
        for window, metrics in zone["windows"].items():
            row = {
                "level": "zone", "code": zone["code"], "name": zone["name"],
                "neighbourhood": "", "district": "", "area_km2": "", "population": "",
                "target_minutes_per_week": "" if weekly is None else weekly, "window": window,
            }  # fmt: skip
            row.update({m: _cell(metrics.get(m)) for m in METRICS})
            yield row


def session_rows(document: Mapping[str, Any]) -> Iterator[dict]:
    """One row per listed session of each zone, in :data:`SESSION_COLUMNS`."""
    for zone in document.get("zones", []):
        for session in zone["sessions"]:
            head = {"code": zone["code"], "name": zone["name"], "kind": _cell(zone["kind"])}
            yield head | {k: _cell(v) for k, v in session.items()}


def _cell(value: Any) -> Any:
    """A CSV cell: empty for null, ``true``/``false`` for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class _Described:
    """What the document says of each area besides its figures, built once per geography:
    the same in every snapshot, and a fifth of a document's time when built each time."""

    def __init__(self, areas: Areas) -> None:
        self.areas = areas
        self.entries = [self._entry(a) for a in range(len(areas))]

    def __getitem__(self, a: int) -> dict[str, Any]:
        entry = self.entries[a]
        if "wards" in entry:  # each document its own list: a reader may change its copy
            return {**entry, "wards": list(entry["wards"])}
        return entry

    def _entry(self, a: int) -> dict[str, Any]:
        areas = self.areas
        entry: dict[str, Any] = {"code": areas.code[a], "name": areas.name[a]}
        if areas.level[a] == "ward":
            nb, district = areas.ward_areas[a, 1], areas.ward_areas[a, 2]
            entry["neighbourhood"] = areas.code[nb]
            entry["district"] = areas.code[district] if district >= 0 else None
        else:
            entry["wards"] = [areas.code[w] for w in areas.wards[a]]
        entry["area_km2"] = float(areas.area_km2[a])
        entry["population"] = _number(areas.population[a])
        entry["target_minutes_per_week"] = float(areas.target_minutes_per_week[a])
        return entry


def _window_rows(columns: Mapping[str, list]) -> list[dict[str, Any]]:
    """One dict of metrics per area from one list per metric."""
    names = tuple(columns)
    per_area = zip(*columns.values(), strict=True)
    return [dict(zip(names, values, strict=True)) for values in per_area]


def _window_columns(f: WindowFigures) -> dict[str, list]:
    """One window's metrics per area, as JSON-ready lists in :data:`METRICS` order."""
    last_seen = format_us_array(np.asarray(f.last_seen_us, dtype=np.int64))
    return {
        "patrol_minutes": _floats(f.patrol_minutes),
        "foot_minutes": _floats(f.foot_minutes),
        "unit_minutes": _floats(f.unit_minutes),
        "longest_gap_minutes": _floats(f.longest_gap_minutes),
        "distinct_units": _ints(f.distinct_units),
        "visits": _ints(f.visits),
        "koper_visits": _ints(f.koper_visits),
        "coverage": _floats(f.coverage),
        "last_seen": last_seen,
        "target_minutes": _floats(f.target_minutes),
        "attainment": [None if math.isnan(x) else x for x in _floats(f.attainment)],
        "status": [str(x) for x in f.status.tolist()],
    }


def _floats(values: np.ndarray) -> list[float]:
    return np.asarray(values, dtype=np.float64).tolist()


def _ints(values: np.ndarray) -> list[int]:
    return np.asarray(values).astype(np.int64).tolist()


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
