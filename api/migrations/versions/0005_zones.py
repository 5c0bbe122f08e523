"""Zones: their figures live and at each hour boundary, and their sessions (SPEC Z4).

``zones`` names each zone the snapshots carry, ``zone_live`` and ``zone_history`` hold
its windows (a ward's figures without coverage), ``zone_sessions`` one row per zone and
session start with the newest figures seen. Nothing here names a unit.

Revision ID: 0005_zones
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0005_zones"
down_revision = "0004"
branch_labels = None
depends_on = None


def _metrics() -> list[sa.Column]:
    return [
        sa.Column("patrol_minutes", sa.Float, nullable=False),
        sa.Column("foot_minutes", sa.Float, nullable=False),
        sa.Column("unit_minutes", sa.Float, nullable=False),
        sa.Column("longest_gap_minutes", sa.Float, nullable=False),
        sa.Column("distinct_units", sa.Integer, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
        sa.Column("koper_visits", sa.Integer, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=True),
        sa.Column("target_minutes", sa.Float, nullable=True),
        sa.Column("attainment", sa.Float, nullable=True),
        sa.Column("status", sa.String(8), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(64), nullable=True),
    )
    op.create_table(
        "zone_live",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("window", sa.String(8), primary_key=True),
        sa.Column("as_of", UTCDateTime, nullable=False),
        *_metrics(),
    )
    op.create_table(
        "zone_history",
        sa.Column("hour", UTCDateTime, primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("window", sa.String(8), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
        sa.Column("revised_at", UTCDateTime, nullable=True),
        *_metrics(),
    )
    op.create_index("ix_zone_history_zone_hour", "zone_history", ["code", "window", "hour"])
    op.create_table(
        "zone_sessions",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("start", UTCDateTime, primary_key=True),
        sa.Column("end", UTCDateTime, nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("patrol_minutes", sa.Float, nullable=False),
        sa.Column("unit_minutes", sa.Float, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
        sa.Column("koper_visits", sa.Integer, nullable=False),
        sa.Column("longest_gap_minutes", sa.Float, nullable=False),
        sa.Column("met", sa.Boolean, nullable=True),
        sa.Column("as_of", UTCDateTime, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_zone_sessions_start", "zone_sessions", ["start"])


def downgrade() -> None:
    op.drop_table("zone_sessions")
    op.drop_table("zone_history")
    op.drop_table("zone_live")
    op.drop_table("zones")
