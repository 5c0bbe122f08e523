"""``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus), outside ``/api/v1`` and keyless.

They sit at the root, where orchestrators and Prometheus look for them (and
``/api/v1/metrics`` is the figures). ``/readyz`` says whether the API can answer
with current figures: the store answers, the materialiser reaches Kafka and is not
far behind.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from beatlight.api.db import StoreUnreachable, reachable
from beatlight.api.deps import ServicesDep, json_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The API can serve current figures",
    responses={503: {"description": "The store or Kafka is down, or the materialiser lags."}},
)
async def readyz(services: ServicesDep) -> Response:
    """200 when the store answers and the materialiser reaches Kafka with its lag below the
    bound, else 503."""
    problems: list[str] = []
    try:
        await run_in_threadpool(reachable, services.engine)
    except StoreUnreachable as error:
        problems.append(str(error))
    lag: dict[str, int | None] = {}
    if services.materialiser is not None:
        lag = services.materialiser.lag()
        bound = services.settings.ready_max_lag
        if services.materialiser.kafka_lost:
            problems.append(f"lost Kafka at {services.materialiser.config.bootstrap}; "
                            "reconnecting")  # fmt: skip
        elif not lag or any(v is None for v in lag.values()):
            problems.append("the materialiser has not reached Kafka yet")
        elif sum(v for v in lag.values() if v is not None) > bound:
            problems.append(f"the materialiser is {sum(lag.values())} records behind "  # type: ignore[arg-type]
                            f"(ready below {bound})")  # fmt: skip
    body = {"status": "not ready" if problems else "ready", "problems": problems, "lag": lag}
    return json_response(body, status_code=503 if problems else 200)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus(request: Request) -> Response:
    """The API's and the materialiser's metrics in the Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
