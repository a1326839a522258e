"""The confirmation queue: one row per subscriber asked to confirm, with the nonce that
binds their confirm link to this opt-in and the mail still to send.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from digest.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "confirmations",
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("queued_at", UTCDateTime),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_confirmations_queued", "confirmations", ["queued_at"])


def downgrade() -> None:
    op.drop_index("ix_confirmations_queued", "confirmations")
    op.drop_table("confirmations")
