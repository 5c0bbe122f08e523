"""``/api/v1/public``: the published view for residents; no key (SPEC publication rules).

Only complete local days and weeks that ended at least ``publish_delay`` ago, wards
and the zones the zones file marks ``public`` only, patrol time in whole hours, small
unit counts suppressed; never live figures, points, cells or roll-ups. The ward answers
are built from the stored hour snapshot through :func:`api.publication.public_ward`
(zones' through ``public_zone``), which copy only what may be published. A ward answer
is built once per stored hour and kept with it, with an entity tag: a browser or cache
that asks again gets a 304 until the hour is revised, and only once the period is
published. The figures are open data: CSV beside JSON and GeoJSON, every column
described at ``/public/fields``, and a licence and attribution on every answer
(:mod:`api.open_data`). The residents' pages (:mod:`api.routes.public_pages`) reuse
:func:`published_periods` and :func:`published_zones`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api import queries, zone_maps, zone_queries
from beatlight.api.deps import (
    FormatQuery,
    Services,
    ServicesDep,
    WithinCalendar,
    csv_response,
    document,
    geojson_response,
    json_response,
    session,
    stored_hour,
)
from beatlight.api.etags import entity_tag, not_modified
from beatlight.api.open_data import (
    PERIOD_COLUMNS,
    WARD_COLUMNS,
    ZONE_COLUMNS,
    csv_rows,
    csvw_metadata,
    link_header,
)
from beatlight.api.publication import (
    PERIOD_WINDOWS,
    Period,
    latest_published,
    period_end,
    period_start,
    public_ward,
    public_zone,
    published_until,
)
from beatlight.api.schemas import PublicPeriods, PublicVisibility, PublicZonesOut
from beatlight.api.snapshots import Document

router = APIRouter(prefix="/public", tags=["public"])

PeriodQuery = Annotated[Period, Query(description="A local calendar day or week (Mon-Sun).")]
DateQuery = Annotated[
    date | None,
    Query(description="The day, or the Monday of the week (default: the latest published)."),
    WithinCalendar,
]
_CACHE = {"Cache-Control": "public, max-age=300"}
_CSV = {200: {"content": {"application/json": {}, "text/csv": {}}}}


def _open(services: Services) -> dict[str, str]:
    """The headers of every published answer: caching, licence and field descriptions."""
    return {**_CACHE, "Link": link_header(services.settings.public_licence)}


def _credited(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the licence and the attribution re-users must give."""
    settings = services.settings
    return {**body, "licence": settings.public_licence,
            "attribution": settings.public_attribution}  # fmt: skip


def _csv(services: Services, name: str, body: dict[str, Any], key: str, columns: list) -> Response:
    header = [c[0] for c in PERIOD_COLUMNS + columns]
    response = csv_response(f"{name}-{body['period']}-{body['date']}", header,
                            csv_rows(body, key, columns))  # fmt: skip
    response.headers.update(_open(services))
    return response


@router.get("/periods", response_model=PublicPeriods, summary="What is published")
async def periods(services: ServicesDep) -> Response:
    """The published days and weeks (complete, past the delay, and stored), newest first,
    and the publication rules they follow."""
    days, weeks = await run_in_threadpool(published_periods, services)
    return json_response({"timezone": services.settings.timezone,
                          "publish_delay_hours": services.settings.publish_delay_hours,
                          "min_units": services.settings.public_min_units,
                          "days": days, "weeks": weeks}, **_open(services))  # fmt: skip


@router.get(
    "/visibility",
    response_model=PublicVisibility,
    summary="Published ward figures",
    responses={**_CSV, 404: {"description": "Not published (yet), or nothing stored."}},
)
async def visibility(request: Request, services: ServicesDep, period: PeriodQuery = "day",
                     date: DateQuery = None, format: FormatQuery = "json") -> Response:  # fmt: skip
    """Every ward's visible patrol over one complete day or week, in whole hours; as CSV
    with ``format=csv`` (its columns described at ``/api/v1/public/fields``)."""

    def build(body: dict[str, Any]) -> Response:
        if format == "csv":
            return _csv(services, "visibility", body, "wards", WARD_COLUMNS)
        return json_response(_credited(services, body))

    return await _published_answer(request, services, period, date, ("visibility", format),
                                   build)  # fmt: skip


