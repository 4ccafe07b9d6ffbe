"""Tables of the search issue: one stored embedding per paper (the source of truth that the
on-disk vector index is rebuilt from)."""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.store.schema import metadata

embeddings = sa.Table(
    "embeddings",
    metadata,
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(64), nullable=False),
    # papers.content_hash when embedded: a cheap SQL test for "may have changed"
    sa.Column("paper_hash", sa.String(32), nullable=False),
    # hash of the embedded text itself: decides whether a changed paper needs a new vector
    sa.Column("text_hash", sa.String(32), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32 little-endian, unit length
    sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
sa.Index("ix_embeddings_model", embeddings.c.model, embeddings.c.embedded_at)  # 0010_counts
