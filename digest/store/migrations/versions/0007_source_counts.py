"""What each source's last fetch brought (papers new and updated), for `digest status`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("last_new", sa.Integer))
        batch.add_column(sa.Column("last_updated", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("last_updated")
        batch.drop_column("last_new")
