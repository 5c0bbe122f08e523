"""The store's first schema: areas, live and hourly metrics, summaries, alerts, offsets.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0001"
down_revision = None
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
        sa.Column("coverage", sa.Float, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=True),
        sa.Column("target_minutes", sa.Float, nullable=False),
        sa.Column("attainment", sa.Float, nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
    ]


def _summary() -> list[sa.Column]:
    return [
        sa.Column("slot_seconds", sa.Integer, nullable=False),
        sa.Column("fairness", sa.JSON, nullable=False),
        sa.Column("outside", sa.BigInteger, nullable=False),
        sa.Column("accepted", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.JSON, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("neighbourhood", sa.String(64), nullable=True),
        sa.Column("district", sa.String(64), nullable=True),
        sa.Column("wards", sa.JSON, nullable=True),
        sa.Column("area_km2", sa.Float, nullable=False),
        sa.Column("population", sa.Float, nullable=True),
        sa.Column("target_minutes_per_week", sa.Float, nullable=False),
        sa.UniqueConstraint("level", "code", name="uq_areas_level_code"),
    )
    op.create_table(
        "live_metrics",
        sa.Column("level", sa.String(16), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("window", sa.String(8), primary_key=True),
        sa.Column("as_of", UTCDateTime, nullable=False),
        *_metrics(),
    )
    op.create_table(
        "history",
        sa.Column("hour", UTCDateTime, primary_key=True),
        sa.Column("level", sa.String(16), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("window", sa.String(8), primary_key=True),
        *_metrics(),
    )
    op.create_index("ix_history_area_hour", "history", ["level", "code", "hour"])
    op.create_table(
        "hour_summaries",
        sa.Column("hour", UTCDateTime, primary_key=True),
        *_summary(),
    )
    op.create_table(
        "live_summary",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("as_of", UTCDateTime, nullable=False),
        *_summary(),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("previous_status", sa.String(8), nullable=True),
        sa.Column("as_of", UTCDateTime, nullable=False),
        sa.Column("window", sa.String(8), nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=True),
        sa.Column("minutes_unvisited", sa.Float, nullable=True),
        sa.UniqueConstraint("level", "code", "kind", "as_of", name="uq_alerts_area_kind_as_of"),
    )
    op.create_index("ix_alerts_as_of", "alerts", ["as_of"])
    op.create_table(
        "materialiser_offsets",
        sa.Column("topic", sa.String(249), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("materialiser_offsets", "alerts", "live_summary", "hour_summaries",
                  "history", "live_metrics", "areas"):  # fmt: skip
        op.drop_table(table)