@router.get("/geojson", summary="Published ward figures as GeoJSON",
            responses={200: {"content": {"application/geo+json": {}}},
                       404: {"description": "Not published (yet), or nothing stored."}},
)  # fmt: skip
async def public_geojson(request: Request, services: ServicesDep, period: PeriodQuery = "day",
                         date: DateQuery = None) -> Response:  # fmt: skip
    """One feature per ward with its outline and published figures."""

    def build(published: dict[str, Any]) -> Response:
        shapes = services.shapes.level("ward")
        features = [{"type": "Feature", "id": w["code"], "geometry": shapes.get(w["code"]),
                     "properties": w} for w in published.pop("wards")]  # fmt: skip
        body = {"type": "FeatureCollection", **_credited(services, published),
                "features": features}  # fmt: skip
        return geojson_response(body)

    return await _published_answer(request, services, period, date, ("geojson",), build)


@router.get(
    "/zones",
    response_model=PublicZonesOut,
    summary="Published figures of the public zones",
    responses={**_CSV, 404: {"description": "Not published (yet), or nothing stored."}},
)
async def public_zones(
    services: ServicesDep, period: PeriodQuery = "day", date: DateQuery = None,
    format: FormatQuery = "json",
) -> Response:  # fmt: skip
    """The zones marked public in the zones file, over one complete day or week, in whole
    hours, by the wards' rules; a zone not marked public never appears. CSV with
    ``format=csv``."""
    body = await published_zones(services, period, date)
    if body["zones"] is None:
        raise HTTPException(404, f"no zone figures are stored for the {period} of {body['date']}")
    if format == "csv":
        return _csv(services, "zones", body, "zones", ZONE_COLUMNS)
    return json_response(_credited(services, body), **_open(services))


@router.get("/fields", summary="What each published field means (CSV on the Web metadata)",
            responses={200: {"content": {"application/csvm+json": {}}}})  # fmt: skip
async def fields(services: ServicesDep) -> Response:
    """The public CSVs' columns, each with its datatype and meaning, and the figures'
    licence and attribution, as W3C CSV on the Web metadata."""
    settings = services.settings
    response = json_response(csvw_metadata(settings.public_licence, settings.public_attribution),
                             **_open(services))  # fmt: skip
    response.headers["Content-Type"] = "application/csvm+json"
    return response


@router.get(
    "/zones/geojson",
    summary="Published figures of the public zones as GeoJSON",
    responses={
        200: {"content": {"application/geo+json": {}}},
        404: {"description": "Not published (yet)."},
    },
)
async def public_zones_geojson(services: ServicesDep, period: PeriodQuery = "day",
                               date: DateQuery = None) -> Response:  # fmt: skip
    """One feature per public zone the zones file outlines, with its published figures, for
    the public map; no feature when no zone is public or none is stored for the period."""
    body = await published_zones(services, period, date)
    zones = body.pop("zones") or []
    members = _credited(services, body)
    return geojson_response(zone_maps.collection(zones, services.zone_shapes, **members),
                            **_open(services))  # fmt: skip


async def published_zones(services: Services, period: str, date: Any) -> dict[str, Any]:
    """The published figures of the public zones (``zones`` None when none are stored)."""
    first_day, end = await _publishable(services, period, date)
    public = sorted(c for c, meta in services.zone_meta.items() if meta["public"])
    found = await run_in_threadpool(_zone_windows, services, end, public)
    window = PERIOD_WINDOWS[period]  # type: ignore[index]
    minimum = services.settings.public_min_units
    zones = None if found is None else [
        public_zone(services.zone_meta[c], found[c][window], minimum)
        for c in public if window in found.get(c, {})]  # fmt: skip
    return {"period": period, "date": first_day,
            "start": period_start(period, first_day, services.zone),  # type: ignore[arg-type]
            "end": end, "timezone": services.settings.timezone, "zones": zones}  # fmt: skip


def _zone_windows(services: Services, end: Any, codes: list[str]) -> dict | None:
    """The windows of the zones ``codes`` at ``end`` (None when no zone's are stored)."""
    for opened in session(services):
        if not zone_queries.stored_at(opened, end):
            return None
        return zone_queries.zone_windows(opened, end, codes)[1]
    return None


