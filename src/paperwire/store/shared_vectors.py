"""Vectors in PostgreSQL (pgvector): the `embeddings.embedding` halfvec column and its HNSW
index, so several app servers answer semantic searches from the database itself.

The column exists only on PostgreSQL with the `vector` extension (migration 0007_scale, or
:func:`add_vector_column` later). When it exists, every saved vector is written to it too
(see EmbeddingStore.save), whichever `vector_backend` the writing host uses.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from pgvector.sqlalchemy import HALFVEC
from sqlalchemy.engine import Connection, Engine

from paperwire.store.base import Store, StoreError
from paperwire.store.schema import papers
from paperwire.store.search_tables import embeddings

DIMENSION = 384
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH = 100  # candidates per query (pgvector's default is 40); recall@10 > 0.95
INDEX_NAME = "embeddings_embedding_hnsw"

# The pgvector column of `embeddings`, as a lightweight table (SQLite has no such column).
vector_column = sa.table(
    "embeddings",
    sa.column("arxiv_id", sa.String),
    sa.column("model", sa.String),
    sa.column("vector", sa.LargeBinary),
    sa.column("embedding", HALFVEC(DIMENSION)),
)
# `embeddings` with that column, for inserts that fill it
embeddings_with_vector = sa.table(
    "embeddings",
    *(sa.column(c.name, c.type) for c in embeddings.columns),
    sa.column("embedding", HALFVEC(DIMENSION)),
)


def extension_available(conn: Connection) -> bool:
    """The server can load pgvector (its files are installed)."""
    query = sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    return conn.execute(query).first() is not None


def add_vector_column(conn: Connection) -> bool:
    """Create the extension, the halfvec column and its HNSW index; False if this server
    has no pgvector or this role may not create the extension (nothing is changed then)."""
    if conn.dialect.name != "postgresql" or not extension_available(conn):
        return False
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError:
        return False
    conn.execute(
        sa.text(f"ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS embedding halfvec({DIMENSION})")
    )
    conn.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON embeddings USING hnsw "
            f"(embedding halfvec_ip_ops) WITH (m = {HNSW_M}, "
            f"ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
    )
    return True


def has_vector_column(engine: Engine) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    columns = sa.inspect(engine).get_columns("embeddings")
    return any(c["name"] == "embedding" for c in columns)


class SharedVectorStore:
    """Nearest-neighbour search over the vectors kept in PostgreSQL."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        if not has_vector_column(self.engine):
            with self.engine.begin() as conn:
                added = add_vector_column(conn)
            if not added:
                raise StoreError(
                    "vector_backend = pgvector: this PostgreSQL server has no usable pgvector "
                    "extension (install pgvector, or let a superuser run CREATE EXTENSION "
                    "vector), or use vector_backend = local"
                )

    def fill_missing(self, chunk: int = 2000) -> int:
        """Copy vectors saved before the column existed into it; returns how many."""
        done = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    sa.select(vector_column.c.arxiv_id, vector_column.c.vector)
                    .where(vector_column.c.embedding.is_(None))
                    .limit(chunk)
                ).all()
                if not rows:
                    return done
                conn.execute(
                    sa.update(vector_column)
                    .where(vector_column.c.arxiv_id == sa.bindparam("id"))
                    .values(embedding=sa.bindparam("vec", type_=HALFVEC(DIMENSION))),
                    [
                        {"id": r.arxiv_id, "vec": np.frombuffer(r.vector, dtype=np.float32)}
                        for r in rows
                    ],
                )
            done += len(rows)

    def nearest(
        self,
        model: str,
        query: npt.NDArray[np.float32],
        k: int,
        exclude: str | None = None,
    ) -> list[tuple[str, float]]:
        """The `k` live papers nearest to the unit vector `query`: (arxiv_id, cosine)."""
        if k <= 0:
            return []
        distance = vector_column.c.embedding.max_inner_product(query.astype(np.float32))
        select = (
            sa.select(vector_column.c.arxiv_id, distance.label("distance"))
            .select_from(vector_column.join(papers, papers.c.arxiv_id == vector_column.c.arxiv_id))
            .where(
                papers.c.deleted.is_(False),
                vector_column.c.model == model,
                vector_column.c.embedding.is_not(None),
            )
            .order_by(distance)
            .limit(k)
        )
        if exclude is not None:
            select = select.where(vector_column.c.arxiv_id != exclude)
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, k)}"))
            # filters (deleted, model) are applied after the index scan: keep scanning
            # until k rows pass them
            conn.execute(sa.text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            rows = conn.execute(select).all()
        # <#> is the negative inner product: the cosine of unit vectors is its negation
        pairs = [(r.arxiv_id, -float(r.distance)) for r in rows]
        pairs.sort(key=lambda p: -p[1])  # relaxed order: a scan may return slightly out of order
        return pairs

    def stored_vector(self, model: str, arxiv_id: str) -> npt.NDArray[np.float32] | None:
        with self.engine.connect() as conn:
            blob = conn.execute(
                sa.select(embeddings.c.vector).where(
                    embeddings.c.arxiv_id == arxiv_id, embeddings.c.model == model
                )
            ).scalar_one_or_none()
        return None if blob is None else np.frombuffer(blob, dtype=np.float32).copy()
