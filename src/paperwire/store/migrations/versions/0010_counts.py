"""counts: indexes that let the vector fingerprint and coverage count from indexes alone
(a reader checks them every few seconds; at 1,000,000 papers the old joins took ~4 s of
CPU each time): embeddings by (model, embedded_at), and the deleted papers by modified_at
(a partial index, so live papers cost nothing to write).

Revision ID: 0010_counts
Revises: 0009_integrate
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_counts"
down_revision = "0009_integrate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_embeddings_model", "embeddings", ["model", "embedded_at"])
    op.create_index(
        "ix_papers_deleted",
        "papers",
        ["modified_at"],
        sqlite_where=sa.text("deleted = 1"),
        postgresql_where=sa.text("deleted = true"),
    )


def downgrade() -> None:
    op.drop_index("ix_papers_deleted", table_name="papers")
    op.drop_index("ix_embeddings_model", table_name="embeddings")
