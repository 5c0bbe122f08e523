"""Hour revisions: which publication of an hour's figures is stored, and when each was made.

Late uploads (SPEC "Late uploads") make the stream publish an hour again. The hour's
summary keeps the revision stored (``revision``, ``revised_at``; null for hours stored
before revisions were published), each area's figures the revision that last changed
them, and ``hour_revisions`` one row per revision of an hour: when it was made and the
pings counted then. Nothing here names a unit.

Revision ID: 0004
Revises: 0003_live_audit
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0004"
down_revision = "0003_live_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hour_summaries", sa.Column("revision", sa.Integer, nullable=True))
    op.add_column("hour_summaries", sa.Column("revised_at", UTCDateTime, nullable=True))
    # A constant default: PostgreSQL adds it without rewriting the table.
    op.add_column("history", sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
    op.add_column("history", sa.Column("revised_at", UTCDateTime, nullable=True))
    op.create_table(
        "hour_revisions",
        sa.Column("hour", UTCDateTime, primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revised_at", UTCDateTime, nullable=True),
        sa.Column("accepted", sa.BigInteger, nullable=False),
        sa.Column("outside", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hour_revisions")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("revised_at")
        batch.drop_column("revision")
    with op.batch_alter_table("hour_summaries") as batch:
        batch.drop_column("revised_at")
        batch.drop_column("revision")
