"""Editions per topic and period, their picks, and the editor's pins.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from digest.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editions",
        sa.Column("topic", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("built_at", UTCDateTime, nullable=False),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("arrived", sa.Integer, nullable=False),
        sa.Column("candidates", sa.Integer, nullable=False),
        sa.Column("relevant", sa.Integer, nullable=False),
        sa.Column("empty_reason", sa.Text),
    )
    op.create_table(
        "edition_items",
        sa.Column("topic", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
    )
    op.create_index("ix_edition_items_paper", "edition_items", ["topic", "paper_id"])
    op.create_table(
        "pins",
        sa.Column("topic", sa.String(40), primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pins")
    op.drop_table("edition_items")
    op.drop_table("editions")
