"""Text without a length limit where a value comes from a feed or a host: paper ids, the
announce type, and who holds a claim or the daemon lock. SQLite never checked the
declared lengths; PostgreSQL refused a longer value, and with it a whole listing.
And an index on the ledger's window ends, so old rows are found without reading them all.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: (table, column, the length it had)
COLUMNS = (
    ("papers", "id", 300),
    ("paper_sources", "paper_id", 300),
    ("edition_items", "paper_id", 300),
    ("pins", "paper_id", 300),
    ("papers", "announce_type", 20),
    ("deliveries", "claimed_by", 200),
    ("daemon_lock", "holder", 200),
)


def upgrade() -> None:
    op.create_index("ix_deliveries_window_end", "deliveries", ["window_end"])
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps any length in any text column: nothing to rebuild
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    op.drop_index("ix_deliveries_window_end", table_name="deliveries")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.Text())
