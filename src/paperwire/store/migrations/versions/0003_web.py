"""web: accounts, login tokens, sessions, votes, subscription requests

Revision ID: 0003_web
Revises: 0002_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_web"
down_revision = "0002_search"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Daily lists select and sort by the paper's day: listing date, else its HF date.
    # (day, arxiv_id) also serves their ORDER BY day DESC, arxiv_id DESC ... LIMIT.
    op.create_index(
        "ix_papers_day",
        "papers",
        [sa.text("coalesce(listing_date, hf_date)"), sa.text("arxiv_id")],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ),
    )
    op.create_table(
        "login_tokens",
        sa.Column("nonce_hash", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("used_at", TZ),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("user_id", "arxiv_id", name="uq_votes_user_paper"),
    )
    op.create_index("ix_votes_arxiv_id", "votes", ["arxiv_id"])
    op.create_table(
        "subscription_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_papers_day", "papers")
    for table in ("subscription_requests", "votes", "sessions", "login_tokens", "users"):
        op.drop_table(table)
