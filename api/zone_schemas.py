"""The zone routes' typed responses (SPEC Z2-Z4, Z6 and the publication rules)."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PublicZone",
    "PublicZones",
    "ReturnRow",
    "ZoneDetail",
    "ZoneOut",
    "ZoneSessionOut",
    "ZoneWindow",
    "ZonesResponse",
]

Status = Literal["green", "amber", "red", "none"]


class ZoneWindow(BaseModel):
    """A zone's figures over one rolling window ending at ``as_of`` (SPEC Z2): a ward's
    without coverage; target, attainment and status null without a weekly target."""

    patrol_minutes: float
    foot_minutes: float
    unit_minutes: float
    longest_gap_minutes: float
    distinct_units: int
    visits: int
    koper_visits: int
    last_seen: datetime | None
    target_minutes: float | None
    attainment: float | None
    status: Status | None


class ZoneSessionOut(BaseModel):
    """One scheduled session (SPEC Z3): ``met`` null while it is open."""

    start: datetime
    end: datetime
    open: bool
    patrol_minutes: float
    unit_minutes: float
    visits: int
    koper_visits: int
    longest_gap_minutes: float
    met: bool | None


class ZoneOut(BaseModel):
    """A zone, what the zones file commits it to, and its windows."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "TC", "name": "Hanley town centre", "kind": "town_centre", "public": True,
        "target_minutes_per_week": 1200.0, "schedule": "Fri,Sat 20:00-02:00",
        "session_target_minutes": 120.0, "max_gap_minutes": 60.0, "windows": {}}})  # fmt: skip

    code: str
    name: str
    kind: str | None
    public: bool = Field(description="Published to residents (from the zones file; "
                                     "false when the API has no file naming it).")  # fmt: skip
    target_minutes_per_week: float | None
    schedule: str | None
    session_target_minutes: float | None
    max_gap_minutes: float | None
    windows: dict[str, ZoneWindow]


class ZoneDetail(ZoneOut):
    """One zone with its sessions: ended in the 28 days before ``as_of``, or open."""

    as_of: datetime | None
    sessions: list[ZoneSessionOut]


class ZonesResponse(BaseModel):
    """Every zone with its figures at ``as_of`` (null when none are stored)."""

    as_of: datetime | None
    zones: list[ZoneOut]


class ReturnRow(BaseModel):
    """One zone's return for one period (SPEC Z6)."""

    code: str
    name: str
    kind: str
    period: str = Field(description="2026-W43, 2026-10 or 2026-Q4.")
    start: datetime
    end: datetime
    complete: bool = Field(description="Whether the period had ended by the latest stored hour.")
    patrol_hours: float
    unit_hours: float
    visits: int
    koper_visits: int
    sessions: int = Field(description="Sessions that started in the period and have ended.")
    sessions_met: int
    hours_missing: int = Field(description="Hours of the period (up to the latest stored "
                                           "one) whose snapshot is not stored.")  # fmt: skip


class PublicZone(BaseModel):
    """A public zone's published figures: whole hours, small unit counts suppressed."""

    code: str
    name: str
    kind: str | None
    patrol_hours: int
    foot_hours: int
    distinct_units: int | None = Field(description="Null when below the publication threshold.")
    units_suppressed: bool
    target_hours: int | None = Field(description="Null for a zone without a weekly target.")
    status: Status | None


class PublicZones(BaseModel):
    """The published figures of every public zone for one complete local day or week."""

    period: Literal["day", "week"]
    date: dt.date
    start: datetime
    end: datetime
    timezone: str
    zones: list[PublicZone]
