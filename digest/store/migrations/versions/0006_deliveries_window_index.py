"""An index for each subscriber's latest edition, so planning a run reads one ledger row
per subscriber instead of the whole ledger.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_window", "deliveries", ["subscriber_id", "window_end", "status"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_window", table_name="deliveries")
