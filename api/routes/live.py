"""``/api/v1/live/points``: recent presence points, for inspectors only (SPEC privacy).

The last ``points_minutes`` (15) of accepted pings inside the force area, as the
worker published them: time, position, ward and mode; never a unit pseudonym. The
points are held in memory only and never stored; each read of them is recorded
(:mod:`api.audit`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api.auth import Principal, requires
from beatlight.api.deps import ServicesDep, json_response, quoted
from beatlight.api.points import feature_collection

router = APIRouter(prefix="/live", tags=["live"])


@router.get(
    "/points",
    summary="Presence points of the last 15 minutes",
    responses={
        200: {"content": {"application/geo+json": {}}},
        503: {"description": "This API does not read Kafka."},
    },
)
async def points(
    services: ServicesDep,
    principal: Annotated[Principal, requires("inspector")],
    ward: Annotated[
        str | None, Query(max_length=64, description="Only this ward's points.")
    ] = None,
) -> Response:
    """A GeoJSON FeatureCollection of points: ``ts``, ``ward`` and ``mode``, oldest first.

    Each answer is recorded in the live audit (time, key prefix, role and ``ward``; never
    the points), which ``admin`` keys read at ``/api/v1/audit``."""
    if services.points is None:
        raise HTTPException(503, "recent points need Kafka: start the API with --bootstrap")
    # Only a ward of the boundaries is recorded: the audit never holds text a reader made up.
    if ward is not None and ward not in services.ward_codes:
        raise HTTPException(404, f"no ward has the code {quoted(ward)}")
    # Recorded before the points leave: a read that cannot be recorded is not served.
    await run_in_threadpool(services.audit.record, principal.prefix, principal.role, ward)
    response = json_response(feature_collection(services.points.recent(ward)),
                             **{"Cache-Control": "no-store"})  # fmt: skip
    response.headers["Content-Type"] = "application/geo+json"
    return response
