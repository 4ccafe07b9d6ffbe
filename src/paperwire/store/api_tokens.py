"""Readers' API tokens (table api_tokens, migration 0005_library): only a hash is stored."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paperwire.models import ApiToken, User
from paperwire.store.library_tables import api_tokens
from paperwire.store.web_tables import users

TOKEN_TOUCH_SECONDS = 60.0  # last_used_at is refreshed at most this often per token


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ApiTokenStore:
    """Typed access to api_tokens; each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_token(self, user_id: int, name: str, prefix: str, token_hash: str) -> ApiToken:
        now = _now()
        with self.engine.begin() as conn:
            done = conn.execute(
                api_tokens.insert().values(
                    user_id=user_id, name=name, prefix=prefix, token_hash=token_hash, created_at=now
                )
            )
        key = done.inserted_primary_key
        assert key is not None
        return ApiToken(int(key[0]), name, prefix, now)

    def tokens(self, user_id: int) -> list[ApiToken]:
        """The reader's live (not revoked) tokens, newest first."""
        query = (
            sa.select(api_tokens)
            .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
            .order_by(api_tokens.c.id.desc())
        )
        with self.engine.connect() as conn:
            return [
                ApiToken(
                    int(r.id),
                    str(r.name),
                    str(r.prefix),
                    _aware(r.created_at),
                    _aware(r.last_used_at) if r.last_used_at else None,
                )
                for r in conn.execute(query)
            ]

    def revoke_token(self, user_id: int, token_id: int) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                api_tokens.update()
                .where(
                    api_tokens.c.id == token_id,
                    api_tokens.c.user_id == user_id,
                    api_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=_now())
            )
        return done.rowcount == 1

    def token_user(self, token_hash: str) -> User | None:
        """The owner of a live token with this hash (and note that it was used)."""
        now = _now()
        query = (
            sa.select(
                api_tokens.c.id, api_tokens.c.last_used_at, users.c.id.label("uid"), users.c.email
            )
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
        )
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            last = _aware(row.last_used_at) if row.last_used_at else None
            if last is None or (now - last).total_seconds() > TOKEN_TOUCH_SECONDS:
                conn.execute(
                    api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now)
                )
        return User(int(row.uid), str(row.email))
