"""search: embeddings and index state (filled by the search issue)

Revision ID: 0002_search
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_search"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("paper_hash", sa.String(32), nullable=False),
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_embeddings_embedded_at", "embeddings", ["embedded_at"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_embedded_at", table_name="embeddings")
    op.drop_table("embeddings")