async def _publishable(services: Services, period: str, first_day: date | None):  # noqa: ANN202
    """The day (or Monday) asked for, or the latest published, and when it ends; 404 while
    it is not published, 422 for a week not starting on a Monday."""
    zone, now, delay = services.zone, services.clock(), services.publish_delay
    if first_day is None:
        days, weeks = await run_in_threadpool(published_periods, services)
        newest = days if period == "day" else weeks
        if not newest:
            hours = services.settings.publish_delay_hours
            raise HTTPException(404, f"no {period} is published yet: figures appear once a "
                                     f"complete {period} is {hours:g} hours old")  # fmt: skip
        first_day = newest[0]
    if period == "week" and first_day.weekday() != 0:
        raise HTTPException(422, f"a week starts on a Monday; {first_day} is a "
                                 f"{first_day.strftime('%A')}")  # fmt: skip
    end = period_end(period, first_day, zone)  # type: ignore[arg-type]
    if end > published_until(now, delay):
        raise HTTPException(404, f"the {period} of {first_day} is not published yet: it will be "
                                 f"from {(end + delay).isoformat()}")  # fmt: skip
    return first_day, end


async def _published_answer(
    request: Request, services: Services, period: str, first_day: date | None,
    asked: tuple[str, ...], build: Any,
) -> Response:  # fmt: skip
    """The answer ``build`` makes of the published wards of a period, made once per stored
    hour and kept with it; a 304 when ``If-None-Match`` names it. Only a published period
    gets either: a 404 comes first, whatever the request holds."""
    first_day, end = await _publishable(services, period, first_day)
    try:
        hour = await stored_hour(services, end)
    except HTTPException:
        raise HTTPException(404, f"nothing is stored for the {period} of {first_day}") from None
    settings = services.settings
    # What else the bytes depend on: a restart with other rules or credits is another answer.
    edition = (settings.public_licence, settings.public_attribution, settings.public_min_units,
               settings.timezone)  # fmt: skip
    key = ("public", *asked, period, first_day, edition)
    etag = entity_tag(hour.tag, *key)
    if (unchanged := not_modified(request, etag)) is not None:
        unchanged.headers.update(_open(services))
        return unchanged
    doc = await document(services, end)
    made = doc.render(key, lambda: build(_published(services, doc, period, first_day, end)))
    headers = {k: v for k, v in made.headers.items() if k.lower() != "content-length"}
    response = Response(made.body, media_type=made.media_type, headers=headers)
    response.headers.update(_open(services))
    if etag is not None:
        response.headers["ETag"] = entity_tag(doc.tag, *key)  # type: ignore[assignment]
    return response


def _published(services: Services, doc: Document, period: str, first_day: date,
               end: datetime) -> dict[str, Any]:  # fmt: skip
    """The published figures of every ward over the period ending at ``end``."""
    window = PERIOD_WINDOWS[period]  # type: ignore[index]
    minimum = services.settings.public_min_units
    return {"period": period, "date": first_day,
            "start": period_start(period, first_day, services.zone),  # type: ignore[arg-type]
            "end": end, "timezone": services.settings.timezone,
            "wards": [public_ward(e, e["windows"][window], minimum)
                      for _, e in doc.level("ward")]}  # fmt: skip


def published_periods(services: Services) -> tuple[list[date], list[date]]:
    zone, now, delay = services.zone, services.clock(), services.publish_delay
    out: dict[str, list[date]] = {}
    for opened in session(services):
        first, _ = queries.hour_range(opened)
        for period in ("day", "week"):
            days: list[date] = []
            if first is not None:
                day = latest_published(period, now, delay, zone)  # type: ignore[arg-type]
                step = timedelta(days=1 if period == "day" else 7)
                while period_end(period, day, zone) >= first:  # type: ignore[arg-type]
                    days.append(day)
                    day -= step
                ends = [period_end(period, d, zone) for d in days]  # type: ignore[arg-type]
                stored = queries.stored_among(opened, ends)
                days = [d for d, e in zip(days, ends, strict=True) if e in stored]
            out[period] = days
    return out["day"], out["week"]
