"""Live audit: every read of the recent presence points, without the points.

Revision ID: 0003_live_audit
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0003_live_audit"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),  # fmt: skip
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("ward", sa.String(64), nullable=True),
    )
    op.create_index("ix_live_audit_at", "live_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_live_audit_at", table_name="live_audit")
    op.drop_table("live_audit")
