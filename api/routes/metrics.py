"""``/api/v1/metrics``, ``/fairness``, ``/report`` and ``/geojson``: snapshot figures.

All of them read one snapshot document (live, or the stored hour ``as_of``) and keep
what they rendered from it, so a busy endpoint costs a cache lookup per request.
``/report?format=html`` is the PCC report (:mod:`reports`): it also reads the stored
documents at the local midnights of its period, for trends.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api import queries
from beatlight.api.auth import requires
from beatlight.api.compression import accepts_gzip
from beatlight.api.deps import (
    AsOfQuery,
    FormatQuery,
    Services,
    ServicesDep,
    WithinCalendar,
    csv_response,
    document,
    gzip_response,
    json_response,
    quoted,
    session,
    snapshot_tag,
    stored_answer,
    stored_hour,
)
from beatlight.api.documents import report_document_at
from beatlight.api.etags import entity_tag, not_modified, tagged
from beatlight.api.renders import area_figures, metrics_body, revision_of
from beatlight.api.schemas import AreaMetrics, FairnessResponse, Level, MetricsResponse
from beatlight.api.snapshots import Document
from beatlight.configs import method
from beatlight.reports import (
    BOUNDARY_ATTRIBUTION,
    CONTENT_SECURITY_POLICY,
    MAX_PERIOD_DAYS,
    SYNTHETIC_ATTRIBUTION,
    build_report,
    daily_boundaries,
)
from beatlight.streams.report import CSV_COLUMNS, METRICS, csv_rows
from beatlight.windows import WINDOWS, Window

router = APIRouter(tags=["metrics"], dependencies=[requires("inspector", "pcc", "admin")])
reports = APIRouter(tags=["report"], dependencies=[requires("pcc", "admin")])

LevelQuery = Annotated[Level | None, Query(description="Only this level (default: all).")]
ReportFormatQuery = Annotated[
    str, Query(pattern="^(json|csv|html)$",
               description="json, csv for a spreadsheet, or html for the printable PCC report.")
]  # fmt: skip
PeriodDaysQuery = Annotated[
    int, Query(ge=1, le=MAX_PERIOD_DAYS,
               description="format=html: days of daily trends up to as_of (local midnights). "
               "The headline figures use the 24h window, 7d from 7 days, 28d from 28.")
]  # fmt: skip
WindowQuery = Annotated[Window | None, Query(description="Only this window (default: all).")]


@router.get("/metrics", response_model=MetricsResponse, summary="Figures of every area")
async def all_metrics(
    request: Request,
    as_of: AsOfQuery = None,
    level: LevelQuery = None,
    window: WindowQuery = None,
    format: FormatQuery = "json",
) -> Response:
    """Live figures of every area (or one level), or those stored at the hour ``as_of``."""
    # The busiest route: its services straight from the app, not as one more dependency
    # to solve on every request (ServicesDep).
    services: Services = request.app.state.services
    asked = ("metrics", level, window, format)
    if as_of is not None:  # a stored hour: its answer as stored, or its document
        hour = await stored_hour(services, as_of)
        etag = entity_tag(hour.tag, *asked)
        if (unchanged := not_modified(request, etag)) is not None:
            return unchanged
        stored = None if format != "json" else await stored_answer(services, hour, level,
                                                                   window)  # fmt: skip
        if stored is not None:
            if accepts_gzip(request.scope):
                return gzip_response(stored, "application/json", etag)
            # Unpacking the answer costs far less than parsing the hour's whole document.
            body = await run_in_threadpool(gzip.decompress, stored)
            return json_response(body, ETag=etag) if etag else json_response(body)
    doc = await document(services, as_of)
    etag = doc.render(("etag", *asked), lambda: entity_tag(doc.tag, *asked))
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    if format == "csv":
        rows = doc.render(("metrics.csv", level, window), lambda: _csv_rows(doc, level, window))
        return tagged(csv_response("metrics", ("level", "code", "name", "window", *METRICS),
                                   rows), etag)  # fmt: skip
    body = doc.render(("metrics", level, window), lambda: metrics_body(doc, level, window))
    return json_response(body, ETag=etag) if etag else json_response(body)


@router.get("/metrics/{code}", response_model=AreaMetrics, summary="Figures of one area",
            responses={404: {"description": "No such area, or no such snapshot."}})  # fmt: skip
async def area_metrics(
    request: Request,
    services: ServicesDep,
    code: str,
    as_of: AsOfQuery = None,
    level: Annotated[Level, Query(description="The area's level.")] = "ward",
    window: WindowQuery = None,
) -> Response:
    """One area's live figures, or those stored at the hour ``as_of``."""
    doc = await document(services, as_of)
    entry = doc.entries.get((level, code))
    if entry is None:
        raise HTTPException(404, f"no {level} has the code {quoted(code)}")
    etag = entity_tag(doc.tag, "area", level, code, window)
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    body = doc.render(("area", level, code, window),
                      lambda: orjson.dumps(area_figures(level, entry, window)))  # fmt: skip
    return tagged(json_response(body), etag)


