"""The FastAPI application: gathers the routers and turns failures into clear responses.

:func:`create_app` wires real adapters passed in by the composition root
(``beatlight api``) or by tests: the store's engine, the geography for outlines, an
optional materialiser and recent-points reader (both need Kafka), and a clock.
Failures users can cause are 4xx with a message; a store that is down is a 503; any
other failure is a 500 with a reference to the log line, never a stack trace.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from beatlight.api.audit import AuditTrail
from beatlight.api.auth import Authenticator, document_keys
from beatlight.api.compression import Precompressed
from beatlight.api.db import StoreUnreachable, display_url
from beatlight.api.deps import Services, json_response
from beatlight.api.headers import SecurityHeaders
from beatlight.api.limits import install_limits
from beatlight.api.proxies import ProxyClient, TrustedProxies
from beatlight.api.routes import (
    alerts,
    areas,
    audit,
    docs,
    health,
    history,
    live,
    maps,
    metrics,
    public,
    public_find,
    public_pages,
    zones,
)
from beatlight.api.shapes import AreaShapes
from beatlight.api.snapshots import Snapshots
from beatlight.api.zone_maps import zone_outlines
from beatlight.api.zone_queries import zone_metadata
from beatlight.errors import BeatlightError
from beatlight.geo.geography import Geography
from beatlight.settings import Settings

__all__ = ["API_PREFIX", "create_app"]

log = logging.getLogger("beatlight.api")

API_PREFIX = "/api/v1"

_DESCRIPTION = """
Beatlight shows whether visible neighbourhood policing is being maintained, ward by ward.

* **Inspectors** (key role `inspector`): live figures, alerts and the last 15 minutes of
  presence points.
* **The PCC's office** (`pcc`): coverage against commitments over time, fairness, the report.
* **Residents** (no key): `/api/v1/public/...`, complete days and weeks published after a
  delay, per ward, in whole hours (JSON, GeoJSON or CSV); each ward's page at
  `/public/wards/{code}`.

