"""Storage of paper embeddings. Each public method is one transaction, so an embedding run
killed at any moment keeps every batch it committed and loses nothing else."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from paperwire.store.base import Store
from paperwire.store.schema import papers
from paperwire.store.search_tables import embeddings
from paperwire.store.shared_vectors import embeddings_with_vector, has_vector_column


@dataclass(frozen=True, slots=True)
class PendingPaper:
    """A live paper whose vector is missing or may be stale."""

    arxiv_id: str
    title: str
    abstract: str
    paper_hash: str
    text_hash: str | None  # of the stored vector's text, None when there is none


class VectorsVersion(NamedTuple):
    """EmbeddingStore.version: what a reader compares to notice changes, and where its
    incremental sync starts from (the newest vector's and the newest deletion's time)."""

    vectors: int  # rows of the model
    newest: datetime | None  # embedded_at of the newest
    deleted: int  # deleted papers
    last_deleted: datetime | None  # modified_at of the newest deleted paper


@dataclass(frozen=True, slots=True)
class StoredVector:
    arxiv_id: str
    paper_hash: str
    text_hash: str
    vector: bytes


# The deleted papers, written as ix_papers_deleted's condition (0010_counts) so that the
# partial index serves every query that asks for them.
_DELETED = papers.c.deleted == sa.true()


def _stored(row: sa.Row[Any]) -> StoredVector:
    return StoredVector(row.arxiv_id, row.paper_hash, row.text_hash, bytes(row.vector))


def _live_join() -> sa.Join:
    return papers.join(embeddings, papers.c.arxiv_id == embeddings.c.arxiv_id)


def _upsert(dialect: str, table: sa.TableClause) -> sa.Insert:
    """INSERT … ON CONFLICT (arxiv_id) DO UPDATE of every other column of `table`."""
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        changed = {c.name: pg.excluded[c.name] for c in table.columns if c.name != "arxiv_id"}
        return pg.on_conflict_do_update(index_elements=["arxiv_id"], set_=changed)
    lite = sqlite.insert(table)
    changed = {c.name: lite.excluded[c.name] for c in table.columns if c.name != "arxiv_id"}
    return lite.on_conflict_do_update(index_elements=["arxiv_id"], set_=changed)


class EmbeddingStore:
    """The `embeddings` table of one Store."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        # PostgreSQL with pgvector: vectors also go to the shared HNSW column
        self.fills_pgvector = has_vector_column(self.engine)

    def pending(
        self,
        model: str,
        limit: int,
        after: str | None = None,
        modified_since: datetime | None = None,
    ) -> list[PendingPaper]:
        """Up to `limit` live papers never embedded with `model`, or changed since, in id
        order (those with ids after `after` only, for paging through a backlog).

        With `modified_since`, only papers modified after it, oldest change first: read
        through the modified_at index, where finding that nothing at all is pending walks
        every paper (3.9-10 s at 1 M papers)."""
        joined = papers.outerjoin(embeddings, papers.c.arxiv_id == embeddings.c.arxiv_id)
        query = (
            sa.select(
                papers.c.arxiv_id,
                papers.c.title,
                papers.c.abstract,
                papers.c.content_hash,
                embeddings.c.text_hash,
                embeddings.c.model,
            )
            .select_from(joined)
            .where(papers.c.deleted.is_(False))
            .where(
                sa.or_(
                    embeddings.c.arxiv_id.is_(None),
                    embeddings.c.paper_hash != papers.c.content_hash,
                    embeddings.c.model != model,
                )
            )
            .limit(limit)
        )
        if modified_since is not None:
            query = query.where(papers.c.modified_at > modified_since)
            query = query.order_by(papers.c.modified_at, papers.c.arxiv_id)
        else:
            query = query.order_by(papers.c.arxiv_id)
        if after is not None:
            query = query.where(papers.c.arxiv_id > after)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            PendingPaper(
                arxiv_id=r.arxiv_id,
                title=r.title,
                abstract=r.abstract,
                paper_hash=r.content_hash,
                text_hash=r.text_hash if r.model == model else None,
            )
            for r in rows
        ]

    def save(self, model: str, rows: Sequence[StoredVector]) -> None:
        """Insert or replace the vectors of `rows` atomically. Savers running at once
        (two `paperwire embed` runs, a server's background embedder and an operator's
        run) merge: each row is one upsert, the last saver's vector kept, where a delete
        then insert under READ COMMITTED failed with a duplicate key for the second."""
        if not rows:
            return
        now = datetime.now(UTC)
        by_id = {r.arxiv_id: r for r in rows}  # a batch naming a paper twice: the last wins
        # in id order: concurrent savers lock shared rows in one order (no deadlock)
        ordered = [by_id[i] for i in sorted(by_id)]
        values: list[dict[str, object]] = [
            {
                "arxiv_id": r.arxiv_id,
                "model": model,
                "paper_hash": r.paper_hash,
                "text_hash": r.text_hash,
                "vector": r.vector,
                "embedded_at": now,
            }
            for r in ordered
        ]
        table: sa.TableClause = embeddings
        if self.fills_pgvector:
            table = embeddings_with_vector
            for value, row in zip(values, ordered, strict=True):
                value["embedding"] = np.frombuffer(row.vector, dtype=np.float32)
        with self.engine.begin() as conn:
            conn.execute(_upsert(conn.dialect.name, table), values)

    def mark_current(self, paper_hashes: dict[str, str]) -> None:
        """Record that these papers changed in ways that leave their embedded text alone."""
        if not paper_hashes:
            return
        with self.engine.begin() as conn:
            for arxiv_id, paper_hash in paper_hashes.items():
                conn.execute(
                    sa.update(embeddings)
                    .where(embeddings.c.arxiv_id == arxiv_id)
                    .values(paper_hash=paper_hash)
                )

    def coverage(self, model: str) -> tuple[int, int]:
        """(live papers with a `model` vector, live papers), counted from indexes: all
        papers less the deleted ones, all `model` vectors less those of deleted papers."""
        of_model = embeddings.c.model == model
        with self.engine.connect() as conn:
            every = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
            dead = conn.execute(sa.select(sa.func.count()).where(_DELETED)).scalar_one()
            vectors = conn.execute(sa.select(sa.func.count()).where(of_model)).scalar_one()
            # driven by the deleted papers (ix_papers_deleted), each looked up by id
            has_vector = sa.exists().where(embeddings.c.arxiv_id == papers.c.arxiv_id, of_model)
            dead_vectors = conn.execute(
                sa.select(sa.func.count()).select_from(papers).where(_DELETED, has_vector)
            ).scalar_one()
        return int(vectors) - int(dead_vectors), int(every) - int(dead)

    def version(self, model: str) -> VectorsVersion:
        """A fingerprint that changes whenever the set of live vectors changes: how many
        `model` vectors there are and the newest one's time, how many papers are deleted
        and the newest deletion's time. Each part is read from an index (0010_counts);
        the join it replaces took ~4 s of CPU at 1,000,000 papers."""
        of_model = embeddings.c.model == model
        count = sa.select(sa.func.count()).where(of_model)
        newest = sa.select(sa.func.max(embeddings.c.embedded_at)).where(of_model)
        dead = sa.select(sa.func.count()).where(_DELETED)
        last_dead = sa.select(sa.func.max(papers.c.modified_at)).where(_DELETED)
        with self.engine.connect() as conn:
            parts = [conn.execute(q).scalar_one() for q in (count, newest, dead, last_dead)]
        return VectorsVersion(int(parts[0]), parts[1], int(parts[2]), parts[3])

    def vectors_since(self, model: str, after: datetime) -> list[StoredVector]:
        """The `model` vectors of live papers embedded after `after` (by ix_embeddings_model)."""
        query = (
            sa.select(embeddings)
            .select_from(_live_join())
            .where(embeddings.c.model == model, embeddings.c.embedded_at > after)
            .where(papers.c.deleted.is_(False))
        )
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query)]

    def deleted_since(self, after: datetime | None = None) -> list[str]:
        """Ids of the papers deleted (last changed) after `after`, or all deleted papers
        (by ix_papers_deleted)."""
        query = sa.select(papers.c.arxiv_id).where(_DELETED)
        if after is not None:
            query = query.where(papers.c.modified_at > after)
        with self.engine.connect() as conn:
            return [str(r.arxiv_id) for r in conn.execute(query)]

    def live_hashes(self, model: str) -> dict[str, str]:
        """arxiv_id -> text_hash of every live paper's `model` vector."""
        query = (
            sa.select(embeddings.c.arxiv_id, embeddings.c.text_hash)
            .select_from(_live_join())
            .where(papers.c.deleted.is_(False), embeddings.c.model == model)
        )
        with self.engine.connect() as conn:
            return {r.arxiv_id: r.text_hash for r in conn.execute(query)}

    def vectors(self, model: str, ids: Sequence[str], chunk: int = 500) -> Iterator[StoredVector]:
        """Stored vectors of `ids` (those that exist)."""
        for start in range(0, len(ids), chunk):
            part = list(ids[start : start + chunk])
            query = sa.select(embeddings).where(
                embeddings.c.arxiv_id.in_(part), embeddings.c.model == model
            )
            with self.engine.connect() as conn:
                for r in conn.execute(query):
                    yield _stored(r)