@router.get("/fairness", response_model=FairnessResponse, summary="Fairness across wards")
async def fairness(
    request: Request, services: ServicesDep, as_of: AsOfQuery = None,
    window: WindowQuery = None,
) -> Response:  # fmt: skip
    """SPEC rule 12 per window: how evenly patrol time is spread over wards and residents."""
    etag = entity_tag(await snapshot_tag(services, as_of), "fairness", window)
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    doc = await document(services, as_of)
    windows = {w: f for w, f in doc.body["fairness"].items() if window in (None, w)}
    return tagged(
        json_response({"as_of": doc.body["as_of"], "live": doc.live, "windows": windows}),
        entity_tag(doc.tag, "fairness", window),
    )


@router.get("/geojson", summary="Areas with their figures as GeoJSON",
            response_description="A GeoJSON FeatureCollection (RFC 7946), WGS84.",
            responses={200: {"content": {"application/geo+json": {}}}})  # fmt: skip
async def geojson(
    request: Request,
    services: ServicesDep,
    as_of: AsOfQuery = None,
    level: Annotated[Level, Query(description="Which areas.")] = "ward",
    window: Annotated[Window, Query(description="Which window's figures.")] = "24h",
) -> Response:
    """One feature per area: its outline and its figures in one window (for maps and GIS)."""
    asked = ("geojson", level, window)
    etag = entity_tag(await snapshot_tag(services, as_of), *asked)
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    doc = await document(services, as_of)
    body = doc.render(asked, lambda: orjson.dumps(_features(services, doc, level, window)))
    return tagged(
        Response(body, media_type="application/geo+json"),
        doc.render(("etag", *asked), lambda: entity_tag(doc.tag, *asked)),
    )


@reports.get("/report", summary="The batch report's document at an hour boundary",
             responses={404: {"description": "No snapshot is stored at that hour."},
                        200: {"content": {"application/json": {}, "text/csv": {},
                                          "text/html": {}}}})  # fmt: skip
async def report(
    request: Request,
    services: ServicesDep,
    as_of: Annotated[
        datetime,
        Query(
            description="An hour boundary, e.g. 2026-11-23T06:00:00Z.",
            examples=["2026-11-23T06:00:00Z"],
        ),
        WithinCalendar,
    ],  # fmt: skip
    format: ReportFormatQuery = "json",
    period_days: PeriodDaysQuery = 7,
) -> Response:
    """Exactly ``beatlight report --as-of H`` on the same events (SPEC "Batch report contract");
    ``format=html``: the printable PCC report, as ``beatlight report --format html``."""
    # The HTML report also reads the other days of its period: it has no tag of its own.
    etag = None if format == "html" else entity_tag(
        (await stored_hour(services, as_of)).tag, "report", format)  # fmt: skip
    if (unchanged := not_modified(request, etag)) is not None:
        return unchanged
    doc = await document(services, as_of)
    etag = None if format == "html" else entity_tag(doc.tag, "report", format)
    if format == "csv":
        rows = [[row[c] for c in CSV_COLUMNS] for row in csv_rows(doc.body)]
        return tagged(csv_response(f"beatlight-report-{doc.body['as_of']}", CSV_COLUMNS, rows),
                      etag)  # fmt: skip
    if format == "html":
        body = await run_in_threadpool(_pcc_report, services, doc, period_days)
        return Response(body, media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        })  # fmt: skip
    return tagged(json_response(doc.render("report", lambda: orjson.dumps(doc.body))), etag)


def _pcc_report(services: Services, doc: Document, period_days: int) -> bytes:
    """The PCC report at the document's hour, with the stored days of its period."""

    def build() -> bytes:
        ends = daily_boundaries(doc.as_of, period_days, services.zone)
        history: list[dict[str, Any]] = []
        for opened in session(services):
            for end in sorted(queries.stored_among(opened, ends)):
                found = doc.body if end == doc.as_of else report_document_at(opened, end)
                if found is not None:
                    history.append(found)
        boundaries = services.settings.boundaries
        return build_report(
            doc.body, history=history, outlines=services.shapes.level("ward"),
            district_outlines=services.shapes.level("district"), period_days=period_days,
            zone=services.zone, method=method(services.settings),
            attribution=SYNTHETIC_ATTRIBUTION if boundaries is None else BOUNDARY_ATTRIBUTION,
        ).encode()  # fmt: skip

    return doc.render(("report.html", period_days), build)


def _csv_rows(doc: Document, level: str | None, window: str | None) -> list[list[Any]]:
    return [[lv, e["code"], e["name"], w, *(e["windows"][w][m] for m in METRICS)]
            for lv, e in doc.level(level) for w in WINDOWS
            if window in (None, w) and w in e["windows"]]  # fmt: skip


def _features(services: Any, doc: Document, level: str, window: str) -> dict[str, Any]:
    shapes = services.shapes.level(level)
    features = []
    for _, entry in doc.level(level):
        figures = entry["windows"][window]
        features.append({
            "type": "Feature", "id": entry["code"], "geometry": shapes.get(entry["code"]),
            "properties": {"level": level, "code": entry["code"], "name": entry["name"],
                           "window": window, **figures, **revision_of(entry)},
        })  # fmt: skip
    return {"type": "FeatureCollection", "as_of": doc.body["as_of"], "live": doc.live,
            **revision_of(doc.body), "features": features}  # fmt: skip
