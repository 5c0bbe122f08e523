"""Zone alerts (SPEC Z5): ``alerts`` names a session, and a zone's alert has no status.

Revision ID: 0006_zone_alerts
Revises: 0005_zones
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0006_zone_alerts"
down_revision = "0005_zones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("status", existing_type=sa.String(8), nullable=True)
        batch.alter_column("window", existing_type=sa.String(8), nullable=True)
        batch.add_column(sa.Column("session_start", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("session_end", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("minutes_unattended", sa.Float, nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE level = 'zone'")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("minutes_unattended")
        batch.drop_column("session_end")
        batch.drop_column("session_start")
        batch.alter_column("window", existing_type=sa.String(8), nullable=False)
        batch.alter_column("status", existing_type=sa.String(8), nullable=False)
