"""The API's typed responses: the SPEC's words, with examples for the OpenAPI document.

Every response is one of these pydantic models, so what leaves the API is exactly
what is declared here: no field a feed sent, no unit pseudonym, nothing finer than
an area (except :class:`PointFeature`, for inspectors only).

Long because these are the OpenAPI models, one per response shape with its example:
together they are the API's declared contract, read side by side.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from beatlight.api.zone_schemas import PublicZones
from beatlight.windows import Window

__all__ = [
    "LEVELS",
    "AlertsResponse",
    "AuditEntryOut",
    "AuditResponse",
    "AreaMetrics",
    "AreaOut",
    "FairnessResponse",
    "FigureRevision",
    "HistoryResponse",
    "Level",
    "MetricName",
    "MetricsResponse",
    "MissedWeeks",
    "Problem",
    "PublicPlace",
    "PublicPlaces",
    "PublicPostcodeWard",
    "PublicVisibility",
    "PublicZonesOut",
    "PublicWard",
    "RaisedAlert",
    "ValidationProblem",
    "WindowMetrics",
]

Level = Literal["ward", "neighbourhood", "district", "force"]
LEVELS: tuple[str, ...] = Level.__args__  # type: ignore[attr-defined]
MetricName = Literal[
    "patrol_minutes", "foot_minutes", "unit_minutes", "longest_gap_minutes",
    "distinct_units", "visits", "koper_visits", "coverage", "target_minutes", "attainment",
]  # fmt: skip


class WindowMetrics(BaseModel):
    """One area's figures over one rolling window ending at ``as_of`` (SPEC rules 4-10)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "patrol_minutes": 312.0, "foot_minutes": 95.0, "unit_minutes": 415.0,
        "longest_gap_minutes": 254.0, "distinct_units": 4, "visits": 9, "koper_visits": 5,
        "coverage": 0.38, "last_seen": "2026-11-23T05:58:12Z", "target_minutes": 85.7,
        "attainment": 3.64, "status": "green"}})  # fmt: skip

    patrol_minutes: float
    foot_minutes: float
    unit_minutes: float
    longest_gap_minutes: float
    distinct_units: int
    visits: int
    koper_visits: int
    coverage: float
    last_seen: datetime | None
    target_minutes: float
    attainment: float | None
    status: Literal["green", "amber", "red", "none"]


class AreaOut(BaseModel):
    """A ward or a roll-up with its attributes (SPEC rule 13)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "level": "ward", "code": "E05008714", "name": "Abbey Hulton and Townsend",
        "neighbourhood": "E05008714", "district": "E06000021", "wards": None,
        "area_km2": 4.1, "population": 11250, "target_minutes_per_week": 600.0}})  # fmt: skip

    level: Level
    code: str
    name: str
    neighbourhood: str | None = Field(None, description="A ward's neighbourhood.")
    district: str | None = Field(None, description="A ward's district, when known.")
    wards: list[str] | None = Field(None, description="A roll-up's wards.")
    area_km2: float
    population: float | None
    target_minutes_per_week: float


_AREA_REVISION = ("At an hour boundary, when this area's figures changed after the hour was "
                  "first published (pings that arrived late): the hour's revision that last "
                  "changed them. Absent when they are as first published.")  # fmt: skip
_REVISION = ("At an hour boundary, which publication of the hour's figures this is: 0 the "
             "first, then 1, 2, … each time pings that arrived late changed a figure. Null "
             "for the live snapshot.")  # fmt: skip


class AreaMetrics(BaseModel):
    """An area and its figures per window."""

    level: Level
    code: str
    name: str
    windows: dict[str, WindowMetrics]
    revision: int | None = Field(None, description=_AREA_REVISION)
    revised_at: datetime | None = Field(None, description="When that revision was made.")


class MetricsResponse(BaseModel):
    """Figures of areas at one moment: live, or a stored hour boundary."""

    as_of: datetime = Field(description="End (exclusive) of every rolling window.")
    live: bool = Field(description="True for the live snapshot, false for an hour boundary.")
    revision: int | None = Field(None, description=_REVISION)
    revised_at: datetime | None = Field(
        None, description="When this revision was made (the first publication for 0)."
    )
    areas: list[AreaMetrics]


class SeriesPoint(BaseModel):
    """One value of a history series: the metric in the window ending at ``as_of``."""

    as_of: datetime
    value: float | int | str | None


class FigureRevision(BaseModel):
    """A point of a series whose figures changed after they were first published.

    Devices that store and forward (body-worn cameras docking at the end of a shift) send
    pings hours late; the stream counts them and publishes the hours they change again.
    """

    as_of: datetime = Field(description="The point (an hour boundary).")
    revision: int = Field(description="The hour's revision that last changed this area's "
                          "figures (1 or more).")  # fmt: skip
    revised_at: datetime | None = Field(description="When that revision was made.")
    first_published_at: datetime | None = Field(
        description="When the hour's figures were first published (revision 0)."
    )


class HistoryResponse(BaseModel):
    """A metric of one area over time, sampled at hour, local-day or local-week boundaries."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "level": "ward", "code": "E05008714", "metric": "patrol_minutes", "window": "24h",
        "resolution": "daily", "timezone": "Europe/London",
        "points": [{"as_of": "2026-11-22T00:00:00Z", "value": 312.0}],
        "revisions": [{"as_of": "2026-11-22T00:00:00Z", "revision": 1,
                       "revised_at": "2026-11-22T07:40:12Z",
                       "first_published_at": "2026-11-22T01:00:04Z"}]}})  # fmt: skip

    level: Level
    code: str
    metric: str
    window: Window
    resolution: Literal["hourly", "daily", "weekly"]
    timezone: str
    points: list[SeriesPoint]
    revisions: list[FigureRevision] = Field(
        default_factory=list,
        description="The points whose figures for this area changed after they were first "
        "published, and when (oldest first): a published figure that changed is explained "
        "here.",
    )


