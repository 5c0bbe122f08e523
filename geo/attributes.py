"""Ward attributes from an optional CSV: neighbourhood, district, population, target (SPEC rule 13).

Without a CSV (or for wards it leaves out, or cells it leaves blank) each ward
is its own neighbourhood, its district comes from the boundary file when that
has a district column, its population is unknown and the default weekly target
applies.
"""

from __future__ import annotations

import csv
import difflib
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from beatlight.geo.boundaries import Wards
from beatlight.geo.exceptions import BoundaryError

log = logging.getLogger("beatlight.geo")

ALLOWED_COLUMNS = ("code", "neighbourhood", "district", "population", "target_minutes_per_week")
_SHOWN = 5
_FIRST_DATA_LINE = 2  # line 1 is the header


@dataclass(frozen=True, eq=False)
class WardAttributes:
    """Per-ward attributes in :class:`~geo.boundaries.Wards` order (read-only arrays)."""

    neighbourhood: np.ndarray
    district: np.ndarray | None
    district_name: np.ndarray | None
    population: np.ndarray
    target_minutes_per_week: np.ndarray


def load_attributes(
    path: str | Path | None, wards: Wards, default_target: float = 600.0
) -> WardAttributes:
    """Ward attributes from the CSV at ``path`` (or defaults only when ``path`` is None)."""
    if not (math.isfinite(default_target) and default_target >= 0):
        raise ValueError(f"default_target must be a non-negative number, not {default_target!r}")
    neighbourhood = wards.codes.astype(object)
    district = None if wards.district_codes is None else wards.district_codes.astype(object)
    district_name = None if wards.district_names is None else wards.district_names.astype(object)
    population = np.full(len(wards), np.nan)
    target = np.full(len(wards), float(default_target))
    if path is not None:
        table = _read(Path(path))
        ward = _ward_positions(table, wards, Path(path))
        _fill_text(neighbourhood, ward, table.get("neighbourhood"))
        district, district_name = _districts(
            district, district_name, ward, table, wards, Path(path)
        )
        _fill_number(population, ward, table, "population", Path(path))
        _fill_number(target, ward, table, "target_minutes_per_week", Path(path))
        log.info("read attributes of %d wards from %s", len(table), path)
    return WardAttributes(
        neighbourhood=_frozen(neighbourhood),
        district=None if district is None else _frozen(district),
        district_name=None if district_name is None else _frozen(district_name),
        population=_frozen(population),
        target_minutes_per_week=_frozen(target),
    )


def _read(path: Path) -> pd.DataFrame:
    """The CSV's rows as stripped strings, indexed by file line number, blank lines dropped."""
    if not path.is_file():
        raise BoundaryError(f"attributes file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            header = next(csv.reader(file), [])
        with warnings.catch_warnings():
            # A row longer than the header is an error, not data to drop or an index.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                index_col=False,
                encoding="utf-8-sig",
            )
    except (
        OSError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        pd.errors.ParserWarning,
        pd.errors.EmptyDataError,
    ) as exc:
        reason = str(exc).strip()
        if isinstance(exc, pd.errors.ParserWarning):
            reason = "a row has more fields than the header has columns"
        raise BoundaryError(f"cannot read attributes file {path}: {reason}") from exc
    _check_header([name.strip().lower() for name in header], path)
    table.columns = [str(name).strip().lower() for name in table.columns]
    # Rows shorter than the header leave missing cells: they are blank cells.
    table = table.fillna("").apply(lambda column: column.str.strip())
    table.index = pd.RangeIndex(_FIRST_DATA_LINE, _FIRST_DATA_LINE + len(table))
    # Blank lines (kept above so line numbers stay true) carry nothing.
    return table[(table != "").any(axis=1)]


