"""Tables of the website: users, single-use login tokens, sessions, votes.

Created by migration 0003_web; queried only by store/accounts.py.
"""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.store.schema import metadata

TZ = sa.DateTime(timezone=True)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("last_login_at", TZ),
)

# One row per emailed login link; `nonce_hash` is sha256 of the nonce inside the signed
# token. A link signs in once: `used_at` is set atomically on first use.
login_tokens = sa.Table(
    "login_tokens",
    metadata,
    sa.Column("nonce_hash", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("used_at", TZ),
)

# Sessions are keyed by sha256 of the cookie value, so a database dump holds no live cookie.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("expires_at", TZ, nullable=False, index=True),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("arxiv_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", TZ, nullable=False),
    sa.UniqueConstraint("user_id", "arxiv_id", name="uq_votes_user_paper"),
)

# Requests from the home page's subscribe form, kept until the digest's double opt-in
# flow (issue 5) takes them over.
subscription_requests = sa.Table(
    "subscription_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
)
