"""Hour documents, and the history index that serves one area's series.

Each stored hour is rendered and compressed once, when it is stored (``hour_documents``).
One area's series in one window reads ``ix_history_series`` (level, code, window, hour),
which on PostgreSQL also holds every figure, so that a month of hours is read from a few
index pages (an index-only scan) rather than from a heap page an hour; it replaces
``ix_history_area_hour`` (level, code, hour). Autovacuum is asked to visit ``history``
after 0.5 % new rows rather than 20 %, so that recent hours' pages are soon marked
all-visible and the scans stay index-only.

Revision ID: 0008_hour_documents
Revises: 0007_zone_returns
Create Date: 2026-12-05

Hours stored before this revision have no document; the API rebuilds them from their
rows, as before, until the stream publishes them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import SERIES_INCLUDED, UTCDateTime

revision = "0008_hour_documents"
down_revision = "0007_zone_returns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hour_documents",
        sa.Column("hour", UTCDateTime, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=True),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("metrics", sa.LargeBinary, nullable=False),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Already gzip: PostgreSQL's own compression would only spend time failing.
        for column in ("document", "metrics"):
            op.execute(f"ALTER TABLE hour_documents ALTER COLUMN {column} SET STORAGE EXTERNAL")
    op.create_index("ix_history_series", "history", ["level", "code", "window", "hour"],
                    postgresql_include=list(SERIES_INCLUDED))  # fmt: skip
    op.drop_index("ix_history_area_hour", table_name="history")
    if postgresql:
        op.execute("ALTER TABLE history SET (autovacuum_vacuum_insert_scale_factor = 0.005)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE history RESET (autovacuum_vacuum_insert_scale_factor)")
    op.create_index("ix_history_area_hour", "history", ["level", "code", "hour"])
    op.drop_index("ix_history_series", table_name="history")
    op.drop_table("hour_documents")
