"""The reader's library: collections, thumbs up/down, followed authors, and the signals a
recommender reads (see library_tables.py; API tokens: store/api_tokens.py).

Every method that reads or changes a reader's data takes their `user_id` and filters on
it in SQL: a collection id of another account is simply not found.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from paperwire.models import (
    Collection,
    CollectionEntry,
    LibraryItem,
    ReaderSignals,
)
from paperwire.names import author_key
from paperwire.store.accounts import AccountStore
from paperwire.store.digest_tables import subscribers
from paperwire.store.library_tables import (
    author_follows,
    collection_items,
    collections,
    ratings,
)
from paperwire.store.schema import papers
from paperwire.store.web_tables import users, votes

_CHUNK = 500
ITEM_SORTS = ("added", "date", "title")


class LibraryConflict(ValueError):
    """The change clashes with what is stored (e.g. a collection name already in use)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def name_key(name: str) -> str:
    """Collection names compare as they look: without extra spaces, case-insensitively and
    in one Unicode form (NFKC), so "Café" typed as é or as e + a combining accent, or "ﬁ"
    and "fi", are one name. Migration 0012_collection_keys rekeyed rows of the older rule."""
    folded = unicodedata.normalize("NFKC", " ".join(name.split())).casefold()
    return unicodedata.normalize("NFKC", folded)


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def _collection(row: Any) -> Collection:
    size = int(getattr(row, "size", 0) or 0)
    return Collection(int(row.id), int(row.user_id), str(row.name), _aware(row.created_at), size)