Send a key in the `X-API-Key` header or as `Authorization: Bearer <key>`; create one with
`beatlight keys create --role inspector`. Figures follow the SPEC's definitions; every
time is UTC (RFC 3339) and every window ends at `as_of`, exclusive.
"""


def create_app(
    settings: Settings,
    engine: Engine,
    geography: Geography,
    *,
    clock: Callable[[], datetime] | None = None,
    materialiser: Any = None,
    points: Any = None,
    registry: CollectorRegistry | None = None,
    zone_file: Any = None,
) -> FastAPI:
    """The API over the store at ``engine``; starts ``materialiser``/``points`` with it.

    ``zone_file``: the :class:`~beatlight.geo.zones.Zones` of the zones file, which says
    which zones are public and what they are committed to."""
    registry = registry if registry is not None else CollectorRegistry()
    services = Services(
        settings=settings,
        engine=engine,
        snapshots=Snapshots(engine, live_ttl=settings.live_cache_seconds),
        shapes=AreaShapes(geography),
        zone=ZoneInfo(settings.timezone),
        clock=clock or (lambda: datetime.now(UTC)),
        points=points,
        materialiser=materialiser,
    )
    services.zone_meta = zone_metadata(zone_file)
    services.zone_shapes = zone_outlines(zone_file)
    services.audit = AuditTrail(engine, settings.audit_retention_days, services.clock)
    if settings.postcode_file is not None:
        from beatlight.geo.postcodes import load_postcodes

        services.postcodes = load_postcodes(settings.postcode_file, geography)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        runner = None
        if materialiser is not None:
            runner = threading.Thread(target=materialiser.run, args=(stop,),
                                      name="beatlight-materialise", daemon=True)  # fmt: skip
            runner.start()
        if points is not None:
            points.start()
        try:
            services.audit.prune()
        except (StoreUnreachable, DBAPIError) as error:  # pruned with the next read recorded
            log.warning("could not prune the live audit: %s", error)
        log.info("API ready: store %s, %d wards", display_url(engine.url),
                 geography.areas.n_wards)  # fmt: skip
        try:
            yield
        finally:
            stop.set()
            if points is not None:
                points.close()
            if runner is not None:
                runner.join(timeout=15)

    app = FastAPI(
        title="Beatlight",
        version="1",
        summary="Visible neighbourhood policing, ward by ward.",
        description=_DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's pages load their scripts from a CDN: api.routes.docs serves them offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.registry = registry
    app.state.auth = Authenticator(engine, cache_seconds=settings.auth_cache_seconds)
    for router in (areas.router, metrics.router, metrics.reports, history.router,
                   alerts.router, live.router, audit.router, public.router, public_find.router,
                   zones.router,
                   zones.returns_router):  # fmt: skip
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(maps.router)
    app.include_router(public_pages.router)
    app.include_router(docs.router)
    maps.mount_assets(app)
    docs.mount_docs_assets(app)
    _handle_errors(app)
    _document_errors(app)
    _count_requests(app, registry)
    install_limits(app, max_request_bytes=settings.max_request_bytes,
                   rate_per_minute=settings.rate_limit_per_minute,
                   burst=settings.rate_limit_burst, verified=app.state.auth.bucket)  # fmt: skip
    # Snapshot renders of England's wards are megabytes: gzip them once, not per request.
    app.add_middleware(Precompressed)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["X-API-Key", "Authorization"],
        )
    app.add_middleware(SecurityHeaders)  # last added, so outermost: every answer
    # Outermost of all: the rate limit and the access log count the client it names.
    app.add_middleware(ProxyClient, trusted=TrustedProxies(settings.trusted_proxies))
    return app


def _handle_errors(app: FastAPI) -> None:
    async def unavailable(request: Request, error: Exception) -> Response:
        log.warning("store unavailable for %s: %s", request.url.path, _first_line(error))
        return json_response({"detail": "the store is unavailable; try again shortly"},
                             status_code=503, **{"Retry-After": "5"})  # fmt: skip

    async def user_error(request: Request, error: Exception) -> Response:
        return json_response({"detail": str(error)}, status_code=400)

    async def validation(request: Request, error: Exception) -> Response:
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                     "type": e.get("type", "")}
                    for e in error.errors()]  # type: ignore[attr-defined]  # fmt: skip
        what = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)
        return json_response({"detail": what or "invalid request", "errors": problems},
                             status_code=422)  # fmt: skip

    async def failure(request: Request, error: Exception) -> Response:
        reference = uuid.uuid4().hex[:12]
        log.exception("request %s %s failed (reference %s)", request.method, request.url.path,
                      reference)  # fmt: skip
        return json_response({"detail": f"internal error (reference {reference})"},
                             status_code=500)  # fmt: skip

    # A pool timeout: every connection busy (a whole country's uncached hours, say). The
    # store is there but cannot answer now: 503 and Retry-After, as for one that is down.
    for kind in (StoreUnreachable, OperationalError, DBAPIError, PoolTimeout):
        app.add_exception_handler(kind, unavailable)
    app.add_exception_handler(BeatlightError, user_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(Exception, failure)


def _document_errors(app: FastAPI) -> None:
    """Declare the 422 answers as :func:`_handle_errors` sends them (``detail`` a sentence,
    ``errors`` the parameters), and the keys the routes read (:func:`api.auth.document_keys`)."""
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    from beatlight.api.schemas import ValidationProblem

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                   description=app.description, routes=app.routes)  # fmt: skip
            refs = "#/components/schemas/{model}"
            _, schemas = models_json_schema([(ValidationProblem, "validation")],
                                            ref_template=refs)  # fmt: skip
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(schemas["$defs"])
            problem = {"$ref": "#/components/schemas/ValidationProblem"}
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    answer = operation.get("responses", {}).get("422")
                    if answer is not None:
                        answer["content"] = {"application/json": {"schema": problem}}
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            document_keys(document, app.routes)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _count_requests(app: FastAPI, registry: CollectorRegistry) -> None:
    requests = Counter("beatlight_api_requests", "API requests by route and status.",
                       ["route", "status"], registry=registry)  # fmt: skip
    seconds = Histogram("beatlight_api_request_seconds", "API request latency by route.",
                        ["route"], registry=registry,
                        buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))  # fmt: skip

    app.add_middleware(_Measure, requests=requests, seconds=seconds)


class _Measure:
    """Counts requests and their latency by route template (pure ASGI: cheap per request)."""

    def __init__(self, app: Any, *, requests: Counter, seconds: Histogram) -> None:
        self.app, self.requests, self.seconds = app, requests, seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            name = _template(scope)
            self.requests.labels(name, str(status[0])).inc()
            self.seconds.labels(name).observe(time.perf_counter() - started)


def _template(scope: Any) -> str:
    """The request's path with its parameters as ``{name}`` (bounded label values)."""
    if scope.get("route") is None:
        return "unmatched"
    path = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}")
    return path


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
