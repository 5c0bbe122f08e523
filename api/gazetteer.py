"""The published geography: each ward's name and neighbourhood, for residents to find it.

Names and codes only, from the boundary file and the ward attributes (SPEC rule 13);
no figures. The public map searches it as residents type (``/api/v1/public/wards``),
and each ward's page names its neighbourhood and the neighbourhood's other wards.
Worked out once per geography (:meth:`geo.areas.Areas.derived`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beatlight.geo.geography import Geography

__all__ = ["WardPlace", "gazetteer", "neighbours"]


@dataclass(frozen=True)
class WardPlace:
    """A ward as residents look for it: its code, name and neighbourhood."""

    code: str
    name: str
    neighbourhood: str
    neighbourhood_name: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "neighbourhood": self.neighbourhood,
                "neighbourhood_name": self.neighbourhood_name}  # fmt: skip


def gazetteer(geography: Geography) -> dict[str, WardPlace]:
    """``{code: WardPlace}`` of every ward, by code."""
    return geography.areas.derived("gazetteer", _build)  # type: ignore[no-any-return]


def neighbours(places: dict[str, WardPlace], code: str) -> list[WardPlace]:
    """The wards of ``code``'s neighbourhood (itself included), by name."""
    home = places[code].neighbourhood
    return sorted((p for p in places.values() if p.neighbourhood == home),
                  key=lambda p: (p.name.casefold(), p.code))  # fmt: skip


def _build(areas: Any) -> dict[str, WardPlace]:
    out = {}
    for ward in range(areas.n_wards):
        hood = int(areas.ward_areas[ward, 1])
        code, name, home = str(areas.code[ward]), str(areas.name[ward]), str(areas.code[hood])
        # A ward that is its own neighbourhood (no attributes file) lends it its name.
        out[code] = WardPlace(code, name, home, name if home == code else str(areas.name[hood]))
    return out
