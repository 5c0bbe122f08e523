"""The batch report document (SPEC "Batch report contract"), as JSON-ready dicts and CSV rows.

Pure: it takes the area table, the figures and the counts and lays them out.
The stream's ``beatlight snapshots`` and the API's report endpoint build the
same document through :func:`report_document`, so the three can be diffed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from geo.areas import Areas
from streams.metrics import WindowFigures, fairness

__all__ = ["CSV_COLUMNS", "csv_rows", "format_ts", "report_document"]

_NONE = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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


def format_ts(us: int) -> str:
    """RFC 3339 UTC with ``Z``; microseconds only when there are some."""
    moment = _EPOCH + timedelta(microseconds=int(us))
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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

    def level(name: str) -> list[dict[str, Any]]:
        return [_area(areas, figures, a) for a in areas.of_level(name)]

    force = level("force")
    return {
        "as_of": format_ts(as_of_us),
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


def _area(areas: Areas, figures: Mapping[str, WindowFigures], a: int) -> dict[str, Any]:
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
    entry["windows"] = {name: _window(window, a) for name, window in figures.items()}
    return entry


def _window(f: WindowFigures, a: int) -> dict[str, Any]:
    last = int(f.last_seen_us[a])
    return {
        "patrol_minutes": float(f.patrol_minutes[a]),
        "foot_minutes": float(f.foot_minutes[a]),
        "unit_minutes": float(f.unit_minutes[a]),
        "longest_gap_minutes": float(f.longest_gap_minutes[a]),
        "distinct_units": int(f.distinct_units[a]),
        "visits": int(f.visits[a]),
        "koper_visits": int(f.koper_visits[a]),
        "coverage": float(f.coverage[a]),
        "last_seen": None if last == _NONE else format_ts(last),
        "target_minutes": float(f.target_minutes[a]),
        "attainment": _number(f.attainment[a]),
        "status": str(f.status[a]),
    }


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
