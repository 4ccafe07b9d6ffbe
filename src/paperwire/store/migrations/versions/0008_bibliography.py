"""bibliography: normalised title and DOI keys of each paper, for matching references

Revision ID: 0008_bibliography
Revises: 0004_digest
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_bibliography"
down_revision = "0004_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_keys",
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("paper_hash", sa.String(32), nullable=False),
        sa.Column("title_key", sa.String(512), nullable=False),
        sa.Column("doi_key", sa.String(256)),
    )
    op.create_index("ix_paper_keys_title_key", "paper_keys", ["title_key"])
    op.create_index("ix_paper_keys_doi_key", "paper_keys", ["doi_key"])


def downgrade() -> None:
    op.drop_table("paper_keys")
    op.execute(sa.text("DELETE FROM checkpoints WHERE name = 'paper_keys:refreshed_at'"))
