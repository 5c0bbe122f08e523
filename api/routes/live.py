"""``/api/v1/live/points``: recent presence points, for inspectors only (SPEC privacy).

The last ``points_minutes`` (15) of accepted pings inside the force area, as the
worker published them: time, position, ward and mode; never a unit pseudonym. The
points are held in memory only and never stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from api.auth import requires
from api.deps import ServicesDep, json_response
from api.points import feature_collection

router = APIRouter(prefix="/live", tags=["live"], dependencies=[requires("inspector")])


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
    ward: Annotated[str | None, Query(description="Only this ward's points.")] = None,
) -> Response:
    """A GeoJSON FeatureCollection of points: ``ts``, ``ward`` and ``mode``, oldest first."""
    if services.points is None:
        raise HTTPException(503, "recent points need Kafka: start the API with --bootstrap")
    response = json_response(feature_collection(services.points.recent(ward)),
                             **{"Cache-Control": "no-store"})  # fmt: skip
    response.headers["Content-Type"] = "application/geo+json"
    return response
