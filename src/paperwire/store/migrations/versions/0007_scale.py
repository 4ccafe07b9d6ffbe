"""scale: vectors in pgvector (a halfvec(384) column on embeddings with an HNSW index),
on PostgreSQL servers that have the extension; nothing on SQLite or without pgvector.

Revision ID: 0007_scale
Revises: 0004_digest
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperwire.store.shared_vectors import INDEX_NAME, add_vector_column

revision = "0007_scale"
down_revision = "0006_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_vector_column(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.execute(sa.text(f"DROP INDEX IF EXISTS {INDEX_NAME}"))
    bind.execute(sa.text("ALTER TABLE embeddings DROP COLUMN IF EXISTS embedding"))
