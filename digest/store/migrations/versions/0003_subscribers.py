"""Subscribers and the delivery ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from digest.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("frequency", sa.String(8), nullable=False),
        sa.Column("weekday", sa.Integer),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("max_papers", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("confirmed_at", UTCDateTime),
        sa.Column("unsubscribed_at", UTCDateTime),
        sa.Column("confirmation_sent_at", UTCDateTime),
        sa.Column("bounces", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_table(
        "deliveries",
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("papers", sa.JSON, nullable=False),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("next_attempt_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
    )
    op.create_index("ix_deliveries_status", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_period", "deliveries", ["period"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("subscribers")
