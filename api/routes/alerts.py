"""``/api/v1/alerts``: areas that need attention now, and wards missing their target for weeks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from beatlight.api import queries
from beatlight.api.auth import requires
from beatlight.api.deps import Services, ServicesDep, WithinCalendar, session
from beatlight.api.publication import local_midnight
from beatlight.api.schemas import AlertsResponse, Level, RaisedAlert
from beatlight.api.snapshots import Document

router = APIRouter(prefix="/alerts", tags=["alerts"],
                   dependencies=[requires("inspector", "pcc", "admin")])  # fmt: skip


@router.get("", response_model=AlertsResponse, summary="Where visibility is missing")
async def alerts(
    services: ServicesDep,
    level: Annotated[Level, Query(description="Which areas' current status.")] = "ward",
    weeks: Annotated[
        int,
        Query(
            ge=1,
            le=52,
            description="Wards that missed their weekly "
            "target in each of the last N complete weeks.",
        ),
    ] = 2,
    since: Annotated[
        datetime | None,
        Query(description="Raised alerts from this time (default: the last 24 hours)."),
        WithinCalendar,
    ] = None,
) -> AlertsResponse:
    """Areas whose status in the alert window is ``red`` or ``none`` in the live snapshot,
    wards that missed their weekly target N weeks running, and recently raised alerts."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since needs a time zone, e.g. 2026-11-23T06:00:00Z")
    window = services.settings.alert_window
    live = await run_in_threadpool(services.snapshots.live)
    current = [] if live is None else _current(live, level, window)
    missed, raised = await run_in_threadpool(_stored, services, weeks, since)
    return AlertsResponse(as_of=live.as_of if live else None, window=window, current=current,
                          weeks=weeks, missed_weekly_target=missed, raised=raised)  # fmt: skip


def _current(doc: Document, level: str, window: str) -> list[dict]:
    out = []
    for lv, entry in doc.level(level):
        figures = entry["windows"].get(window)
        if figures is not None and figures["status"] in ("red", "none"):
            out.append({"level": lv, "code": entry["code"], "name": entry["name"],
                        "window": window, **{k: figures[k] for k in (
                            "status", "patrol_minutes", "target_minutes", "attainment",
                            "last_seen")}})  # fmt: skip
    return out


def _stored(services: Services, weeks: int, since: datetime | None):  # noqa: ANN202
    now = services.clock()
    for opened in session(services):
        # Complete local weeks end at Monday midnights: this week's, then earlier ones.
        today = now.astimezone(services.zone).date()
        monday = today - timedelta(days=today.weekday())
        ends = [local_midnight(monday - timedelta(weeks=k), services.zone) for k in range(weeks)]
        figures = queries.weekly_figures(opened, ends)
        names = {a.code: a.name for a in queries.areas(opened, "ward")}
        missed = []
        for code, rows in figures.items():
            if len(rows) == weeks and all(a is not None and a < 1.0 for *_, a in rows):
                missed.append({"code": code, "name": names.get(code, code), "weeks": [
                    {"week_ending": h, "patrol_minutes": p, "target_minutes": t,
                     "attainment": a} for h, p, t, a in reversed(rows)]})  # fmt: skip
        raised = [
            RaisedAlert.model_validate(a, from_attributes=True)
            for a in queries.raised_alerts(opened, since or now - timedelta(hours=24))
        ]
        return missed, raised
    return [], []
