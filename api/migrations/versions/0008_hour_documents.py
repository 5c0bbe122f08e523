"""Hour documents: each stored hour rendered and compressed once, when it is stored.

Revision ID: 0008_hour_documents
Revises: 0007_zone_returns
Create Date: 2026-12-05

Hours stored before this revision have no document; the API rebuilds them from their
rows, as before, until the stream publishes them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

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
    if op.get_bind().dialect.name == "postgresql":
        # Already gzip: PostgreSQL's own compression would only spend time failing.
        for column in ("document", "metrics"):
            op.execute(f"ALTER TABLE hour_documents ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("hour_documents")
