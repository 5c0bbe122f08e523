"""The zones as GeoJSON for the maps: outlines from the zones file, with what each map
colours them by (SPEC Z3, and the publication rules for the public map).

* The live map: the state of each zone's current session, ``none`` (no session now),
  ``on_track`` (a session is open and its longest gap so far is under the zone's
  ``max_gap_minutes``, or the zone has none) or ``unattended`` (the gap has reached it:
  nobody for too long, as the ``zone_unattended`` alert says).
* The coverage map: the share of the sessions ended in the 28 days before ``as_of``
  that were met.
* The public map: the public zones' published figures only, with their outlines.

Outlines are the zones file's polygons in WGS84 with 6 decimals (about 0.1 m), built
once per API; a zone the file does not outline (named only in the store) is left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from beatlight.api.models import ZoneSession
from beatlight.api.shapes import rounded

__all__ = ["ZONE_STATES", "collection", "session_state", "sessions_by_zone", "zone_outlines"]

#: A zone's state on the live map, in legend order.
ZONE_STATES = ("none", "on_track", "unattended")
_BACK = timedelta(days=28)


def zone_outlines(zones: Any) -> dict[str, dict[str, Any]]:
    """``{code: GeoJSON geometry}`` of a :class:`~beatlight.geo.zones.Zones` (None: ``{}``)."""
    if zones is None:
        return {}
    exact = shapely.set_precision(zones.geometry.values, 1e-6)
    return {str(code): rounded(mapping(g))
            for code, g in zip(zones.codes, exact, strict=True)}  # fmt: skip


def sessions_by_zone(
    session: Session, codes: list[str], as_of: datetime
) -> dict[str, list[dict[str, Any]]]:
    """``{code: sessions}`` as :func:`api.zone_queries.sessions` lists them, in one query."""
    query = (sa.select(ZoneSession).where(ZoneSession.code.in_(codes),
                                          ZoneSession.start < as_of,
                                          ZoneSession.end > as_of - _BACK)
             .order_by(ZoneSession.code, ZoneSession.start))  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in session.execute(query).scalars():
        out[s.code].append({"start": s.start, "end": s.end, "open": s.open, "met": s.met,
                            "longest_gap_minutes": s.longest_gap_minutes,
                            "patrol_minutes": s.patrol_minutes})  # fmt: skip
    return dict(out)


def session_state(
    sessions: list[dict[str, Any]], max_gap_minutes: float | None, as_of: datetime
) -> dict[str, Any]:
    """The maps' figures of a zone at ``as_of``: the state of its session open then, and
    the share of its sessions ended by then that were met (null when none ended)."""
    current = next((s for s in reversed(sessions) if s["open"] and s["end"] > as_of), None)
    if current is None:
        state = "none"
    elif max_gap_minutes is not None and current["longest_gap_minutes"] >= max_gap_minutes:
        state = "unattended"
    else:
        state = "on_track"
    ended = [s for s in sessions if not s["open"] and s["end"] <= as_of]
    met = sum(bool(s["met"]) for s in ended)
    return {
        "state": state,
        "session": None if current is None else {
            k: current[k] for k in ("start", "end", "longest_gap_minutes", "patrol_minutes")},
        "sessions_ended": len(ended),
        "sessions_met": met,
        "share_met": met / len(ended) if ended else None,
    }  # fmt: skip


def collection(
    properties: list[dict[str, Any]], outlines: dict[str, dict[str, Any]], **members: Any
) -> dict[str, Any]:
    """A FeatureCollection of the zones among ``properties`` that have an outline."""
    features = [{"type": "Feature", "id": p["code"], "geometry": outlines[p["code"]],
                 "properties": p} for p in properties if p["code"] in outlines]  # fmt: skip
    return {"type": "FeatureCollection", **members, "features": features}
