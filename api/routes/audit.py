"""``/api/v1/audit``: who read the recent presence points, for ``admin`` keys only.

The record :mod:`api.audit` keeps of every read of ``/api/v1/live/points`` (the
inspectors' live map included): time, key prefix, role and ward; never the points.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api.audit import COLUMNS
from beatlight.api.auth import requires
from beatlight.api.deps import FormatQuery, ServicesDep, WithinCalendar, csv_response, json_response
from beatlight.api.schemas import AuditResponse

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[requires("admin")])

#: The most entries one page may hold.
MAX_PAGE = 1000

_Time = Annotated[datetime | None, WithinCalendar]


@router.get("", response_model=AuditResponse, summary="Who read the recent presence points")
async def audit(
    services: ServicesDep,
    since: Annotated[
        _Time,
        Query(
            alias="from",
            description="First time, with a time zone (default: the retention's start).",
            examples=["2026-11-23T00:00:00Z"],
        ),
    ] = None,  # fmt: skip
    until: Annotated[
        _Time, Query(alias="to", description="Up to this time (exclusive), with a time zone.")
    ] = None,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=2**62,
            description="Entries after this id (paging: the last page's next_after).",
        ),
    ] = 0,  # fmt: skip
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Most entries a page holds.")] = 100,
    format: FormatQuery = "json",
) -> AuditResponse | Response:
    """Every read of ``/api/v1/live/points`` in the period, oldest first: time, key prefix,
    role and the ward asked for. Kept ``BEATLIGHT_AUDIT_RETENTION_DAYS`` (90) days.
    As CSV, the next page's ``after`` is in the ``X-Next-After`` header."""
    for name, moment in (("from", since), ("to", until)):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(422, f"{name} needs a time zone, e.g. 2026-11-23T06:00:00Z")
    page = await run_in_threadpool(services.audit.page, since=since, until=until, after=after,
                                   limit=limit)  # fmt: skip
    if format == "csv":
        answer = csv_response("beatlight-live-audit", COLUMNS, (e.row() for e in page.entries))
        if page.next_after is not None:  # the CSV has no room for it: a header says it
            answer.headers["X-Next-After"] = str(page.next_after)
        return answer
    return json_response({"retention_days": services.settings.audit_retention_days,
                          "entries": [e.as_dict() for e in page.entries],
                          "next_after": page.next_after})  # fmt: skip
