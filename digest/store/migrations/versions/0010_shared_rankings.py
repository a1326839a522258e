"""The topic rankings of a delivery run, kept for its shards: the process that defers the
send jobs ranks each topic once per window and stores the result here; each shard job
reads it instead of ranking all the topics again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from digest.store.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_rankings",
        sa.Column("run_at", UTCDateTime, primary_key=True),
        sa.Column("window_start", UTCDateTime, primary_key=True),
        sa.Column("topic", sa.String(40), primary_key=True),
        sa.Column("relevant", sa.Integer, nullable=False),
        sa.Column("entries", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shared_rankings")
