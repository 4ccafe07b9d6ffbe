"""Accounts, login tokens, sessions and votes: the website's storage (see web_tables.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from paperwire.models import User
from paperwire.store.mailboxes import same_mailbox
from paperwire.store.web_tables import (
    login_tokens,
    sessions,
    subscription_requests,
    users,
    votes,
)

_CHUNK = 500
# Every page and search result asks for vote counts (and, signed in, the reader's votes):
# these run as prepared text. Built per call through SQLAlchemy they took 0.46 ms for 50
# ids; on SQLite straight through the driver 0.08 ms (like store/writer.load_papers).
_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_VOTE_COUNTS = sa.text(
    "SELECT arxiv_id, count(*) FROM votes WHERE arxiv_id IN :ids GROUP BY arxiv_id"
).bindparams(_IDS)
_VOTED_BY = sa.text(
    "SELECT arxiv_id FROM votes WHERE user_id = :user AND arxiv_id IN :ids"
).bindparams(_IDS)


def _now() -> datetime:
    return datetime.now(UTC)


def _by_ids(conn: Connection, query: sa.TextClause, ids: Sequence[str], **values: Any) -> list[Any]:
    """Rows of `query` (its expanding `:ids` bound to chunks of `ids`, then `values`).

    On SQLite straight through the driver's cursor (`:name` parameters are its own)."""
    rows: list[Any] = []
    sqlite = conn.dialect.name == "sqlite"
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        if not sqlite:
            rows.extend(conn.execute(query, {"ids": chunk, **values}).all())
            continue
        marks = ",".join(f":i{n}" for n in range(len(chunk)))
        params = {**values, **{f"i{n}": v for n, v in enumerate(chunk)}}
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            rows.extend(cursor.execute(query.text.replace(":ids", f"({marks})"), params))
        finally:
            cursor.close()
    return rows


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AccountStore:
    """Typed access to the website tables; each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- login tokens ----------------------------------------------------------

    def add_login_token(self, nonce_hash: str, email: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                login_tokens.insert().values(nonce_hash=nonce_hash, email=email, created_at=_now())
            )

    def count_login_tokens(self, email: str, since: datetime) -> int:
        """How many sign-in links were issued for `email`'s mailbox (the address and
        its ``+tag`` spellings, store.mailboxes) since `since`."""
        query = sa.select(sa.func.count()).where(
            same_mailbox(login_tokens.c.email, email), login_tokens.c.created_at >= since
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete_login_token(self, nonce_hash: str) -> None:
        """Withdraw a link that was never delivered (it no longer counts or works)."""
        with self.engine.begin() as conn:
            conn.execute(login_tokens.delete().where(login_tokens.c.nonce_hash == nonce_hash))

    def login_token_unused(self, nonce_hash: str) -> bool:
        """Whether a sign-in token with this nonce was issued and not used yet."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(login_tokens.c.nonce_hash).where(
                    login_tokens.c.nonce_hash == nonce_hash, login_tokens.c.used_at.is_(None)
                )
            ).first()
        return found is not None

    def use_login_token(self, nonce_hash: str) -> str | None:
        """Mark the token used and return its email; None if unknown or already used.

        The conditional UPDATE makes this safe under concurrent use: one caller wins."""
        with self.engine.begin() as conn:
            done = conn.execute(
                login_tokens.update()
                .where(login_tokens.c.nonce_hash == nonce_hash, login_tokens.c.used_at.is_(None))
                .values(used_at=_now())
            )
            if done.rowcount != 1:
                return None
            email = conn.execute(
                sa.select(login_tokens.c.email).where(login_tokens.c.nonce_hash == nonce_hash)
            ).scalar_one()
        return str(email)

    # -- users and sessions ----------------------------------------------------

    def get_or_create_user(self, email: str) -> User:
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                self._insert_ignore(conn, users, ["email"]).values(email=email, created_at=now)
            )
            conn.execute(users.update().where(users.c.email == email).values(last_login_at=now))
            user_id = conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar_one()
        return User(id=int(user_id), email=email)

    def user_id(self, email: str) -> int | None:
        """The id of the account with this address, if there is one (nothing is made)."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar()
        return int(found) if found is not None else None

    def create_session(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        """Store a new session, dropping expired sessions and day-old login tokens."""
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < now))
            conn.execute(
                login_tokens.delete().where(login_tokens.c.created_at < now - timedelta(days=1))
            )
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash, user_id=user_id, created_at=_now(), expires_at=expires_at
                )
            )

    def session_user(self, token_hash: str) -> User | None:
        query = (
            sa.select(users.c.id, users.c.email, sessions.c.expires_at)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == token_hash)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or _aware(row.expires_at) <= _now():
            return None
        return User(id=int(row.id), email=str(row.email))

    def delete_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))

    # -- votes -----------------------------------------------------------------

    def set_vote(self, user_id: int, arxiv_id: str, up: bool) -> None:
        """Upvote (idempotent) or withdraw the vote; UNIQUE(user, paper) keeps one per user."""
        with self.engine.begin() as conn:
            if up:
                stmt = self._insert_ignore(conn, votes, ["user_id", "arxiv_id"])
                conn.execute(stmt.values(user_id=user_id, arxiv_id=arxiv_id, created_at=_now()))
            else:
                conn.execute(
                    votes.delete().where(votes.c.user_id == user_id, votes.c.arxiv_id == arxiv_id)
                )

    def vote_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """Our own upvotes per paper (papers without votes are absent)."""
        with self.engine.connect() as conn:
            rows = _by_ids(conn, _VOTE_COUNTS, ids)
        return {str(k): int(v) for k, v in rows}

    def most_voted(self, limit: int) -> list[str]:
        """The `limit` papers with most of our own upvotes (most first, then id): one pass
        over the votes' arxiv_id index, whatever the number of papers."""
        count = sa.func.count().label("n")
        query = (
            sa.select(votes.c.arxiv_id, count)
            .group_by(votes.c.arxiv_id)
            .order_by(count.desc(), votes.c.arxiv_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(r.arxiv_id) for r in conn.execute(query)]

    def voted_by(self, user_id: int, ids: Sequence[str]) -> set[str]:
        """Which of `ids` this user has upvoted."""
        with self.engine.connect() as conn:
            rows = _by_ids(conn, _VOTED_BY, ids, user=user_id)
        return {str(r[0]) for r in rows}

    def votes_of(self, user_id: int, limit: int = 1000) -> list[str]:
        """Papers this user has upvoted, newest vote first."""
        query = (
            sa.select(votes.c.arxiv_id)
            .where(votes.c.user_id == user_id)
            .order_by(votes.c.created_at.desc(), votes.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(query)]

    # -- subscription requests (until the digest flow takes over) -------------

    def add_subscription_request(self, email: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(subscription_requests.insert().values(email=email, created_at=_now()))

    def subscription_requests(self) -> list[str]:
        query = sa.select(subscription_requests.c.email).order_by(subscription_requests.c.id)
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(query)]

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _insert_ignore(conn: Connection, table: sa.Table, keys: list[str]) -> Any:
        """INSERT … ON CONFLICT (keys) DO NOTHING for SQLite and PostgreSQL."""
        if conn.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
