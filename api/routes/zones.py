"""``/api/v1/zones`` and ``/api/v1/returns``: zones' windows, sessions and funders' returns.

For inspectors and the PCC's office (SPEC Z4, Z6): every zone, public or not, with what
the zones file commits it to (:mod:`api.zone_queries`). Keyed answers are never cached
by others (``private, no-store``, :mod:`api.headers`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api import zone_maps, zone_queries
from beatlight.api.auth import requires
from beatlight.api.deps import (
    AsOfQuery,
    FormatQuery,
    Services,
    ServicesDep,
    csv_response,
    geojson_response,
    hour_boundary,
    json_response,
    quoted,
    session,
)
from beatlight.api.zone_schemas import ReturnRow, ZoneDetail, ZonesResponse
from beatlight.api.zone_store import ZONE_METRICS
from beatlight.times import format_time

router = APIRouter(prefix="/zones", tags=["zones"],
                   dependencies=[requires("inspector", "pcc", "admin")])  # fmt: skip
returns_router = APIRouter(prefix="/returns", tags=["zones"],
                           dependencies=[requires("inspector", "pcc", "admin")])  # fmt: skip

_CSV_COLUMNS = ("code", "name", "kind", "public", "as_of", "window", *ZONE_METRICS)


ZoneFormatQuery = Annotated[str, Query(
    pattern="^(json|csv|geojson)$",
    description="json; csv for a spreadsheet; geojson for the maps: each outlined zone with "
                "the state of its current session and the share of its sessions met.")]  # fmt: skip


@router.get("", response_model=ZonesResponse, summary="Zones and their figures",
            responses={200: {"content": {"application/geo+json": {}}},
                       404: {"description": "Nothing stored at that hour."}})  # fmt: skip
async def list_zones(services: ServicesDep, as_of: AsOfQuery = None,
                     format: ZoneFormatQuery = "json") -> Response:  # fmt: skip
    """Every zone (hot spots, town centres, ...) with its windows, live or at an hour; CSV:
    one row per zone and window; GeoJSON (no feature when no figure is stored at ``as_of``):
    one feature per zone the zones file outlines,
    with ``state`` (``none``: no session now; ``on_track``; ``unattended``: the longest gap
    of the open session has reached ``max_gap_minutes``), ``session`` (the open one) and
    ``sessions_ended``, ``sessions_met``, ``share_met`` over the 28 days before ``as_of``."""
    hour = None if as_of is None else hour_boundary(as_of)
    if format == "geojson":  # for the maps: nothing stored is no feature, not a 404
        return geojson_response(await run_in_threadpool(_zone_features, services, hour))
    found, zones = await run_in_threadpool(_zones, services, hour, None)
    if hour is not None and found is None:
        raise HTTPException(404, f"no zone figures stored at {format_time(hour)}")
    if format == "csv":
        rows = ([z["code"], z["name"], z["kind"], z["public"], found, window,
                 *(figures[m] for m in ZONE_METRICS)]
                for z in zones for window, figures in z["windows"].items())  # fmt: skip
        return csv_response("zones", _CSV_COLUMNS, rows)
    return json_response({"as_of": found, "zones": zones})


@router.get("/{code}", response_model=ZoneDetail, summary="One zone, its windows and sessions",
            responses={404: {"description": "No zone has this code."}})  # fmt: skip
async def get_zone(services: ServicesDep, code: str, as_of: AsOfQuery = None) -> Response:
    """One zone's windows and its sessions (ended in the 28 days before ``as_of``, or open),
    each session with its newest stored figures."""
    hour = None if as_of is None else hour_boundary(as_of)
    found, zones = await run_in_threadpool(_zones, services, hour, code, True)
    if not zones:
        raise HTTPException(404, f"no zone has the code {quoted(code)}")
    if hour is not None and found is None:
        raise HTTPException(404, f"no zone figures stored at {format_time(hour)}")
    return json_response(zones[0] | {"as_of": found})


@returns_router.get("", response_model=list[ReturnRow], summary="Funders' returns (Z6)")
async def zone_returns(
    services: ServicesDep,
    period: Annotated[
        Literal["week", "month", "quarter"],
        Query(description="ISO week, calendar month or quarter, in the force's time zone."),
    ] = "quarter",
    format: FormatQuery = "csv",
) -> Response:
    """Per zone and period: patrol and unit hours, visits, Koper visits, sessions held and
    met, from the stored hours (``hours_missing``: hours of the period not stored)."""
    rows = await run_in_threadpool(_returns, services, period)
    if format == "csv":
        cells = ([_cell(row[k]) for k in zone_queries.RETURNS_COLUMNS] for row in rows)
        return csv_response(f"returns-{period}", zone_queries.RETURNS_COLUMNS, cells)
    return json_response(rows)


def _zones(
    services: Services, hour: datetime | None, code: str | None, with_sessions: bool = False
) -> tuple[datetime | None, list[dict]]:
    for opened in session(services):
        zones = zone_queries.zones_with_figures(opened, services.zone_meta, code)
        as_of, windows = zone_queries.zone_windows(opened, hour, [z["code"] for z in zones])
        if hour is not None and not windows:
            as_of = None
        zones = zone_queries.current(zones, services.zone_meta, windows)
        for zone in zones:
            zone["windows"] = windows.get(zone["code"], {})
            if with_sessions:
                zone["sessions"] = ([] if as_of is None else
                                    zone_queries.sessions(opened, zone["code"], as_of))  # fmt: skip
        return as_of, zones
    return None, []


def _zone_features(services: Services, hour: datetime | None) -> dict:
    for opened in session(services):
        zones = zone_queries.zones_with_figures(opened, services.zone_meta)
        codes = [z["code"] for z in zones if z["code"] in services.zone_shapes]
        as_of, _ = zone_queries.zone_windows(opened, hour, codes)
        if hour is not None and not zone_queries.stored_at(opened, hour):
            as_of = None
        listed = {} if as_of is None else zone_maps.sessions_by_zone(opened, codes, as_of)
        properties = [{k: z[k] for k in ("code", "name", "kind", "public", "schedule",
                                         "session_target_minutes", "max_gap_minutes")}
                      | zone_maps.session_state(listed.get(z["code"], []), z["max_gap_minutes"],
                                                as_of)
                      for z in zones]  # fmt: skip
        if as_of is None:
            properties = []
        return zone_maps.collection(properties, services.zone_shapes, as_of=as_of)
    return zone_maps.collection([], {}, as_of=None)


def _returns(services: Services, period: str) -> list[dict]:
    for opened in session(services):
        return zone_queries.returns(opened, services.zone_meta, period, services.settings.timezone)
    return []


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
