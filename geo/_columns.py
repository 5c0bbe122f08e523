"""Finding the code, name and district columns of a boundary file (SPEC rule 13).

Boundary files name their columns differently: ONS files use ``WD<yy>CD`` and
``WD<yy>NM`` for wards and ``LAD<yy>CD``/``LAD<yy>NM`` for districts (any year),
others plain ``code``/``name`` and ``district``/``district_name``. Explicit
options always win.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from beatlight.geo.exceptions import BoundaryError


@dataclass(frozen=True)
class Columns:
    """The columns of a boundary file that hold each ward attribute (None: absent)."""

    code: str
    name: str | None
    district: str | None
    district_name: str | None


@dataclass(frozen=True)
class _Kind:
    """How to recognise one kind of column: an ONS pattern with a year, or a plain name."""

    option: str
    ons: re.Pattern[str]
    plain: str


_CODE = _Kind("code_column", re.compile(r"WD(\d{2})CD", re.IGNORECASE), "code")
_NAME = _Kind("name_column", re.compile(r"WD(\d{2})NM", re.IGNORECASE), "name")
_DISTRICT = _Kind("district_column", re.compile(r"LAD(\d{2})CD", re.IGNORECASE), "district")
_DISTRICT_NAME = _Kind(
    "district_name_column", re.compile(r"LAD(\d{2})NM", re.IGNORECASE), "district_name"
)


def detect_columns(
    columns: Sequence[str],
    *,
    source: str,
    code_column: str | None = None,
    name_column: str | None = None,
    district_column: str | None = None,
    district_name_column: str | None = None,
) -> Columns:
    """Decide which columns hold the ward code, name and district, or explain what to pass."""
    available = [str(column) for column in columns]
    code = _choose(available, _CODE, code_column, None, source)
    if code is None:
        raise BoundaryError(
            f"cannot find the ward code column in {source}: its columns are "
            f"{_listing(available)}; name it with the code_column option "
            "(detected automatically: WD<yy>CD or code)"
        )
    year = _year(code, _CODE)
    name = _choose(available, _NAME, name_column, year, source)
    district = _choose(available, _DISTRICT, district_column, year, source)
    district_name = _choose(available, _DISTRICT_NAME, district_name_column, year, source)
    if district_name is not None and district is None:
        raise BoundaryError(
            f"{source} has district names ({district_name}) but no district code column: "
            "name it with the district_column option"
        )
    return Columns(code=code, name=name, district=district, district_name=district_name)


def _choose(
    columns: list[str], kind: _Kind, explicit: str | None, year: str | None, source: str
) -> str | None:
    """The column for one kind: the explicit one, else the ONS one, else the plain one."""
    if explicit is not None:
        return _explicit(columns, kind, explicit, source)
    ons = [column for column in columns if kind.ons.fullmatch(column)]
    if len(ons) > 1 and year is not None:
        # Several vintages in one file: take the one of the ward code's year.
        same_year = [column for column in ons if _year(column, kind) == year]
        ons = same_year or ons
    plain = [column for column in columns if column.lower() == kind.plain]
    for found in (ons, plain):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise BoundaryError(
                f"{source} has several candidate columns for {kind.plain} "
                f"({', '.join(found)}): choose one with the {kind.option} option"
            )
    return None


def _explicit(columns: list[str], kind: _Kind, explicit: str, source: str) -> str:
    """An explicitly named column, matched exactly or else ignoring case."""
    if explicit in columns:
        return explicit
    folded = [column for column in columns if column.lower() == explicit.lower()]
    if len(folded) == 1:
        return folded[0]
    raise BoundaryError(
        f"{kind.option}={explicit!r} is not a column of {source}; its columns are "
        f"{_listing(columns)}"
    )


def _year(column: str, kind: _Kind) -> str | None:
    """The two-digit vintage of an ONS column name (``WD13CD`` → ``13``)."""
    match = kind.ons.fullmatch(column)
    return match.group(1) if match else None


def _listing(columns: list[str]) -> str:
    """Columns for an error message, or a note that there are none."""
    return ", ".join(columns) if columns else "(none besides the geometry)"