class RaisedAlert(BaseModel):
    """An alert the stream raised when an area's live status changed or it went unvisited,
    or when a zone was unattended during a session or missed one (SPEC Z5)."""

    level: Level | Literal["zone"]
    code: str
    kind: Literal["red", "green", "unvisited", "zone_unattended", "session_missed"]
    status: str | None
    previous_status: str | None
    as_of: datetime
    window: str | None
    last_seen: datetime | None
    minutes_unvisited: float | None
    session_start: datetime | None = Field(
        None, description="A zone alert's session: its start (UTC)."
    )
    session_end: datetime | None = Field(None, description="A zone alert's session: its end.")
    minutes_unattended: float | None = Field(
        None, description="``zone_unattended``: minutes nobody had been in the zone."
    )


class AreaStatus(BaseModel):
    """An area whose status in the alert window is ``red`` or ``none`` now."""

    level: Level
    code: str
    name: str
    window: Window
    status: Literal["red", "none"]
    patrol_minutes: float
    target_minutes: float
    attainment: float | None
    last_seen: datetime | None


class WeekFigure(BaseModel):
    """A ward's 7-day figures at the end of one local week."""

    week_ending: datetime
    patrol_minutes: float
    target_minutes: float
    attainment: float | None


class MissedWeeks(BaseModel):
    """A ward that missed its weekly target in each of the last ``weeks`` complete weeks."""

    code: str
    name: str
    weeks: list[WeekFigure]


class AlertsResponse(BaseModel):
    """Where visibility needs attention now, and where it has been missing for weeks."""

    as_of: datetime | None = Field(description="The live snapshot the current statuses are from.")
    window: Window
    current: list[AreaStatus]
    weeks: int
    missed_weekly_target: list[MissedWeeks]
    raised: list[RaisedAlert] = Field(description="Alerts raised since ``since``, newest first.")


