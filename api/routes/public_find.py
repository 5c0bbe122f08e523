"""``/api/v1/public/wards`` and ``/public/postcode``: how residents find their ward.

The wards' names and neighbourhoods (no figures) let the public map match what a
resident types in the browser, and "Use my location" is matched to a ward in the
browser too, against the outlines the map already has: no coordinate reaches the
server. A postcode is the one thing sent, and only when a postcode file is set
(``BEATLIGHT_POSTCODE_FILE``): in a POST body, so that it is in no URL, access log or
proxy log, and nothing here logs it.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from beatlight.api.deps import ServicesDep, json_response
from beatlight.api.gazetteer import gazetteer
from beatlight.api.schemas import PublicPlaces, PublicPostcodeWard

__all__ = ["router"]

router = APIRouter(prefix="/public", tags=["public"])


class PostcodeQuery(BaseModel):
    """A postcode to look up (any spacing or case)."""

    postcode: str = Field(min_length=1, max_length=16, examples=["ST1 1AA"])


@router.get("/wards", response_model=PublicPlaces, summary="Wards and neighbourhoods by name")
async def wards(services: ServicesDep) -> Response:
    """Every ward's code, name and neighbourhood, to find a ward by name; no figures.
    ``postcodes`` says whether ``POST /api/v1/public/postcode`` can answer."""
    places = gazetteer(services.shapes.geography)
    return json_response({"postcodes": services.postcodes is not None,
                          "wards": [p.as_dict() for p in places.values()]},
                         **{"Cache-Control": "public, max-age=3600"})  # fmt: skip


@router.post(
    "/postcode",
    response_model=PublicPostcodeWard,
    summary="The ward of a postcode",
    responses={404: {"description": "No postcode file is set, or no ward has this postcode."}},
)
async def postcode(services: ServicesDep, query: PostcodeQuery) -> Response:
    """The ward a postcode is in, from the postcode file the force set. The postcode goes
    in the body, never the URL, and is not logged or kept."""
    if services.postcodes is None:
        raise HTTPException(404, "postcode search is not set up here: search by the name "
                                 "of your ward or neighbourhood instead")  # fmt: skip
    code = services.postcodes.ward(query.postcode)
    if code is None:
        raise HTTPException(404, "no ward here has that postcode: check it, or search by "
                                 "the name of your ward or neighbourhood")  # fmt: skip
    place = gazetteer(services.shapes.geography)[code]
    return json_response({"ward": place.as_dict()}, **{"Cache-Control": "no-store"})
