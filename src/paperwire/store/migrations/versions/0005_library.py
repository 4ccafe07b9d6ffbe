"""library: collections, collection items, ratings, followed authors, API tokens

Revision ID: 0005_library
Revises: 0004_digest
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_library"
down_revision = "0008_bibliography"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _user(primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _user(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("user_id", "name_key", name="uq_collections_user_name"),
    )
    op.create_table(
        "collection_items",
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "paper_ratings",
        _user(primary_key=True),
        sa.Column("arxiv_id", sa.String(64), primary_key=True),
        sa.Column("rating", sa.SmallInteger, nullable=False),
        sa.Column("rated_at", TZ, nullable=False),
    )
    op.create_table(
        "author_follows",
        _user(primary_key=True),
        sa.Column("name_key", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("followed_at", TZ, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _user(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ),
        sa.Column("revoked_at", TZ),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_user_id", "api_tokens")
    for table in (
        "api_tokens",
        "author_follows",
        "paper_ratings",
        "collection_items",
        "collections",
    ):
        op.drop_table(table)
