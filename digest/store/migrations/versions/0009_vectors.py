"""Embeddings kept with the papers: one vector per paper (or keyword query) and model, so
a ranking reads them and never embeds a stored paper twice.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vectors",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("dimension", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vectors")
