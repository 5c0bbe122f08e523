"""Zone returns (SPEC Z6): each zone's settled figures per hour, for the funders' returns.

Revision ID: 0007_zone_returns
Revises: 0006_zone_alerts
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0007_zone_returns"
down_revision = "0006_zone_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_returns",
        sa.Column("start", UTCDateTime, primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("patrol_minutes", sa.Float, nullable=False),
        sa.Column("unit_minutes", sa.Float, nullable=False),
        sa.Column("visits", sa.Integer, nullable=False),
        sa.Column("koper_visits", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("zone_returns")
