"""What routes share: the app's services, sessions, time parameters and response helpers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from beatlight.api.db import connect
from beatlight.api.etags import GZIP_SUFFIX
from beatlight.api.snapshots import Document, Hour, Snapshots
from beatlight.settings import Settings
from beatlight.times import format_time

__all__ = [
    "AsOfQuery",
    "FormatQuery",
    "Services",
    "ServicesDep",
    "WithinCalendar",
    "csv_response",
    "geojson_response",
    "document",
    "gzip_response",
    "snapshot_tag",
    "stored_hour",
    "hour_boundary",
    "json_response",
    "quoted",
    "session",
]

#: The most characters of a value a message repeats back to its sender.
QUOTED_CHARS = 64


@dataclass
class Services:
    """Everything the routes use, built once by :func:`api.app.create_app`."""

    settings: Settings
    engine: Engine
    snapshots: Snapshots
    shapes: Any  # api.shapes.AreaShapes
    zone: ZoneInfo
    clock: Callable[[], datetime]
    points: Any = None  # api.points.RecentPoints, when the API reads Kafka
    materialiser: Any = None  # api.materialise.Materialiser, when the API runs one
    audit: Any = None  # api.audit.AuditTrail: who read the recent points
    #: What the zones file says of each zone, by code (api.zone_queries.zone_metadata).
    zone_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The zones file's outlines, by code (api.zone_maps.zone_outlines).
    zone_shapes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Postcodes to wards (geo.postcodes.Postcodes), when a postcode file is set.
    postcodes: Any = None

    @cached_property
    def ward_codes(self) -> frozenset[str]:
        return self.shapes.codes("ward")  # type: ignore[no-any-return]

    @property
    def publish_delay(self) -> timedelta:
        return timedelta(hours=self.settings.publish_delay_hours)


async def _services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]

#: The times and days a request may name, in UTC: wide enough for any question about
#: patrols, narrow enough that the windows, local days and weeks around them stay inside
#: the calendar Python can count (years 1 to 9999), where date arithmetic never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _within_calendar(value: Any) -> Any:
    """``value`` (a datetime, date or None) if it lies in [EARLIEST, LATEST), else a 422."""
    if value is None:
        return value
    try:
        if isinstance(value, datetime):
            inside = EARLIEST <= (value.astimezone(UTC) if value.tzinfo else
                                  value.replace(tzinfo=UTC)) < LATEST  # fmt: skip
        else:
            inside = EARLIEST.date() <= value < LATEST.date()
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        inside = False
    if not inside:
        raise ValueError(f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)")
    return value


#: Add to a time or date parameter's ``Annotated[...]``: out of range is a 422, not a 500.
WithinCalendar = AfterValidator(_within_calendar)

AsOfQuery = Annotated[
    datetime | None,
    Query(description="An hour boundary with a time zone (e.g. 2026-11-23T06:00:00Z): the "
          "stored snapshot then. Omit for the live snapshot.",
          examples=["2026-11-23T06:00:00Z"]),
    WithinCalendar,
]  # fmt: skip
FormatQuery = Annotated[
    str, Query(pattern="^(json|csv)$", description="json, or csv for a spreadsheet.")
]


def hour_boundary(moment: datetime, name: str = "as_of") -> datetime:
    """``moment`` in UTC if it is an hour boundary with a time zone, else a 422 saying why."""
    if moment.tzinfo is None:
        raise HTTPException(422, f"{name} needs a time zone, e.g. 2026-11-23T06:00:00Z")
    moment = moment.astimezone(UTC)
    if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        raise HTTPException(422, f"{name} must be an hour boundary (snapshots are stored at "
                                 f"whole hours): {format_time(moment)} is not")  # fmt: skip
    return moment


async def document(services: Services, as_of: datetime | None) -> Document:
    """The live document, or the stored one at the hour ``as_of``; 404 when there is none."""
    if as_of is None:
        cached = services.snapshots.live_fresh()
        found = cached if cached is not False else await run_in_threadpool(services.snapshots.live)
        if found is None:
            raise HTTPException(404, "no live snapshot yet: is a worker running and the "
                                     "materialiser storing its topics?")  # fmt: skip
        return found  # type: ignore[return-value]
    hour = hour_boundary(as_of)
    cached = services.snapshots.hour_fresh(hour)
    if cached is not False and (cached is None or cached.document is not None):  # type: ignore[union-attr]
        found = None if cached is None else cached.document  # type: ignore[union-attr]
    else:
        found = await run_in_threadpool(services.snapshots.at, hour)
    if found is None:
        raise HTTPException(404, f"no snapshot stored at {format_time(hour)}")
    return found


async def stored_hour(services: Services, as_of: datetime) -> Hour:
    """The stored hour ``as_of`` (its tag and stored answer, not its document); 404 if none."""
    hour = hour_boundary(as_of)
    cached = services.snapshots.hour_fresh(hour)
    found = cached if cached is not False else await run_in_threadpool(services.snapshots.hour,
                                                                       hour)  # fmt: skip
    if found is None:
        raise HTTPException(404, f"no snapshot stored at {format_time(hour)}")
    return found  # type: ignore[return-value]


async def stored_answer(services: Services, hour: Hour, level: str | None,
                        window: str | None) -> bytes | None:  # fmt: skip
    """The figures answer stored with ``hour`` for ``level`` in ``window``, gzip (``None``:
    none is stored, make it from the document)."""
    key = (level, window)
    if key in hour.answers:
        return hour.answers[key]
    return await run_in_threadpool(services.snapshots.answer, hour, level, window)


async def snapshot_tag(services: Services, as_of: datetime | None) -> str | None:
    """What names the figures of the live snapshot or of the hour ``as_of``, cheaply (no
    document is read for a stored hour); 404 when there is none."""
    if as_of is None:
        return (await document(services, None)).tag
    return (await stored_hour(services, as_of)).tag


def gzip_response(body: bytes, media_type: str, etag: str | None) -> Response:
    """A gzip-compressed ``body`` as it is, for a client that accepts gzip."""
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    if etag is not None:
        headers["ETag"] = etag[:-1] + GZIP_SUFFIX + '"'
    return Response(body, media_type=media_type, headers=headers)


def quoted(value: str, limit: int = QUOTED_CHARS) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters: an answer never
    repeats a long input in full (a 5,000-character code, say) to whoever sent it."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


def session(services: Services) -> Iterator[Session]:
    """A session on the store (StoreUnreachable, a 503, when it cannot be reached)."""
    with connect(services.engine) as connection, Session(bind=connection) as opened:
        yield opened


def json_response(body: bytes | Any, status_code: int = 200, **headers: str) -> Response:
    """JSON from pre-rendered bytes or from plain data (orjson: datetimes as RFC 3339)."""
    if not isinstance(body, bytes):
        body = orjson.dumps(body, default=_default, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type="application/json",
                    headers=headers or None)  # fmt: skip


def geojson_response(body: Any, **headers: str) -> Response:
    """:func:`json_response` as ``application/geo+json``."""
    response = json_response(body, **headers)
    response.media_type = "application/geo+json"
    response.headers["Content-Type"] = "application/geo+json"
    return response


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV attachment (times as RFC 3339, nulls as empty cells)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else format_time(v) if isinstance(v, datetime) else v
                         for v in row])  # fmt: skip
    disposition = f'attachment; filename="{name}.csv"'
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})  # fmt: skip


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
