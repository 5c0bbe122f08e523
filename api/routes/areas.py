"""``/api/v1/areas``: wards and roll-ups with their attributes (SPEC rule 13)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api import queries
from beatlight.api.auth import requires
from beatlight.api.deps import FormatQuery, ServicesDep, csv_response, quoted, session
from beatlight.api.schemas import AreaOut, Level

router = APIRouter(prefix="/areas", tags=["areas"],
                   dependencies=[requires("inspector", "pcc", "admin")])  # fmt: skip

_FIELDS = tuple(AreaOut.model_fields)


@router.get("", response_model=list[AreaOut], summary="List wards and roll-ups")
async def list_areas(
    services: ServicesDep,
    level: Annotated[Level | None, Query(description="Only this level.")] = None,
    format: FormatQuery = "json",
) -> list[AreaOut] | Response:
    """Every ward, neighbourhood, district and the force area (or one level), by code."""
    rows = await run_in_threadpool(_areas, services, level, None)
    if format == "csv":
        return csv_response("areas", _FIELDS, ([_cell(getattr(a, f)) for f in _FIELDS]
                                               for a in rows))  # fmt: skip
    return rows


@router.get("/{code}", response_model=AreaOut, summary="One area",
            responses={404: {"description": "No area has this code."}})  # fmt: skip
async def get_area(
    services: ServicesDep,
    code: str,
    level: Annotated[
        Level | None,
        Query(description="Which level, when a ward is its own neighbourhood (default: the ward)."),
    ] = None,
) -> AreaOut:
    """One area's attributes; a roll-up lists its wards."""
    rows = await run_in_threadpool(_areas, services, level, code)
    if not rows:
        where = f" at level {level}" if level else ""
        raise HTTPException(404, f"no area has the code {quoted(code)}{where}")
    return rows[0]


def _areas(services, level: str | None, code: str | None) -> list[AreaOut]:  # noqa: ANN001
    for opened in session(services):
        return [AreaOut.model_validate(a, from_attributes=True)
                for a in queries.areas(opened, level, code)]  # fmt: skip
    return []


def _cell(value: object) -> object:
    return " ".join(value) if isinstance(value, list) else value
