"""Semantic search answered by the database (vector_backend = pgvector).

The same embedding path as :class:`~paperwire.search.semantic.SemanticIndex` (vectors are
saved through the store, batch by batch), but no vector index in the data directory: every
`paperwire serve` host asks PostgreSQL's HNSW index, so a vector stored by any host is
found by all of them at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paperwire.config import Settings
from paperwire.search.embed import Vectors
from paperwire.search.semantic import SemanticIndex
from paperwire.store import Store
from paperwire.store.shared_vectors import SharedVectorStore


class SharedSemanticIndex(SemanticIndex):
    """Nearest neighbours from pgvector instead of a local index."""

    def __init__(self, settings: Settings, store: Store) -> None:
        super().__init__(settings, store)
        self.shared = SharedVectorStore(store)

    def after_embedding(self) -> None:
        self.shared.fill_missing()

    def rebuild(self) -> int:
        """Fill the pgvector column for vectors stored before it existed; returns the
        number of embedded papers."""
        self.shared.fill_missing()
        self._coverage = None
        return self.coverage()[0]

    def search(self, text: str, k: int) -> list[tuple[str, float]]:
        if not text.strip() or k <= 0:
            return []
        return self.shared.nearest(self.model_id, self.query_vector(text), k)

    def neighbours(self, arxiv_id: str, k: int) -> list[tuple[str, float]]:
        vector = self.shared.stored_vector(self.model_id, arxiv_id)
        if vector is None:
            return []
        return self.shared.nearest(self.model_id, vector, k, exclude=arxiv_id)

    def vectors(self, arxiv_ids: Sequence[str]) -> dict[str, Vectors]:
        """The stored vectors of those of `arxiv_ids` that are embedded (one query)."""
        rows = self.vectors_store.vectors(self.model_id, arxiv_ids)
        return {r.arxiv_id: np.frombuffer(r.vector, dtype=np.float32) for r in rows}
