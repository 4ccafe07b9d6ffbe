"""The corpus features of one store, built once and kept current (the recommender's only I/O).

Papers come from the Store, vectors from the SemanticIndex (when installed). The features
are rebuilt when the store's papers or the embedded vectors change, checked at most every
CHECK_SECONDS; a small change (under REFIT_FRACTION of the corpus) is applied in place
with the fitted tf-idf vocabulary, a large one refits it.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta

from paperwire.models import Paper
from paperwire.recommend.corpus import CorpusDoc, CorpusFeatures, FloatArray, build_corpus
from paperwire.recommend.update import update_corpus
from paperwire.search.semantic import SemanticIndex
from paperwire.search.vectors import VectorIndex
from paperwire.store import Store
from paperwire.store.codec import content_hash

CHECK_SECONDS = 30.0
# The corpus is built from the newest papers (whole listing days, at least this many).
# Candidates are never older than 90 days ("For you" windows, digests); older papers join
# when a reader's library or an older window needs them (CorpusSource.include). Measured
# (one process, benchmarks' data dirs): building over all 74,728 papers took 61 s and
# peaked at 2.1 GB; over all 300,000 (synthetic) 144 s and 5.1 GB (before fit_text and the
# streamed build, README "The recommender's memory at 1 M"). A capped corpus stops
# growing with the store.
CORPUS_PAPERS = 100_000
REFIT_FRACTION = 0.2
FETCH_BATCH = 5000  # changed papers read at a time to learn whether they belong
SYNC_MARGIN = timedelta(seconds=60)  # commits this close to a read may not be visible to it


class CorpusSource:
    def __init__(
        self, store: Store, semantic: SemanticIndex | None, papers: int | None = CORPUS_PAPERS
    ) -> None:
        self.store = store
        self.semantic = semantic
        self.papers = papers  # None or 0: the whole store
        self.start: date | None = None  # the first listing day built from (None: all)
        self._corpus: CorpusFeatures | None = None
        self._hashes: dict[str, str] = {}
        self._vectors_seen = -1
        self._synced_at: datetime | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.builds = 0  # full builds (tests read it)

    def _vectors(self, ids: Iterable[str]) -> Mapping[str, FloatArray]:
        """The vectors of those of `ids` that have one, read from the index when asked
        for (a dict of 100,000 vectors held ~240 MB more while the corpus was built)."""
        if self.semantic is None or not SemanticIndex.installed():
            return {}
        return _IndexVectors(self.semantic.refresh(), ids)

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

    def _kept(self, doc: CorpusDoc) -> bool:
        """Whether a changed paper belongs in the corpus: it is in it, or in its window."""
        assert self._corpus is not None
        if doc.arxiv_id in self._corpus.row or self.start is None:
            return True
        return doc.day is not None and doc.day >= self.start

    def invalidate(self) -> None:
        """Check the store on the next call (after an import, or in tests)."""
        self._checked = 0.0

    def _build(self) -> None:
        started = datetime.now(UTC)
        # the corpus's own papers only: at 1 M papers, every (id, hash) pair of the store
        # took 8.9 s to read and ~190 MB to hold, for a corpus of 100,000
        self._corpus = None  # a refit: the old features go before the new are built
        self._hashes = {}
        docs: list[CorpusDoc] = []
        for batch in self._window_papers():
            self._hashes.update((p.arxiv_id, content_hash(p)) for p in batch)
            docs += [CorpusDoc.from_paper(p) for p in batch]
        vectors = self._vectors([d.arxiv_id for d in docs])
        self._vectors_seen = self._vector_count()
        version = f"{started.isoformat()}:{len(docs)}:{len(vectors)}"
        self._corpus = build_corpus(docs, vectors, version)
        self._synced_at = started
        self._checked = time.monotonic()
        self.builds += 1
        del docs, vectors
        _return_freed_memory()

    def _window_papers(self) -> Iterator[list[Paper]]:
        """The newest `papers` live papers in batches, in whole listing days (every live
        paper when the store holds no more, or without `papers`)."""
        self.start = self.store.nth_newest_day(self.papers) if self.papers else None
        if self.start is None:
            for batch in self.store.iter_papers():
                yield [p for p in batch if not p.deleted]
        else:
            yield from self.store.iter_papers_listed(self.start, date.max)

    def include(self, ids: Iterable[str], since: date | None = None) -> CorpusFeatures:
        """The current features, with the papers of `ids` (a reader's library) and those
        listed from `since` on added when the window left them out."""
        corpus = self.corpus()
        with self._lock:
            corpus = self._corpus or corpus
            missing = [i for i in dict.fromkeys(ids) if i not in corpus.row]
            found = [p for p in self.store.get_papers(missing).values() if not p.deleted]
            if since is not None and self.start is not None and since < self.start:
                older = self.store.papers_listed(since, self.start - timedelta(days=1))
                found += [p for p in older if p.arxiv_id not in corpus.row]
                self.start = since
            if not found:
                return corpus
            docs = list({p.arxiv_id: CorpusDoc.from_paper(p) for p in found}.values())
            vectors = self._vectors([d.arxiv_id for d in docs])
            version = f"{corpus.version}+{len(corpus) + len(docs)}"
            self._corpus = update_corpus(corpus, docs, [], vectors, version)
            return self._corpus

    def _catch_up(self) -> None:
        """Apply what changed since the last check: papers of the corpus changed or
        deleted, and new or changed papers of its window (fetched to learn their day;
        changes outside the window are dropped). Refit when that passes REFIT_FRACTION."""
        assert self._corpus is not None and self._synced_at is not None
        started = datetime.now(UTC)
        latest: dict[str, tuple[str, bool]] = {}  # a paper changed twice may come twice
        for batch in self.store.iter_content_hashes(self._synced_at - SYNC_MARGIN):
            latest.update((arxiv_id, (digest, deleted)) for arxiv_id, digest, deleted in batch)
        gone = [i for i, (_h, deleted) in latest.items() if deleted and i in self._corpus.row]
        changed = {  # id -> new digest, of live papers not known to be current
            i: digest
            for i, (digest, deleted) in latest.items()
            if not deleted and self._hashes.get(i) != digest
        }
        for arxiv_id in gone:
            self._hashes.pop(arxiv_id, None)
        vector_count = self._vector_count()
        self._checked = time.monotonic()
        if not changed and not gone and vector_count == self._vectors_seen:
            return
        limit = REFIT_FRACTION * max(1, len(self._corpus))
        docs = self._kept_docs(list(changed), limit - len(gone))
        if docs is None:
            self._build()
            return
        self._hashes.update((d.arxiv_id, changed[d.arxiv_id]) for d in docs)
        missing = [
            i for i, has in zip(self._corpus.ids, self._corpus.has_vector, strict=True) if not has
        ]
        vectors = self._vectors([*(d.arxiv_id for d in docs), *missing])
        version = f"{started.isoformat()}:{len(self._corpus) + len(docs)}:{vector_count}"
        self._corpus = update_corpus(self._corpus, docs, gone, vectors, version)
        self._vectors_seen = vector_count
        self._synced_at = started

    def _kept_docs(self, ids: list[str], limit: float) -> list[CorpusDoc] | None:
        """The documents of those of `ids` that belong in the corpus (_kept), read a batch
        at a time; None once there are more than `limit` (the caller refits instead)."""
        docs: list[CorpusDoc] = []
        for start in range(0, len(ids), FETCH_BATCH):
            papers = self.store.get_papers(ids[start : start + FETCH_BATCH])
            fetched = (CorpusDoc.from_paper(p) for p in papers.values() if not p.deleted)
            docs += [d for d in fetched if self._kept(d)]
            if len(docs) > limit:
                return None
        return docs


class _IndexVectors(Mapping[str, FloatArray]):
    """The vectors of `ids` in a vector index, each read when asked for."""

    def __init__(self, index: VectorIndex, ids: Iterable[str]) -> None:
        self.index = index
        self.ids = [i for i in dict.fromkeys(ids) if i and i in index]

    def __getitem__(self, arxiv_id: str) -> FloatArray:
        vector = self.index.vector(arxiv_id)
        if vector is None:
            raise KeyError(arxiv_id)
        return vector

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def _return_freed_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim) after a
    build: the ~100,000 Papers, documents and features it read and dropped stayed mapped
    otherwise (at 1 M papers a worker kept 2.3 GB after a build, 1.9 GB once trimmed)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to do
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
