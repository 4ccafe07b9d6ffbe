"""Tables of the bibliography issue: per paper, the keys a reference is matched on."""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.store.schema import metadata

TITLE_KEY_CHARS = 512  # keys are compared truncated: an index entry stays small

paper_keys = sa.Table(
    "paper_keys",
    metadata,
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    # papers.content_hash the keys were made from: a cheap SQL test for "may be stale"
    sa.Column("paper_hash", sa.String(32), nullable=False),
    sa.Column("title_key", sa.String(TITLE_KEY_CHARS), nullable=False, index=True),
    sa.Column("doi_key", sa.String(256), index=True),
)
