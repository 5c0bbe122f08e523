"""``/api/v1/history``: one metric of one area over time, from the hourly snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api import queries
from beatlight.api.auth import requires
from beatlight.api.deps import (
    FormatQuery,
    Services,
    ServicesDep,
    WithinCalendar,
    csv_response,
    hour_boundary,
    json_response,
    quoted,
    session,
)
from beatlight.api.publication import samples
from beatlight.api.schemas import HistoryResponse, Level, MetricName
from beatlight.windows import Window

router = APIRouter(prefix="/history", tags=["history"],
                   dependencies=[requires("inspector", "pcc", "admin")])  # fmt: skip

#: The longest series one request may ask for, per resolution.
MAX_SPAN = {"hourly": timedelta(days=92), "daily": timedelta(days=1100),
            "weekly": timedelta(days=3700)}  # fmt: skip


@router.get("/{code}", response_model=HistoryResponse, summary="A metric over time",
            responses={404: {"description": "No area has this code."}})  # fmt: skip
async def history(
    services: ServicesDep,
    code: str,
    level: Annotated[Level, Query(description="The area's level.")] = "ward",
    metric: Annotated[MetricName, Query(description="Which figure.")] = "patrol_minutes",
    window: Annotated[
        Window,
        Query(
            description="The rolling window ending at each point "
            "(24h with daily gives each day's total)."
        ),
    ] = "24h",
    start: Annotated[
        datetime | None,
        Query(description="First time, with a time zone (default: 7 days before end)."),
        WithinCalendar,
    ] = None,
    end: Annotated[
        datetime | None,
        Query(description="Last time, with a time zone (default: the latest stored hour)."),
        WithinCalendar,
    ] = None,
    resolution: Annotated[
        Literal["hourly", "daily", "weekly"],
        Query(description="Every stored hour, local midnights, or local Monday midnights."),
    ] = "hourly",
    format: FormatQuery = "json",
) -> HistoryResponse | Response:
    """The metric in the window ending at each hour, local day or local week boundary, and
    the points whose figures changed after they were first published (late uploads)."""
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(422, f"{name} needs a time zone, e.g. 2026-11-23T06:00:00Z")
    if start is not None and end is not None and start > end:
        raise HTTPException(422, "start is after end")
    if start is not None and end is not None and end - start > MAX_SPAN[resolution]:
        raise HTTPException(422, f"{resolution} series are limited to "
                                 f"{MAX_SPAN[resolution].days} days per request")  # fmt: skip
    found = await run_in_threadpool(_series, services, level, code, window, metric, start, end,
                                    resolution)  # fmt: skip
    if found is None:
        raise HTTPException(404, f"no {level} has the code {quoted(code)}")
    points, revised = found
    if format == "csv":
        return csv_response(f"{code}-{metric}-{window}-{resolution}", ("as_of", metric), points)
    # Rendered directly (the shape is HistoryResponse): a month hourly is 672 points.
    return json_response({
        "level": level, "code": code, "metric": metric, "window": window,
        "resolution": resolution, "timezone": services.settings.timezone,
        "points": [{"as_of": t, "value": v} for t, v in points],
        "revisions": [{"as_of": t, "revision": n, "revised_at": at, "first_published_at": first}
                      for t, n, at, first in revised],
    })  # fmt: skip


def _series(
    services: Services,
    level: str,
    code: str,
    window: str,
    metric: str,
    start: datetime | None,
    end: datetime | None,
    resolution: str,
):  # noqa: ANN202
    for opened in session(services):
        if end is None:
            end = queries.hour_range(opened)[1] or services.clock()
        if start is None:
            start = end - timedelta(days=7)
        hours = samples(start, end, resolution, services.zone)
        if hours is not None:
            hours = [hour_boundary(h) for h in hours]
        found = queries.series(opened, level, code, window, metric, start, end, hours)
        # An area with figures exists: only an empty series asks (a round trip fewer).
        if not found[0] and not queries.exists(opened, level, code):
            return None
        return found
    return None
