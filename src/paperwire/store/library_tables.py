"""Tables of the reader's library: collections and their papers, thumbs up/down, followed
authors, API tokens.

Created by migration 0005_library; queried only by store/library.py.
"""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.store.schema import metadata

TZ = sa.DateTime(timezone=True)


def _user() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def owner_key(name: str, target: str) -> sa.Column[int]:
    """A primary-key column `name` referring to `target` ("table.id"): the row belongs to
    that owner and goes when it does."""
    return sa.Column(name, sa.Integer, sa.ForeignKey(target, ondelete="CASCADE"), primary_key=True)


# `name_key` is store.library.name_key(name) (case and Unicode forms folded): one reader
# cannot have "Saved" and "saved", nor "Café" twice (é, or e + a combining accent).
collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _user(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("name_key", sa.String(100), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.UniqueConstraint("user_id", "name_key", name="uq_collections_user_name"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0011_collection_ids)
)

collection_items = sa.Table(
    "collection_items",
    metadata,
    owner_key("collection_id", "collections.id"),
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    sa.Column("added_at", TZ, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

# +1 thumbs up ("liked"), -1 thumbs down ("not interested"); no row: no opinion.
ratings = sa.Table(
    "paper_ratings",
    metadata,
    owner_key("user_id", "users.id"),
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    sa.Column("rating", sa.SmallInteger, nullable=False),
    sa.Column("rated_at", TZ, nullable=False),
)

# `name_key` is names.author_key(name): the one rule for "same author" (migration
# 0013_author_keys rekeyed rows of the older rule).
author_follows = sa.Table(
    "author_follows",
    metadata,
    owner_key("user_id", "users.id"),
    sa.Column("name_key", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("followed_at", TZ, nullable=False),
)

# Only sha256 of the token is kept; `prefix` (first 8 characters) labels it on the page.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _user(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("last_used_at", TZ),
    sa.Column("revoked_at", TZ),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)
