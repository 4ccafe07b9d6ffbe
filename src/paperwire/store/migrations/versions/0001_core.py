"""core: papers, rejects, checkpoints, ingest runs

Revision ID: 0001_core
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(32)),
        sa.Column("submitted", sa.Date),
        sa.Column("updated", sa.Date),
        sa.Column("listing_date", sa.Date),
        sa.Column("comments", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("doi", sa.String(256)),
        sa.Column("license", sa.String(256)),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("hf_upvotes", sa.Integer),
        sa.Column("hf_comments", sa.Integer),
        sa.Column("hf_github", sa.Text),
        sa.Column("hf_date", sa.Date),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("modified_at", TZ, nullable=False),
    )
    for column in ("primary_category", "listing_date", "hf_date", "modified_at"):
        op.create_index(f"ix_papers_{column}", "papers", [column])
    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        *(sa.Column(name, sa.Integer, nullable=False) for name in COUNTS),
        sa.Column("error", sa.Text),
    )


COUNTS = ("new", "updated", "unchanged", "rejected", "deleted")


def downgrade() -> None:
    for table in ("ingest_runs", "checkpoints", "rejects", "papers"):
        op.drop_table(table)