def _check_header(header: list[str], path: Path) -> None:
    """Refuse a header without ``code``, with unknown or repeated columns, suggesting fixes."""
    if not header or header == [""]:
        raise BoundaryError(f"attributes file {path} is empty: it needs a header row with code")
    unknown = [name for name in header if name not in ALLOWED_COLUMNS]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, ALLOWED_COLUMNS, n=1, cutoff=0.6)
            hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
        raise BoundaryError(
            f"attributes file {path} has unknown columns {', '.join(hints)}; "
            f"allowed columns are {', '.join(ALLOWED_COLUMNS)}"
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise BoundaryError(f"attributes file {path} repeats columns {', '.join(repeated)}")
    if "code" not in header:
        raise BoundaryError(f"attributes file {path} has no code column (the ward code)")


def _ward_positions(table: pd.DataFrame, wards: Wards, path: Path) -> np.ndarray:
    """The ward index of each CSV row; unknown, blank and repeated codes are errors."""
    codes = table["code"]
    blank = codes.index[codes == ""]
    if len(blank):
        raise BoundaryError(f"attributes file {path}: blank code on line(s) {_lines(blank)}")
    repeated = codes[codes.duplicated(keep=False)]
    if len(repeated):
        shown = sorted(set(repeated))[:_SHOWN]
        raise BoundaryError(
            f"attributes file {path}: {repeated.nunique()} codes appear more than once "
            f"({', '.join(shown)}; lines {_lines(repeated.index)}); give each ward one row"
        )
    position = pd.Series(np.arange(len(wards)), index=pd.Index(wards.codes.astype(str)))
    known = codes.isin(position.index)
    if not known.all():
        unknown = codes[~known]
        more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
        raise BoundaryError(
            f"attributes file {path}: {len(unknown)} codes are not wards of "
            f"{wards.source} ({', '.join(unknown.iloc[:_SHOWN])}{more}); "
            "check the codes are of the same vintage as the boundaries"
        )
    return position.loc[codes.to_numpy()].to_numpy()


def _fill_text(target: np.ndarray, ward: np.ndarray, values: pd.Series | None) -> None:
    """Overwrite per-ward text where the CSV gives a non-blank value."""
    if values is None:
        return
    given = (values != "").to_numpy()
    target[ward[given]] = values.to_numpy()[given]


def _districts(
    district: np.ndarray | None,
    district_name: np.ndarray | None,
    ward: np.ndarray,
    table: pd.DataFrame,
    wards: Wards,
    path: Path,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Districts with the CSV's overriding the boundary file's (their name is then the CSV's)."""
    values = table.get("district")
    if values is None or not (values != "").any():
        return district, district_name
    given = (values != "").to_numpy()
    if district is None or district_name is None:
        # Only the CSV names districts: a ward it leaves out would belong to none.
        named = np.zeros(len(wards), dtype=bool)
        named[ward[given]] = True
        if not named.all():
            missing = wards.codes[~named]
            raise BoundaryError(
                f"attributes file {path} gives a district for {int(named.sum())} wards but "
                f"not for {len(missing)} ({', '.join(missing[:_SHOWN])}), and the boundary "
                "file has no district column: give every ward a district, or none"
            )
        district = np.full(len(wards), "", dtype=object)
        district_name = np.full(len(wards), "", dtype=object)
    district[ward[given]] = values.to_numpy()[given]
    district_name[ward[given]] = values.to_numpy()[given]
    return district, district_name


def _fill_number(
    target: np.ndarray, ward: np.ndarray, table: pd.DataFrame, column: str, path: Path
) -> None:
    """Overwrite per-ward numbers where the CSV gives one; refuse non-numbers and negatives."""
    if column not in table:
        return
    values = table[column]
    given = (values != "").to_numpy()
    numbers = pd.to_numeric(values.where(given, "0"), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers) | (numbers < 0))
    if bad.size:
        line = values.index[bad[0]]
        others = f" (and {bad.size - 1} more lines)" if bad.size > 1 else ""
        raise BoundaryError(
            f"attributes file {path}, line {line}: {column} must be a non-negative number, "
            f"not {values.iloc[bad[0]]!r}{others}"
        )
    target[ward[given]] = numbers[given]


def _lines(index: pd.Index) -> str:
    """Line numbers for an error message (up to five)."""
    lines = [str(line) for line in index[:_SHOWN]]
    return ", ".join(lines) + (f" and {len(index) - _SHOWN} more" if len(index) > _SHOWN else "")


def _frozen(values: np.ndarray) -> np.ndarray:
    """The array made read-only."""
    values = np.asarray(values)
    values.flags.writeable = False
    return values
