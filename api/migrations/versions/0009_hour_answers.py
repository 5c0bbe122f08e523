"""Hour answers: each stored hour's figures for one level in one window, rendered once.

A map or a client stepping through stored hours asks for one level in one window
(``/api/v1/metrics?as_of=H&level=ward&window=24h``). For England that is a ninth of
the hour's whole answer, and without a stored rendering the API had to read and parse
the hour's whole document (65 MB of objects) to make it. ``hour_answers`` holds each
level and window of each hour, gzip-compressed, tied to the document's digest.

Revision ID: 0009_hour_answers
Revises: 0008_hour_documents
Create Date: 2026-12-06

Hours stored before this revision have no such answers; the API makes them from the
hour's document, as before, until the stream publishes the hour again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from beatlight.api.models import UTCDateTime

revision = "0009_hour_answers"
down_revision = "0008_hour_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hour_answers",
        sa.Column("hour", UTCDateTime,
                  sa.ForeignKey("hour_documents.hour", ondelete="CASCADE"), primary_key=True),
        sa.Column("level", sa.String(16), primary_key=True),
        sa.Column("window", sa.String(8), primary_key=True),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        # Already gzip: PostgreSQL's own compression would only spend time failing.
        op.execute("ALTER TABLE hour_answers ALTER COLUMN body SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("hour_answers")