class LibraryStore:
    """Typed access to the library tables; each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- collections -------------------------------------------------------------

    def _collections_query(self, user_id: int) -> sa.Select[Any]:
        size = sa.func.count(collection_items.c.arxiv_id).label("size")
        return (
            sa.select(*collections.c, size)
            .select_from(
                collections.outerjoin(
                    collection_items, collection_items.c.collection_id == collections.c.id
                )
            )
            .where(collections.c.user_id == user_id)
            .group_by(*collections.c)
        )

    def list_collections(self, user_id: int) -> list[Collection]:
        """The reader's collections, oldest first (so "Saved", made first, leads)."""
        query = self._collections_query(user_id).order_by(collections.c.id)
        with self.engine.connect() as conn:
            return [_collection(r) for r in conn.execute(query)]

    def get_collection(self, user_id: int, collection_id: int) -> Collection | None:
        """The collection if it exists *and belongs to* `user_id`."""
        query = self._collections_query(user_id).where(collections.c.id == collection_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _collection(row) if row else None

    def find_collection(self, user_id: int, name: str) -> Collection | None:
        query = self._collections_query(user_id).where(collections.c.name_key == name_key(name))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _collection(row) if row else None

    def create_collection(self, user_id: int, name: str) -> Collection:
        """A new empty collection; LibraryConflict if the reader has one of that name."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    collections.insert().values(
                        user_id=user_id, name=name, name_key=name_key(name), created_at=now
                    )
                )
        except sa.exc.IntegrityError:
            raise LibraryConflict(f"you already have a collection called {name!r}") from None
        key = done.inserted_primary_key
        assert key is not None
        return Collection(int(key[0]), user_id, name, now, 0)

    def ensure_collection(self, user_id: int, name: str) -> Collection:
        """The reader's collection of that name, made if missing (safe under races)."""
        with self.engine.begin() as conn:
            stmt = AccountStore._insert_ignore(conn, collections, ["user_id", "name_key"])
            conn.execute(
                stmt.values(user_id=user_id, name=name, name_key=name_key(name), created_at=_now())
            )
        found = self.find_collection(user_id, name)
        assert found is not None
        return found

    def rename_collection(self, user_id: int, collection_id: int, name: str) -> bool:
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    collections.update()
                    .where(collections.c.id == collection_id, collections.c.user_id == user_id)
                    .values(name=name, name_key=name_key(name))
                )
        except sa.exc.IntegrityError:
            raise LibraryConflict(f"you already have a collection called {name!r}") from None
        return done.rowcount == 1

    def delete_collection(self, user_id: int, collection_id: int) -> bool:
        """Delete the collection and its items (the papers themselves stay)."""
        with self.engine.begin() as conn:
            if not self._owns(conn, user_id, collection_id):
                return False
            conn.execute(
                collection_items.delete().where(collection_items.c.collection_id == collection_id)
            )
            conn.execute(collections.delete().where(collections.c.id == collection_id))
        return True

    @staticmethod
    def _owns(conn: Connection, user_id: int, collection_id: int) -> bool:
        query = sa.select(collections.c.id).where(
            collections.c.id == collection_id, collections.c.user_id == user_id
        )
        return conn.execute(query).first() is not None

    # -- collection items --------------------------------------------------------

    def items(
        self,
        user_id: int,
        collection_id: int,
        sort: str = "added",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CollectionEntry]:
        """The collection's papers: newest added first, by paper date (newest first) or
        by title; `limit` from `offset`. Empty when the collection is not the reader's."""
        if sort not in ITEM_SORTS:
            raise ValueError(f"sort must be one of {', '.join(ITEM_SORTS)}")
        day = sa.func.coalesce(papers.c.listing_date, papers.c.hf_date, papers.c.submitted)
        orders: dict[str, Any] = {
            "added": collection_items.c.added_at.desc(),
            "date": day.desc().nulls_last(),
            "title": sa.func.lower(papers.c.title),
        }
        joined = collection_items.join(
            collections, collections.c.id == collection_items.c.collection_id
        )
        if sort != "added":  # the paper's date or title decides the order
            joined = joined.outerjoin(papers, papers.c.arxiv_id == collection_items.c.arxiv_id)
        query = (
            sa.select(
                collection_items.c.arxiv_id, collection_items.c.added_at, collection_items.c.note
            )
            .select_from(joined)
            .where(collections.c.id == collection_id, collections.c.user_id == user_id)
            .order_by(orders[sort], collection_items.c.arxiv_id)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [
                CollectionEntry(str(r.arxiv_id), _aware(r.added_at), str(r.note or ""))
                for r in conn.execute(query)
            ]

    def add_items(
        self, user_id: int, collection_id: int, arxiv_ids: Sequence[str], note: str = ""
    ) -> tuple[int, int] | None:
        """Add papers (already in the collection: left as they are). (added, already
        there), or None when the collection is not the reader's."""
        unique = list(dict.fromkeys(arxiv_ids))
        now = _now()
        with self.engine.begin() as conn:
            if not self._owns(conn, user_id, collection_id):
                return None
            present: set[str] = set()
            for chunk in _chunks(unique):
                query = sa.select(collection_items.c.arxiv_id).where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.arxiv_id.in_(chunk),
                )
                present.update(str(r[0]) for r in conn.execute(query))
            rows = [
                {"collection_id": collection_id, "arxiv_id": i, "added_at": now, "note": note}
                for i in unique
                if i not in present
            ]
            if rows:
                stmt = AccountStore._insert_ignore(
                    conn, collection_items, ["collection_id", "arxiv_id"]
                )
                conn.execute(stmt, rows)
        return len(rows), len(unique) - len(rows)

    def put_item(
        self, user_id: int, collection_id: int, arxiv_id: str, note: str | None = None
    ) -> CollectionEntry | None:
        """Add one paper, or keep it, and set its note when `note` is given: one upsert
        (INSERT … ON CONFLICT DO UPDATE … RETURNING), so a removal running at the same time
        never leaves this without its row. The row as stored, or None when the collection
        is not the reader's."""
        with self.engine.begin() as conn:
            if not self._owns(conn, user_id, collection_id):
                return None
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(collection_items).values(
                collection_id=collection_id, arxiv_id=arxiv_id, added_at=_now(), note=note or ""
            )
            kept = collection_items.c.note if note is None else stmt.excluded.note
            row = conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["collection_id", "arxiv_id"], set_={"note": kept}
                ).returning(
                    collection_items.c.arxiv_id,
                    collection_items.c.added_at,
                    collection_items.c.note,
                )
            ).one()
        return CollectionEntry(str(row.arxiv_id), _aware(row.added_at), str(row.note or ""))

    def remove_item(self, user_id: int, collection_id: int, arxiv_id: str) -> bool:
        with self.engine.begin() as conn:
            if not self._owns(conn, user_id, collection_id):
                return False
            done = conn.execute(
                collection_items.delete().where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.arxiv_id == arxiv_id,
                )
            )
        return done.rowcount == 1

    def set_note(self, user_id: int, collection_id: int, arxiv_id: str, note: str) -> bool:
        with self.engine.begin() as conn:
            if not self._owns(conn, user_id, collection_id):
                return False
            done = conn.execute(
                collection_items.update()
                .where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.arxiv_id == arxiv_id,
                )
                .values(note=note)
            )
        return done.rowcount == 1

    def saved_in(self, user_id: int, arxiv_ids: Sequence[str]) -> dict[str, list[int]]:
        """For each of `arxiv_ids` the reader saved: the ids of the collections holding it."""
        out: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(arxiv_ids):
                query = (
                    sa.select(collection_items.c.arxiv_id, collections.c.id)
                    .join(collections, collections.c.id == collection_items.c.collection_id)
                    .where(collections.c.user_id == user_id, collection_items.c.arxiv_id.in_(chunk))
                    .order_by(collections.c.id)
                )
                for arxiv_id, cid in conn.execute(query):
                    out.setdefault(str(arxiv_id), []).append(int(cid))
        return out

    # -- thumbs up / down --------------------------------------------------------

    def set_rating(self, user_id: int, arxiv_id: str, rating: int) -> None:
        """+1 (thumbs up), -1 (thumbs down, "not interested") or 0 (no opinion)."""
        with self.engine.begin() as conn:
            conn.execute(
                ratings.delete().where(ratings.c.user_id == user_id, ratings.c.arxiv_id == arxiv_id)
            )
            if rating:
                conn.execute(
                    ratings.insert().values(
                        user_id=user_id,
                        arxiv_id=arxiv_id,
                        rating=1 if rating > 0 else -1,
                        rated_at=_now(),
                    )
                )

    def ratings_of(self, user_id: int, arxiv_ids: Sequence[str] | None = None) -> dict[str, int]:
        """The reader's ratings (+1/-1), of `arxiv_ids` or of every paper they rated."""
        base = sa.select(ratings.c.arxiv_id, ratings.c.rating).where(ratings.c.user_id == user_id)
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            if arxiv_ids is None:
                query = base.order_by(ratings.c.rated_at.desc(), ratings.c.arxiv_id)
                return {str(k): int(v) for k, v in conn.execute(query)}
            for chunk in _chunks(arxiv_ids):
                out.update(
                    {
                        str(k): int(v)
                        for k, v in conn.execute(base.where(ratings.c.arxiv_id.in_(chunk)))
                    }
                )
        return out

    # -- followed authors ----------------------------------------------------------
    # An account and a digest subscription with the same email address share one list:
    # follows made on the site are written to the subscriber's `followed_authors` too, the
    # digest's manage page writes its list back here (set_follows_for_email), and reading
    # takes both, so the two always agree.

    def follows(self, user_id: int) -> list[str]:
        """Followed author names (as first written), in the order they were followed."""
        with self.engine.connect() as conn:
            return self._follows(conn, user_id)

    def _follows(self, conn: Connection, user_id: int) -> list[str]:
        query = (
            sa.select(author_follows.c.name)
            .where(author_follows.c.user_id == user_id)
            .order_by(author_follows.c.followed_at, author_follows.c.name_key)
        )
        names = [str(r[0]) for r in conn.execute(query)]
        seen = {author_key(n) for n in names}
        for name in self._subscriber_follows(conn, user_id):
            if author_key(name) not in seen:
                seen.add(author_key(name))
                names.append(name)
        return names

    @staticmethod
    def _subscriber_row(conn: Connection, user_id: int) -> Any:
        query = (
            sa.select(subscribers.c.id, subscribers.c.followed_authors, subscribers.c.categories)
            .join(users, users.c.email == subscribers.c.email)
            .where(users.c.id == user_id)
        )
        return conn.execute(query).first()

    def _subscriber_follows(self, conn: Connection, user_id: int) -> list[str]:
        row = self._subscriber_row(conn, user_id)
        return [str(n) for n in (row.followed_authors or [])] if row else []

    def follow(self, user_id: int, name: str) -> bool:
        """Follow `name` (False if already followed under any spelling of it)."""
        key = author_key(name)
        with self.engine.begin() as conn:
            stmt = AccountStore._insert_ignore(conn, author_follows, ["user_id", "name_key"])
            had = conn.execute(
                sa.select(author_follows.c.name).where(
                    author_follows.c.user_id == user_id, author_follows.c.name_key == key
                )
            ).first()
            conn.execute(stmt.values(user_id=user_id, name_key=key, name=name, followed_at=_now()))
            row = self._subscriber_row(conn, user_id)
            if row is not None:
                current = [str(n) for n in (row.followed_authors or [])]
                if key not in {author_key(n) for n in current}:
                    self._write_subscriber_follows(conn, int(row.id), [*current, name])
        return had is None

    def unfollow(self, user_id: int, name: str) -> bool:
        key = author_key(name)
        with self.engine.begin() as conn:
            removed = (
                conn.execute(
                    author_follows.delete().where(
                        author_follows.c.user_id == user_id, author_follows.c.name_key == key
                    )
                ).rowcount
                > 0
            )
            row = self._subscriber_row(conn, user_id)
            if row is not None:
                current = [str(n) for n in (row.followed_authors or [])]
                kept = [n for n in current if author_key(n) != key]
                if len(kept) != len(current):
                    self._write_subscriber_follows(conn, int(row.id), kept)
                    removed = True
        return removed

    @staticmethod
    def _write_subscriber_follows(conn: Connection, subscriber_id: int, names: list[str]) -> None:
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == subscriber_id)
            .values(followed_authors=names)
        )

    def set_follows_for_email(self, email: str, names: Sequence[str]) -> None:
        """Make the account with this email (if any) follow exactly `names` (the digest's
        manage page saved this list for the same address)."""
        now = _now()
        with self.engine.begin() as conn:
            user_id = conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar()
            if user_id is None:
                return
            conn.execute(author_follows.delete().where(author_follows.c.user_id == user_id))
            rows: dict[str, dict[str, Any]] = {}
            for offset, name in enumerate(names):
                rows.setdefault(
                    author_key(name),
                    {
                        "user_id": user_id,
                        "name_key": author_key(name),
                        "name": name,
                        "followed_at": now + timedelta(microseconds=offset),
                    },
                )
            if rows:
                conn.execute(author_follows.insert(), list(rows.values()))

    def _values_by_email(
        self, emails: Sequence[str], value: sa.Column[Any], *where: Any, then: Sequence[Any] = ()
    ) -> Iterable[tuple[str, str]]:
        """(email, value) for the accounts with these emails: `value` is a column of a
        per-reader table (one with user_id); its rows matching `where`, each email's in
        `then` order."""
        table = value.table
        with self.engine.connect() as conn:
            for chunk in _chunks(list(emails)):
                query = (
                    sa.select(users.c.email, value)
                    .join(table, table.c.user_id == users.c.id)
                    .where(users.c.email.in_(chunk), *where)
                    .order_by(users.c.email, *then)
                )
                for email, found in conn.execute(query):
                    yield str(email), str(found)

    def follows_by_email(self, emails: Sequence[str]) -> dict[str, list[str]]:
        """Names followed from the accounts with these emails (for digest composing)."""
        out: dict[str, list[str]] = {}
        for email, name in self._values_by_email(
            emails, author_follows.c.name, then=[author_follows.c.followed_at]
        ):
            out.setdefault(email, []).append(name)
        return out

    def dismissed_by_email(self, emails: Sequence[str]) -> dict[str, set[str]]:
        """Papers marked "not interested" by the accounts with these emails."""
        out: dict[str, set[str]] = {}
        for email, arxiv_id in self._values_by_email(
            emails, ratings.c.arxiv_id, ratings.c.rating < 0
        ):
            out.setdefault(email, set()).add(arxiv_id)
        return out

    # -- what a recommender may know -------------------------------------------------

    def reader_signals(self, user_id: int) -> ReaderSignals:
        """Positives: saved papers (source = the collection's name), upvotes ("upvoted")
        and thumbs up ("liked"); negatives: thumbs down; the followed authors; the
        categories of the digest subscription with the reader's email; exclude: saved and
        dismissed papers. Positives are newest first; a paper saved in two collections
        appears once per collection."""
        with self.engine.connect() as conn:
            saved = conn.execute(
                sa.select(
                    collection_items.c.arxiv_id, collections.c.name, collection_items.c.added_at
                )
                .join(collections, collections.c.id == collection_items.c.collection_id)
                .where(collections.c.user_id == user_id)
            ).all()
            upvoted = conn.execute(
                sa.select(votes.c.arxiv_id, votes.c.created_at).where(votes.c.user_id == user_id)
            ).all()
            rated = conn.execute(
                sa.select(ratings.c.arxiv_id, ratings.c.rating, ratings.c.rated_at).where(
                    ratings.c.user_id == user_id
                )
            ).all()
            follows = self._follows(conn, user_id)
            subscriber = self._subscriber_row(conn, user_id)
        positives = [LibraryItem(str(a), str(n), _aware(t)) for a, n, t in saved]
        positives += [LibraryItem(str(a), "upvoted", _aware(t)) for a, t in upvoted]
        positives += [LibraryItem(str(a), "liked", _aware(t)) for a, r, t in rated if r > 0]
        positives.sort(key=lambda item: (item.added_at, item.arxiv_id), reverse=True)
        negatives = tuple(sorted(str(a) for a, r, _ in rated if r < 0))
        categories = [str(c) for c in (subscriber.categories or [])] if subscriber else []
        return ReaderSignals(
            user_id=user_id,
            positives=tuple(positives),
            negatives=negatives,
            followed_authors=tuple(follows),
            categories=tuple(categories),
            exclude=frozenset({str(a) for a, _, _ in saved} | set(negatives)),
        )
