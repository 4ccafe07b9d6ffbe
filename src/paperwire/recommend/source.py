"""The corpus features of one store, built once and kept current (the recommender's only I/O).

Papers come from the Store, vectors from the SemanticIndex (when installed). The features
are rebuilt when the store's papers or the embedded vectors change, checked at most every
CHECK_SECONDS; a small change (under REFIT_FRACTION of the corpus) is applied in place
with the fitted tf-idf vocabulary, a large one refits it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from paperwire.recommend.corpus import CorpusDoc, CorpusFeatures, FloatArray, build_corpus
from paperwire.recommend.update import update_corpus
from paperwire.search.semantic import SemanticIndex
from paperwire.store import Store

CHECK_SECONDS = 30.0
REFIT_FRACTION = 0.2
SYNC_MARGIN = timedelta(seconds=60)  # commits this close to a read may not be visible to it


class CorpusSource:
    def __init__(self, store: Store, semantic: SemanticIndex | None) -> None:
        self.store = store
        self.semantic = semantic
        self._corpus: CorpusFeatures | None = None
        self._hashes: dict[str, str] = {}
        self._vectors_seen = -1
        self._synced_at: datetime | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.builds = 0  # full builds (tests read it)

    def _vectors(self, ids: Iterable[str] | None = None) -> dict[str, FloatArray]:
        if self.semantic is None or not SemanticIndex.installed():
            return {}
        index = self.semantic.refresh()
        wanted = index.ids if ids is None else ids
        out: dict[str, FloatArray] = {}
        for arxiv_id in wanted:
            vector = index.vector(arxiv_id) if arxiv_id else None
            if vector is not None:
                out[arxiv_id] = vector
        return out

    def _vector_count(self) -> int:
        if self.semantic is None or not SemanticIndex.installed():
            return 0
        return len(self.semantic.refresh())

    def corpus(self) -> CorpusFeatures:
        """The current features (checked against the store at most every CHECK_SECONDS)."""
        with self._lock:
            due = time.monotonic() - self._checked >= CHECK_SECONDS
            if self._corpus is None:
                self._build()
            elif due:
                self._catch_up()
            assert self._corpus is not None
            return self._corpus

    def invalidate(self) -> None:
        """Check the store on the next call (after an import, or in tests)."""
        self._checked = 0.0

    def _build(self) -> None:
        started = datetime.now(UTC)
        self._hashes = {
            i: h
            for batch in self.store.iter_content_hashes(datetime.min.replace(tzinfo=UTC))
            for i, h, deleted in batch
            if not deleted
        }
        papers = [p for batch in self.store.iter_papers() for p in batch if not p.deleted]
        docs = [CorpusDoc.from_paper(p) for p in papers]
        vectors = self._vectors()
        self._vectors_seen = len(vectors)
        version = f"{started.isoformat()}:{len(docs)}:{len(vectors)}"
        self._corpus = build_corpus(docs, vectors, version)
        self._synced_at = started
        self._checked = time.monotonic()
        self.builds += 1

    def _catch_up(self) -> None:
        assert self._corpus is not None and self._synced_at is not None
        started = datetime.now(UTC)
        changed: list[str] = []
        gone: list[str] = []
        for batch in self.store.iter_content_hashes(self._synced_at - SYNC_MARGIN):
            for arxiv_id, digest, deleted in batch:
                if deleted and arxiv_id in self._hashes:
                    gone.append(arxiv_id)
                elif not deleted and self._hashes.get(arxiv_id) != digest:
                    changed.append(arxiv_id)
                    self._hashes[arxiv_id] = digest
        for arxiv_id in gone:
            self._hashes.pop(arxiv_id, None)
        vector_count = self._vector_count()
        self._checked = time.monotonic()
        if not changed and not gone and vector_count == self._vectors_seen:
            return
        if len(changed) + len(gone) > REFIT_FRACTION * max(1, len(self._corpus)):
            self._build()
            return
        papers = self.store.get_papers(changed)
        docs = [CorpusDoc.from_paper(p) for p in papers.values() if not p.deleted]
        missing = [
            i for i, has in zip(self._corpus.ids, self._corpus.has_vector, strict=True) if not has
        ]
        vectors = self._vectors([*changed, *missing])
        version = f"{started.isoformat()}:{len(self._hashes)}:{vector_count}"
        self._corpus = update_corpus(self._corpus, docs, gone, vectors, version)
        self._vectors_seen = vector_count
        self._synced_at = started
