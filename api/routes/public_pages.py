"""``/public/wards``: residents' pages, plain HTML with no key and no script.

``/public/wards/{code}`` is one ward's page: its published weeks and days
(:func:`api.routes.public.published_periods`, the public API's own list: complete,
past the delay, stored), each through :func:`api.publication.public_ward`, so the page
shows exactly what ``/api/v1/public/visibility`` publishes and nothing finer; its
neighbourhood; and the public zones whose outlines overlap it. ``/public/wards`` lists
every ward by neighbourhood, a way to find a ward without the map.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from beatlight.api import queries
from beatlight.api.deps import QUOTED_CHARS, Services, ServicesDep, session
from beatlight.api.gazetteer import gazetteer, neighbours
from beatlight.api.publication import PERIOD_WINDOWS, period_end, public_ward
from beatlight.api.routes.public import published_periods, published_zones
from beatlight.maps.ward_page import (
    PAGE_SECURITY_POLICY,
    Period,
    WardPage,
    not_found_page,
    ward_page,
    wards_index_page,
)

__all__ = ["RECENT_DAYS", "RECENT_WEEKS", "router"]

# Pages for browsers, documented in docs/api.md, not in OpenAPI (like the maps).
router = APIRouter(prefix="/public", tags=["public pages"], include_in_schema=False)

#: How many of the latest published weeks and days a ward's page shows.
RECENT_WEEKS, RECENT_DAYS = 8, 14


@router.get("/wards", response_class=HTMLResponse)
async def wards_index(services: ServicesDep) -> HTMLResponse:
    """Every ward by neighbourhood, each a link to its page."""
    places = [p.as_dict() for p in gazetteer(services.shapes.geography).values()]
    return _html(wards_index_page(places))


@router.get("/wards/{code}", response_class=HTMLResponse)
async def ward(services: ServicesDep, code: str) -> HTMLResponse:
    """One ward's published weeks and days in words, a chart and a table."""
    places = gazetteer(services.shapes.geography)
    if code not in places:
        shown = code if len(code) <= QUOTED_CHARS else code[:QUOTED_CHARS] + "…"
        return _html(not_found_page(f"“{shown}”"), status_code=404)
    place = places[code]
    days, weeks = await run_in_threadpool(published_periods, services)
    recent = [("week", d) for d in weeks[:RECENT_WEEKS]] + [("day", d) for d in days[:RECENT_DAYS]]
    found = await run_in_threadpool(_figures, services, code, place.name, recent)
    zones, zones_week = await _zones_in(services, code, weeks[0] if weeks else None)
    settings = services.settings
    page = WardPage(
        code=code, name=place.name, neighbourhood=place.neighbourhood,
        neighbourhood_name=place.neighbourhood_name,
        neighbours=[{"code": p.code, "name": p.name}
                    for p in neighbours(places, code) if p.code != code],
        weeks=[p for p in found if p.period == "week"],
        days=[p for p in found if p.period == "day"],
        zones=zones, zones_week=zones_week, timezone=settings.timezone,
        publish_delay_hours=settings.publish_delay_hours, min_units=settings.public_min_units,
        boundary_attribution=settings.boundary_attribution,
    )  # fmt: skip
    return _html(ward_page(page))


def _figures(
    services: Services, code: str, name: str, recent: list[tuple[str, Any]]
) -> list[Period]:
    """The ward's public figures of each published ``(period, first day)`` that is stored."""
    zone, minimum = services.zone, services.settings.public_min_units
    moments = [(period_end(p, d, zone), PERIOD_WINDOWS[p]) for p, d in recent]  # type: ignore[arg-type]
    for opened in session(services):
        stored = queries.ward_windows(opened, code, moments)
        entry = {"code": code, "name": name}
        return [Period(p, d, public_ward(entry, stored[m], minimum))
                for (p, d), m in zip(recent, moments, strict=True) if m in stored]  # fmt: skip
    return []


async def _zones_in(services: Services, code: str, week: Any) -> tuple[list[dict], Any]:
    """The public zones whose outlines overlap the ward, with their figures of ``week``."""
    public = [c for c, meta in services.zone_meta.items() if meta["public"]]
    if week is None or not public:
        return [], None
    overlapping = _overlapping(services, code, public)
    if not overlapping:
        return [], None
    try:
        body = await published_zones(services, "week", week)
    except HTTPException:
        return [], None
    zones = [z for z in body["zones"] or [] if z["code"] in overlapping]
    return sorted(zones, key=lambda z: z["name"]), week


def _overlapping(services: Services, code: str, zones: list[str]) -> set[str]:
    from shapely.geometry import shape

    outline = services.shapes.get("ward", code)
    if outline is None:
        return set()
    ward_shape = shape(outline)
    out = set()
    for zone_code in zones:
        geometry = services.zone_shapes.get(zone_code)
        if geometry is not None and ward_shape.intersection(shape(geometry)).area > 0:
            out.add(zone_code)
    return out


def _html(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers={
        "Cache-Control": "public, max-age=300" if status_code == 200 else "no-store",
        "Content-Security-Policy": PAGE_SECURITY_POLICY,
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    })  # fmt: skip
