"""The public figures as open data: CSV columns, their descriptions, licence and attribution.

One description per published field, used three ways: the columns of the public CSV
(``/api/v1/public/visibility?format=csv`` and ``/zones?format=csv``), the CSV on the Web
metadata at ``/api/v1/public/fields`` (W3C CSVW: each column's name, title, datatype and
meaning, with the licence and attribution), and the ``Link`` headers every public answer
carries (``rel="license"`` and ``rel="describedby"``). Pure: no routes, no store.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PERIOD_COLUMNS",
    "WARD_COLUMNS",
    "ZONE_COLUMNS",
    "csv_rows",
    "csvw_metadata",
    "link_header",
]

# (name, CSVW datatype, title, description, may be empty)
Column = tuple[str, str, str, str, bool]

PERIOD_COLUMNS: list[Column] = [
    ("period", "string", "Period", "day or week: a complete local calendar day, or a week "
     "from Monday to Sunday.", False),
    ("date", "date", "Date", "The day, or the Monday the week starts on (local time).", False),
    ("start", "datetime", "Start", "When the figures' window starts (UTC).", False),
    ("end", "datetime", "End", "When the figures' window ends, exclusive (UTC): the local "
     "midnight after the day or week.", False),
]  # fmt: skip
_SHARED: list[Column] = [
    ("patrol_hours", "integer", "Visible patrol (hours)", "Time during which at least one "
     "patrol was present, rounded to whole hours (halves up).", False),
    ("foot_hours", "integer", "On foot (hours)", "Time during which at least one patrol on "
     "foot was present, rounded to whole hours.", False),
]  # fmt: skip
_UNITS: list[Column] = [
    ("distinct_units", "integer", "Different patrols", "Different patrols (devices or crews) "
     "seen; empty when suppressed.", True),
    ("units_suppressed", "boolean", "Patrols suppressed", "true when fewer patrols than the "
     "publication threshold were seen: the count is withheld so no one can be singled "
     "out.", False),
]  # fmt: skip
_STATUS = ("status", "string", "Against the commitment", "green: met the target; amber: 75% "
           "to 99% of it; red: under 75%; none: no patrol seen.")  # fmt: skip
WARD_COLUMNS: list[Column] = [
    ("code", "string", "Ward code", "The ward's code in the boundary file (e.g. ONS GSS).",
     False),
    ("name", "string", "Ward", "The ward's name in the boundary file.", False),
    *_SHARED,
    ("longest_gap_hours", "integer", "Longest time with nobody seen (hours)", "The longest "
     "stretch of the period with no patrol present, rounded to whole hours.", False),
    *_UNITS,
    ("coverage", "decimal", "Share of the ward patrolled", "Share of the ward's grid squares "
     "(200 m by default) holding at least one position, 0 to 1, two decimals.", False),
    ("target_hours", "integer", "Commitment (hours)", "The period's patrol target, rounded "
     "to whole hours (a day: a seventh of the week's).", False),
    (*_STATUS, False),
]  # fmt: skip
ZONE_COLUMNS: list[Column] = [
    ("code", "string", "Zone code", "The zone's code in the force's zones file.", False),
    ("name", "string", "Zone", "The zone's name (a town centre, a park, ...).", False),
    ("kind", "string", "Kind", "What the zone is (town_centre, park, ...), if said.", True),
    *_SHARED,
    *_UNITS,
    ("target_hours", "integer", "Commitment (hours)", "The period's patrol target in whole "
     "hours; empty for a zone without one.", True),
    (*_STATUS, True),
]  # fmt: skip


def csv_rows(body: dict[str, Any], key: str, columns: list[Column]) -> list[list[Any]]:
    """The rows of a public answer (``body[key]`` the wards or zones): the period's columns
    then the area's, booleans as ``true``/``false``."""
    head = [body[c[0]] for c in PERIOD_COLUMNS]
    return [head + [_cell(area[c[0]]) for c in columns] for area in body[key]]


def link_header(licence: str, fields: str = "/api/v1/public/fields") -> str:
    """The ``Link`` header of every public answer: its licence and its field descriptions."""
    return f'<{licence}>; rel="license", <{fields}>; rel="describedby"; ' \
           'type="application/csvm+json"'  # fmt: skip


def csvw_metadata(licence: str, attribution: str, base: str = "/api/v1/public") -> dict:
    """CSV on the Web metadata (W3C) of the two public CSVs: every column described."""
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "dc:title": "Beatlight: visible patrol by ward, as published to residents",
        "dc:description": "Complete days and weeks, published at least the publication delay "
        "after they end, per ward (and per public zone), patrol time in whole hours, small "
        "patrol counts withheld. Never live figures, positions or anything finer than a ward.",
        "dc:license": {"@id": licence},
        "dc:rights": attribution,
        "tables": [
            _table(f"{base}/visibility?format=csv", "Published ward figures", WARD_COLUMNS),
            _table(f"{base}/zones?format=csv", "Published figures of the public zones",
                   ZONE_COLUMNS),
        ],
    }  # fmt: skip


def _table(url: str, title: str, columns: list[Column]) -> dict[str, Any]:
    return {"url": url, "dc:title": title, "tableSchema": {
        "columns": [{"name": name, "titles": title, "datatype": datatype,
                     "dc:description": description, "required": not optional}
                    for name, datatype, title, description, optional
                    in PERIOD_COLUMNS + columns],
        "primaryKey": ["period", "date", "code"],
    }}  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
