"""``/maps/live``, ``/maps/coverage``, ``/maps/public``: the maps as pages, and their assets.

The pages are built by :mod:`maps.builders` and carry no figures: each fetches them
from ``/api/v1`` with the viewer's key (the public map with none). The inspector and
PCC maps need a key with their role (SPEC privacy: only inspectors see recent
points): a request with ``X-API-Key`` or ``Authorization: Bearer`` gets the map, or
401/403 like any route; a request with no key (a person opening the page in a
browser) gets the sign-in page, which fetches the map with the key it is given.

:func:`mount_assets` serves Leaflet (from the installed ``XStatic-Leaflet``) and
the maps' own scripts under ``/static``, so no map needs the internet (issue 5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from beatlight.api.deps import AsOfQuery, Services, ServicesDep, hour_boundary
from beatlight.configs import map_options
from beatlight.maps.assets import STATIC_PREFIX, asset_folders, content_security_policy
from beatlight.maps.builders import MapOptions, coverage_map, live_map, public_map
from beatlight.maps.signin import signin_page
from beatlight.windows import CoverageWindow, Window

__all__ = ["mount_assets", "router"]

# Pages for browsers, not API endpoints: documented in the README, not in OpenAPI.
router = APIRouter(prefix="/maps", tags=["maps"], include_in_schema=False)

_HTML = {200: {"content": {"text/html": {}}, "description": "The map page (HTML)."}}
_GATED = {
    **_HTML,
    401: {"description": "The key is not valid (unknown or revoked)."},
    403: {"description": "The key's role may not see this map."},
}


@router.get("/live", response_class=HTMLResponse, responses=_GATED,
            summary="The inspectors' live map")  # fmt: skip
async def live(
    request: Request,
    services: ServicesDep,
    window: Annotated[Window, Query(description="The window shown first.")] = "24h",
) -> HTMLResponse:
    """Wards coloured by attainment, presence points of the last 15 minutes, refreshed live.

    Role ``inspector``. Without a key, a sign-in page."""
    return await _gated(request, services, "Live visibility by ward", ("inspector",),
                        ("live", window), lambda o: live_map(o, window=window))  # fmt: skip


@router.get("/coverage", response_class=HTMLResponse, responses=_GATED,
            summary="The PCC office's coverage map")  # fmt: skip
async def coverage(
    request: Request,
    services: ServicesDep,
    window: Annotated[CoverageWindow, Query(description="The window shown first.")] = "7d",
    as_of: AsOfQuery = None,
) -> HTMLResponse:
    """Attainment over 7 or 28 days, wards missing their target weeks running, fairness.

    Role ``pcc`` or ``admin``. Without a key, a sign-in page. With ``as_of``, the stored
    hour, its wards whose figures were revised after first publication outlined; the page
    reads ``as_of`` from its own address, so one page serves every hour."""
    if as_of is not None:
        hour_boundary(as_of)  # a 422 saying why, before any page
    return await _gated(request, services, "Coverage against commitments", ("pcc", "admin"),
                        ("coverage", window), lambda o: coverage_map(o, window=window))  # fmt: skip


@router.get("/public", response_class=HTMLResponse, responses=_HTML,
            summary="The public map (no key)")  # fmt: skip
async def public(request: Request, services: ServicesDep) -> HTMLResponse:
    """The published days and weeks per ward, in plain words; nothing live."""
    return _page(request, services, ("public",), public_map)


def mount_assets(app: FastAPI) -> None:
    """Serve Leaflet and the maps' scripts and styles at ``/static/leaflet``, ``/static/maps``."""
    for name, folder in asset_folders().items():
        app.mount(f"{STATIC_PREFIX}/{name}", StaticFiles(directory=folder),
                  name=f"static-{name}")  # fmt: skip


async def _gated(
    request: Request,
    services: Services,
    title: str,
    roles: tuple[str, ...],
    key: tuple[str, ...],
    build: Callable[[MapOptions], str],
) -> HTMLResponse:
    presented = _presented(request)
    if presented is None:
        return _html(signin_page(title, " or ".join(roles)), services)
    authenticator = request.app.state.auth
    principal = await run_in_threadpool(authenticator.principal, presented)
    if principal is None:
        raise HTTPException(401, "this API key is not valid (unknown or revoked)",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    if principal.role not in roles:
        raise HTTPException(403, f"this map needs the role {' or '.join(roles)}; "
                                 f"this key has the role {principal.role}")  # fmt: skip
    return _page(request, services, key, build)


def _page(request: Request, services: Services, key: tuple[str, ...],
          build: Callable[[MapOptions], str]) -> HTMLResponse:  # fmt: skip
    # The pages depend on the settings only: build each once per app.
    pages = getattr(request.app.state, "map_pages", None)
    if pages is None:
        pages = request.app.state.map_pages = {}
    html = pages.get(key)
    if html is None:
        html = pages[key] = build(map_options(services.settings))
    return _html(html, services)


def _presented(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _html(html: str, services: Services) -> HTMLResponse:
    return HTMLResponse(html, headers={
        # The page differs by key (sign-in or map), and its figures are fetched fresh.
        "Cache-Control": "no-store",
        "Content-Security-Policy": content_security_policy(services.settings.tiles),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    })  # fmt: skip
