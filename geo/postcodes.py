"""Postcodes to wards, from a postcode directory file (optional; no postcode data ships).

A force that wants residents to find their ward by postcode points
``BEATLIGHT_POSTCODE_FILE`` at a CSV of the ONS Postcode Directory (ONSPD) or any file
with its columns: a postcode (``pcds``, ``pcd``, ``pcd2``, ``pcd7``, ``pcd8`` or
``postcode``) and either a latitude and longitude (``lat``/``latitude`` and
``long``/``lon``/``longitude``, WGS84) or a ward code (``osward``, ``ward_code``, ``ward``
or a ``WDyyCD`` column). With coordinates, each postcode is matched to the wards the
way pings are (SPEC rule 1), so the answer agrees with the figures' own boundaries;
with only a ward code, codes the boundaries do not know are dropped. Either way only
the postcode and its ward are kept, as two sorted arrays (a country's 2.7 million
postcodes in about 40 MB).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography

__all__ = ["PostcodeFileError", "Postcodes", "load_postcodes", "normalise_postcode"]

log = logging.getLogger("beatlight.geo")

_POSTCODE = ("pcds", "pcd", "pcd2", "pcd7", "pcd8", "postcode")
_LAT, _LON = ("lat", "latitude"), ("long", "lon", "longitude")
_WARD = ("osward", "ward_code", "ward")
_WARD_PATTERN = re.compile(r"^wd\d\dcd$")
_SHAPE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


class PostcodeFileError(BeatlightError):
    """The postcode file cannot be read or lacks the columns it needs."""


def normalise_postcode(text: str) -> str | None:
    """``"st4 2aa "`` → ``"ST42AA"``; None when it does not have a UK postcode's shape."""
    compact = re.sub(r"\s+", "", text or "").upper()
    return compact if _SHAPE.match(compact) else None


@dataclass(frozen=True)
class Postcodes:
    """Postcodes (normalised, sorted) and the code of the ward each is in."""

    postcodes: np.ndarray  # bytes, sorted
    wards: np.ndarray  # int32 index into ``codes``
    codes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.postcodes)

    def ward(self, postcode: str) -> str | None:
        """The ward code of ``postcode`` (any spacing or case), or None."""
        key = normalise_postcode(postcode)
        if key is None or not len(self.postcodes):
            return None
        needle = np.array(key.encode("ascii"), dtype=self.postcodes.dtype)
        at = int(np.searchsorted(self.postcodes, needle))
        if at < len(self.postcodes) and self.postcodes[at] == needle:
            return self.codes[int(self.wards[at])]
        return None


def load_postcodes(path: Path, geography: Geography) -> Postcodes:
    """The postcodes of the file at ``path`` that fall in ``geography``'s wards."""
    import pandas as pd

    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except (OSError, ValueError) as error:
        raise PostcodeFileError(f"cannot read the postcode file {path}: {error}") from error
    columns = {c.strip().lower(): c for c in header.columns}
    postcode = _first(columns, _POSTCODE)
    lat, lon = _first(columns, _LAT), _first(columns, _LON)
    ward = _first(columns, _WARD) or next(
        (columns[c] for c in columns if _WARD_PATTERN.match(c)), None
    )
    if postcode is None or (ward is None and (lat is None or lon is None)):
        raise PostcodeFileError(
            f"the postcode file {path} needs a postcode column ({', '.join(_POSTCODE)}) and "
            "either latitude and longitude (lat, long) or a ward code (osward): its columns "
            f"are {', '.join(header.columns[:12])}"
        )
    use = [postcode, lat, lon] if lat is not None and lon is not None else [postcode, ward]
    frame = pd.read_csv(path, usecols=use, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    keys = frame[postcode].str.replace(r"\s+", "", regex=True).str.upper()
    codes = geography.areas.code[: geography.areas.n_wards]
    if len(use) == 3:
        lats = pd.to_numeric(frame[lat], errors="coerce").to_numpy(dtype=float)
        lons = pd.to_numeric(frame[lon], errors="coerce").to_numpy(dtype=float)
        # ONSPD marks postcodes with no grid reference at 99.999999 latitude: in no ward.
        usable = np.isfinite(lats) & np.isfinite(lons) & (np.abs(lats) <= 90)
        index = np.full(len(frame), -1, dtype=np.int64)
        if usable.any():
            index[usable] = geography.locate(lons[usable], lats[usable])[0]
    else:
        position = {str(c): i for i, c in enumerate(codes)}
        index = frame[ward].map(position).fillna(-1).to_numpy(dtype=np.int64)
    valid = (index >= 0) & keys.str.match(_SHAPE.pattern).to_numpy(dtype=bool)
    table = pd.DataFrame({"key": keys[valid].to_numpy(dtype=str), "ward": index[valid]})
    table = table.drop_duplicates("key").sort_values("key")
    found = Postcodes(table["key"].to_numpy(dtype="S8"), table["ward"].to_numpy(dtype=np.int32),
                      tuple(str(c) for c in codes))  # fmt: skip
    log.info("postcodes: %d of %d rows of %s are in a ward", len(found), len(frame), path.name)
    return found


def _first(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)
