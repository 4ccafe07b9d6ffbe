"""Each reader's feed secret (table made by migration 0009_integrate): the key their secret
feed URLs are signed with. Rotating it replaces the row, so every old URL stops working."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paperwire.store.accounts import AccountStore
from paperwire.store.library_tables import owner_key
from paperwire.store.schema import metadata

feed_secrets = sa.Table(
    "feed_secrets",
    metadata,
    owner_key("user_id", "users.id"),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class FeedSecretStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def secret(self, user_id: int) -> str | None:
        query = sa.select(feed_secrets.c.secret).where(feed_secrets.c.user_id == user_id)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return str(found) if found else None

    def ensure(self, user_id: int) -> str:
        """The reader's secret, made on first use (safe under races)."""
        with self.engine.begin() as conn:
            stmt = AccountStore._insert_ignore(conn, feed_secrets, ["user_id"])
            conn.execute(
                stmt.values(
                    user_id=user_id, secret=secrets.token_hex(32), created_at=datetime.now(UTC)
                )
            )
        found = self.secret(user_id)
        assert found is not None
        return found

    def rotate(self, user_id: int) -> str:
        """A fresh secret for the reader; the old one is gone."""
        with self.engine.begin() as conn:
            conn.execute(feed_secrets.delete().where(feed_secrets.c.user_id == user_id))
            fresh = secrets.token_hex(32)
            conn.execute(
                feed_secrets.insert().values(
                    user_id=user_id, secret=fresh, created_at=datetime.now(UTC)
                )
            )
        return fresh