class FairnessResponse(BaseModel):
    """SPEC rule 12 per window: Gini of patrol per km² and per 1,000 residents, red shares."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "as_of": "2026-11-23T06:00:00Z", "live": False,
        "windows": {"24h": {"gini_minutes_per_km2": 0.41,
                            "gini_minutes_per_1000_residents": 0.37,
                            "share_wards_red": 0.18, "share_residents_red": 0.15,
                            "share_wards_none": 0.05, "share_residents_none": 0.04}}}})  # fmt: skip

    as_of: datetime
    live: bool
    windows: dict[str, dict[str, float | None]]


class PublicWard(BaseModel):
    """A ward's published figures: whole hours, small unit counts suppressed (SPEC privacy)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "E05008714", "name": "Abbey Hulton and Townsend", "patrol_hours": 5,
        "foot_hours": 2, "longest_gap_hours": 9, "distinct_units": None,
        "units_suppressed": True, "coverage": 0.38,
        "target_hours": 1, "status": "green"}})  # fmt: skip

    code: str
    name: str
    patrol_hours: int = Field(description="Patrol time, rounded to whole hours.")
    foot_hours: int = Field(description="Patrol time on foot, rounded to whole hours.")
    longest_gap_hours: int = Field(description="The longest time with nobody seen in the "
                                   "ward, rounded to whole hours.")  # fmt: skip
    distinct_units: int | None = Field(description="Null when fewer than the publication "
                                       "threshold (suppressed).")  # fmt: skip
    units_suppressed: bool
    coverage: float = Field(description="Share of the ward's grid cells visited, 2 decimals.")
    target_hours: int = Field(description="The period's target, rounded to whole hours.")
    status: Literal["green", "amber", "red", "none"]


class Credited(BaseModel):
    """The licence of published figures and the attribution re-users must give."""

    licence: str = Field(description="The figures' licence (a URL).")
    attribution: str = Field(description="The attribution re-users must give.")


class PublicVisibility(Credited):
    """The published figures of every ward for one complete local day or week."""

    period: Literal["day", "week"]
    date: dt.date = Field(description="The day, or the Monday the week starts on (local time).")
    start: datetime
    end: datetime
    timezone: str
    wards: list[PublicWard]


class PublicZonesOut(Credited, PublicZones):
    """The published figures of every public zone for one day or week, credited."""


class PublicPlace(BaseModel):
    """A ward as residents look for it: names only, no figures."""

    code: str
    name: str
    neighbourhood: str = Field(description="The code of the ward's neighbourhood.")
    neighbourhood_name: str


class PublicPlaces(BaseModel):
    """Every ward by name and neighbourhood, for finding one (no figures)."""

    postcodes: bool = Field(description="Whether `POST /api/v1/public/postcode` can answer.")
    wards: list[PublicPlace]


class PublicPostcodeWard(BaseModel):
    """The ward a postcode is in."""

    ward: PublicPlace


class PublicPeriods(BaseModel):
    """The days and weeks that are published (complete, past the delay, and stored)."""

    timezone: str
    publish_delay_hours: float
    min_units: int = Field(
        description="Counts of different patrols below this are withheld (units_suppressed)."
    )
    days: list[dt.date]
    weeks: list[dt.date]


class AuditEntryOut(BaseModel):
    """One read of the recent presence points (never the points)."""

    id: int = Field(description="Increasing; the `after` of the next page.")
    at: datetime = Field(description="When the points were read (UTC).")
    key_prefix: str = Field(description="The reading key's prefix (`beatlight keys list`).",
                            examples=["bl_abcd1234"])  # fmt: skip
    role: str = Field(description="The key's role when it read them.", examples=["inspector"])
    ward: str | None = Field(description="The ward asked for; null: every ward.")


class AuditResponse(BaseModel):
    """A page of the live audit, oldest first."""

    retention_days: int = Field(description="Records older than this are deleted.")
    entries: list[AuditEntryOut]
    next_after: int | None = Field(
        description="Ask again with `after` set to this for the next page; null: no more."
    )


class Problem(BaseModel):
    """An error answer (any 4xx or 5xx): what was wrong and what to do about it."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "detail": "no ward has the code 'E0500871'"}})  # fmt: skip

    detail: str


class FieldProblem(BaseModel):
    """One parameter that is not valid: where it is, what is wrong, and the kind of error."""

    loc: list[str | int] = Field(description='Where: e.g. ["query", "as_of"].')
    msg: str
    type: str


class ValidationProblem(Problem):
    """A 422: a parameter is not valid; ``detail`` says which and why, in one line."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "detail": "query.window: Input should be '1h', '24h', '7d' or '28d'",
        "errors": [{"loc": ["query", "window"], "type": "literal_error",
                    "msg": "Input should be '1h', '24h', '7d' or '28d'"}]}})  # fmt: skip

    errors: list[FieldProblem] | None = Field(
        None, description="Each invalid parameter (absent when a route checked the value)."
    )


def example(model: type[BaseModel]) -> dict[str, Any]:
    """The example a model declares (for route documentation)."""
    return dict((model.model_config.get("json_schema_extra") or {}).get("example", {}))  # type: ignore[union-attr]
