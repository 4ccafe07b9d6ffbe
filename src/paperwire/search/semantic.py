"""Semantic search: paper embeddings kept in the store, served from an on-disk vector index.

Embedding never blocks anything: papers are searchable lexically as soon as they are stored,
and :meth:`SemanticIndex.embed_pending` (``paperwire embed``, or a background worker) fills in
vectors batch by batch, each batch one committed transaction — a run killed at any point
resumes where it stopped. Search covers what is embedded so far (see :meth:`coverage`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import numpy as np

from paperwire.config import Settings
from paperwire.search.embed import (
    MODEL_ID,
    Embedder,
    ModelUnavailable,
    Vectors,
    default_threads,
    document_text,
    model_installed,
    weights_dir,
)
from paperwire.search.fusion import HitVectors
from paperwire.search.vector_sync import (
    FULL_SYNC_SECONDS,
    decode_version,
    encode_version,
    full_sync,
    sync_since,
)
from paperwire.search.vectors import ANN_THRESHOLD, VectorIndex
from paperwire.store import Store
from paperwire.store.embeddings import EmbeddingStore, PendingPaper, StoredVector, VectorsVersion

LOG = logging.getLogger(__name__)
EMBED_BATCH = 64  # papers per committed transaction
REFRESH_SECONDS = 5.0  # how often a reader checks the store for new vectors
FULL_CHECK_SECONDS = 600.0  # a background embedder's look at every paper, at most
CHANGE_MARGIN = timedelta(seconds=60)  # commits this close to a round may land after it
COVERAGE_TTL = 10.0  # seconds a coverage count is reused (see SemanticIndex.coverage)
RELOAD_CHANGES = 5_000  # a reader this many changes behind a newer saved generation loads it
BULK_BATCH = 10_000  # precomputed vectors per committed transaction (load_precomputed)

__all__ = [
    "BackgroundEmbedder",
    "ModelUnavailable",
    "SemanticIndex",
    "load_precomputed_vectors",
    "text_hash",
]


@dataclass(frozen=True, slots=True)
class BatchWork:
    """Papers of one batch that need a vector, their texts, and every text's hash."""

    todo: list[PendingPaper]
    texts: list[str]
    hashes: dict[str, str]


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(slots=True)
class Precomputed:
    """What SemanticIndex.store_precomputed stored: ids, text hashes, rows of the vectors."""

    ids: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)


class SemanticIndex:
    """Embeddings of every live paper and nearest-neighbour search over them."""

    def __init__(
        self, settings: Settings, store: Store, ann_threshold: int = ANN_THRESHOLD
    ) -> None:
        self.settings = settings
        self.vectors_store = EmbeddingStore(store)
        self.folder: Path = settings.data_dir / "index" / "vectors"
        self.model_id = MODEL_ID
        self.ann_threshold = ann_threshold
        self._embedder: Embedder | None = None
        self.threads = default_threads()  # a web process leaves cores to its requests
        self.device = settings.embed_device
        self._index: VectorIndex | None = None
        self._version: VectorsVersion | None = None  # the store's, when _index was synced
        self._full_synced = 0.0
        self._checked_at = 0.0
        self._coverage: tuple[float, tuple[int, int]] | None = None
        self._lock = threading.RLock()  # a web worker may search while a thread embeds

    @staticmethod
    def installed() -> bool:
        """True when onnxruntime, tokenizers and the packaged model are importable."""
        return model_installed()

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use; ModelUnavailable says what to install."""
        if self._embedder is None:
            # One text per run on every device: vectors stay those of the CPU path (batched
            # runs of the int8 model moved them to cosine ~0.994, benchmarks/bench_embed.py).
            self._embedder = Embedder(
                threads=self.threads,
                cache_dir=self.settings.resolved_model_dir,
                device=self.device,
            )
        return self._embedder

    def use_embedder(self, threads: int | None = None, device: str | None = None) -> None:
        """Run the model with these intra-op `threads` / on this `device` from now on."""
        with self._lock:
            self.threads = threads or self.threads
            self.device = device or self.device
            self._embedder = None

    def coverage(self) -> tuple[int, int]:
        """(papers embedded, live papers).

        Cached for COVERAGE_TTL seconds: the two counting queries took ~50 ms on 74,728
        papers (measured), too much for every search; this index's own embedding
        refreshes it at once, other processes' changes show within the TTL."""
        now = time.monotonic()
        if self._coverage is None or now - self._coverage[0] > COVERAGE_TTL:
            self._coverage = (now, self.vectors_store.coverage(self.model_id))
        return self._coverage[1]

    # -- embedding ---------------------------------------------------------------

    def embed_pending(
        self,
        progress: Callable[[int], None] | None = None,
        limit: int | None = None,
        batch: int = EMBED_BATCH,
        modified_since: datetime | None = None,
    ) -> int:
        """Embed live papers that are new or whose title/abstract changed (of those
        modified after `modified_since` only, when given); returns how many.

        Commits every `batch` papers; the vector index is brought up to date at the end.
        """
        weights_dir()  # raises ModelUnavailable with the install hint before any work
        if self.device == "cuda":
            self.embedder  # noqa: B018 - DeviceUnavailable now, not after the first batch
        done = 0
        while limit is None or done < limit:
            want = batch if limit is None else min(batch, limit - done)
            pending = self.vectors_store.pending(self.model_id, want, modified_since=modified_since)
            if not pending:
                break
            done += self._embed_batch(pending, progress)
        self.after_embedding()
        return done

    def after_embedding(self) -> None:
        """Bring the vector index up to date with what was just stored."""
        self.refresh(force=True, save=True)

    def _embed_batch(
        self, batch: list[PendingPaper], progress: Callable[[int], None] | None
    ) -> int:
        work = self.start_batch(batch)
        if work.todo:
            self.finish_batch(work, self.embedder.embed(work.texts))
        self._coverage = None
        if progress is not None:
            progress(len(batch))
        return len(work.todo)

    def start_batch(self, batch: list[PendingPaper]) -> BatchWork:
        """Record the papers of `batch` whose embedded text did not change; the rest, with
        their texts, still need vectors."""
        texts = {p.arxiv_id: document_text(p.title, p.abstract) for p in batch}
        hashes = {i: text_hash(t) for i, t in texts.items()}
        unchanged = {p.arxiv_id: p.paper_hash for p in batch if p.text_hash == hashes[p.arxiv_id]}
        self.vectors_store.mark_current(unchanged)
        todo = [p for p in batch if p.arxiv_id not in unchanged]
        return BatchWork(todo, [texts[p.arxiv_id] for p in todo], hashes)

    def finish_batch(self, work: BatchWork, vectors: Vectors) -> None:
        """Save the vectors of `work.todo` (one transaction)."""
        rows = [
            StoredVector(p.arxiv_id, p.paper_hash, work.hashes[p.arxiv_id], v.tobytes())
            for p, v in zip(work.todo, vectors, strict=True)
        ]
        self.vectors_store.save(self.model_id, rows)
        self._coverage = None

    # -- the vector index --------------------------------------------------------

    def refresh(self, force: bool = False, save: bool = False) -> VectorIndex:
        """The vector index, synced with the store at most every REFRESH_SECONDS.

        Only writers (embedding, rebuild) save the files; readers sync in memory. The
        store's fingerprint is read outside the lock (~30 ms of index reads at 1,000,000
        papers, measured), so searches only ever wait for a real sync."""
        recent = time.monotonic() - self._checked_at < REFRESH_SECONDS
        if self._index is not None and not force and recent:
            return self._index
        version = self.vectors_store.version(self.model_id)
        newer = self._newer_saved()
        with self._lock:
            self._checked_at = time.monotonic()
            if newer is not None:  # then sync it: the store may be ahead of its files
                self._adopt(newer)
            if self._index is not None and version == self._version:
                return self._index
            index = self._index
            if index is None:
                index = VectorIndex.load(self.folder, self.model_id, self.ann_threshold)
                self._adopt(index)
            unstamped = self._version is None  # files from before fingerprints were saved
            if (self._sync(index, version) or unstamped) and save:
                index.save(self.folder)
            # Read before the sync: a change racing it only causes one more sync later.
            self._version = version
            return index

    def _adopt(self, index: VectorIndex) -> None:
        """Use `index` (just loaded) from the fingerprint its files hold; when they hold
        none (older files), the next sync is a full one."""
        self._index, self._version = index, decode_version(index.synced_to)
        if self._version is not None:
            self._full_synced = time.monotonic()

    def _newer_saved(self) -> VectorIndex | None:
        """The saved index, when another process wrote a newer generation and this one's
        changes since it loaded (kept in memory, searched exactly) pass RELOAD_CHANGES;
        loaded outside the lock, so searches go on meanwhile."""
        index = self._index
        if index is None or index.changes - index.changes_at_load < RELOAD_CHANGES:
            return None
        if VectorIndex.saved_generation(self.folder) in ("", index.generation):
            return None
        return VectorIndex.load(self.folder, self.model_id, self.ann_threshold)

    def _for_query(self) -> VectorIndex:
        """The index as it is now; when a check is due it runs on a short-lived thread,
        so no query waits for the store's fingerprint."""
        if self._index is None:
            return self.refresh()
        if time.monotonic() - self._checked_at >= REFRESH_SECONDS:
            self._checked_at = time.monotonic()  # one check at a time
            threading.Thread(
                target=self._refresh_quietly, name="paperwire-vectors-check", daemon=True
            ).start()
        return self._index

    def _refresh_quietly(self) -> None:
        try:
            self.refresh(force=True)
        except Exception:  # the next due check retries; queries keep the current index
            LOG.exception("could not check the store for new vectors")

    def _sync(self, index: VectorIndex, version: VectorsVersion) -> bool:
        """Bring `index` up to the store (at fingerprint `version`): from the fingerprint
        it was synced to when it can (vector_sync.sync_since), else in full."""
        old = self._version
        if old is not None and time.monotonic() - self._full_synced < FULL_SYNC_SECONDS:
            changed = sync_since(self.vectors_store, self.model_id, index, old, version)
            if changed is not None:
                return changed
        self._full_synced = time.monotonic()
        return full_sync(self.vectors_store, self.model_id, index, version)

    def rebuild(self) -> int:
        """Throw the index files away and rebuild them from the store; returns its size."""
        with self._lock:
            for path in self.folder.glob("*"):
                path.unlink()
            self._index = None
            self._coverage = None
            return len(self.refresh(force=True, save=True))

    def load_precomputed(self, ids: Sequence[str], vectors: Vectors) -> int:
        """Store these unit `vectors` (row n is paper `ids[n]`) as the papers' embeddings and
        write the vector index once (graph built in one pass); returns how many were
        stored. Papers not in the store, or deleted, are skipped.

        The fast way to give a benchmark's data directory N precomputed vectors: no model,
        no per-batch index syncs; `paperwire embed` afterwards finds nothing pending. Meant
        for papers without vectors: those embedded before keep theirs (the index picks them
        up at its next sync with the store)."""
        kept = self.store_precomputed(ids, vectors)
        self.index_precomputed(kept, vectors)
        return len(kept.ids)

    def store_precomputed(self, ids: Sequence[str], vectors: Vectors) -> Precomputed:
        """load_precomputed's first half: the embedding rows, BULK_BATCH per transaction."""
        row_of = {arxiv_id: n for n, arxiv_id in enumerate(ids)}
        kept = Precomputed()
        after: str | None = None
        while page := self.vectors_store.pending(self.model_id, BULK_BATCH, after=after):
            after = page[-1].arxiv_id
            rows = [
                StoredVector(
                    p.arxiv_id,
                    p.paper_hash,
                    text_hash(document_text(p.title, p.abstract)),
                    np.asarray(vectors[row_of[p.arxiv_id]], dtype=np.float32).tobytes(),
                )
                for p in page
                if p.arxiv_id in row_of
            ]
            self.vectors_store.save(self.model_id, rows)
            kept.ids += [r.arxiv_id for r in rows]
            kept.hashes += [r.text_hash for r in rows]
            kept.rows += [row_of[r.arxiv_id] for r in rows]
        return kept

    def index_precomputed(self, kept: Precomputed, vectors: Vectors) -> None:
        """load_precomputed's second half: the index files over what was stored, replacing
        the folder's (the graph is built here)."""
        with self._lock:
            version = self.vectors_store.version(self.model_id)  # the rows are committed
            index = VectorIndex.build(
                self.model_id, kept.ids, kept.hashes, vectors[kept.rows], self.ann_threshold
            )
            if len(kept.ids) == self.vectors_store.coverage(self.model_id)[0]:
                index.synced_to = encode_version(version)  # it holds every live vector
            self.folder.mkdir(parents=True, exist_ok=True)
            for path in self.folder.glob("*"):
                path.unlink()
            index.save(self.folder)
            self._index, self._version, self._coverage = None, None, None

    # -- queries -------------------------------------------------------------------

    def query_vector(self, text: str) -> Vectors:
        return self.embedder.embed_query(text)

    def search(self, text: str, k: int) -> list[tuple[str, float]]:
        """Papers nearest in meaning to `text`: (arxiv_id, cosine), best first."""
        if not text.strip() or k <= 0:
            return []
        index = self._for_query()
        if not len(index):
            return []
        vector = self.query_vector(text)
        with self._lock:
            return index.search(vector, k)

    def neighbours(self, arxiv_id: str, k: int) -> list[tuple[str, float]]:
        """Papers nearest to a paper's own vector, itself excluded; [] if not embedded yet."""
        index = self._for_query()
        with self._lock:
            vector = index.vector(arxiv_id)
            if vector is None:
                return []
            return index.search(vector, k, exclude=arxiv_id)

    def vectors(self, arxiv_ids: Sequence[str]) -> Mapping[str, Vectors]:
        """The vectors of those of `arxiv_ids` that are embedded, as one matrix (hybrid
        search smooths fused scores over them, search.fusion.neighbour_smoothing)."""
        index = self._for_query()
        with self._lock:
            return HitVectors(*index.vectors_of(arxiv_ids))


def load_precomputed_vectors(
    settings: Settings, store: Store, ids: Sequence[str], vectors: Vectors
) -> int:
    """Give the papers `ids` (already in `store`) these precomputed unit `vectors` and build
    the data directory's vector index once (see :meth:`SemanticIndex.load_precomputed`)."""
    return SemanticIndex(settings, store).load_precomputed(ids, vectors)


class BackgroundEmbedder:
    """A daemon thread that keeps embedding new and changed papers (for `paperwire serve`).

    Each round embeds what is pending, then sleeps `interval` seconds; errors are kept in
    `last_error` and retried next round, never raised into the web process. A round
    looks only at papers modified since the last round that finished (less a margin for
    commits landing late); every FULL_CHECK_SECONDS, and after an error, it looks at all
    of them (finding nothing pending among 1 M papers reads them all: 3.9-10 s).
    """

    def __init__(self, index: SemanticIndex, interval: float = 30.0) -> None:
        self.index = index
        self.interval = interval
        self.embedded = 0
        self.last_error: str | None = None
        self.rounds_failed = 0
        self.lock_file: IO[str] | None = None  # closed (lock released) by stop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paperwire-embed", daemon=True)

    def start(self) -> BackgroundEmbedder:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop after the batch in progress, and wait for it."""
        self._stop.set()
        self._thread.join(timeout)
        if self.lock_file is not None:
            self.lock_file.close()
            self.lock_file = None

    def _loop(self) -> None:
        since: datetime | None = None  # every change before it is embedded
        full_at = 0.0  # time.monotonic() when the last round over every paper ended
        while not self._stop.is_set():
            started = datetime.now(UTC)
            modified_since = None  # None: this round looks at every paper
            if since is not None and time.monotonic() - full_at < FULL_CHECK_SECONDS:
                modified_since = since - CHANGE_MARGIN
            try:
                if self._round(modified_since):
                    since = started
                    if modified_since is None:
                        full_at = time.monotonic()
                if self.last_error is not None:
                    LOG.info("background embedding works again")
                self.last_error = None
            except Exception as exc:  # a bad round must not kill the worker
                error = f"{type(exc).__name__}: {exc}"
                self.rounds_failed += 1
                if error != self.last_error:  # once per distinct error, not every round
                    LOG.exception(
                        "background embedding failed (tried again every %ss)", self.interval
                    )
                self.last_error = error
                since = None
            self._stop.wait(self.interval)

    def _round(self, modified_since: datetime | None) -> bool:
        """Embed until nothing is pending; False when asked to stop first."""
        while not self._stop.is_set():
            count = self.index.embed_pending(limit=EMBED_BATCH, modified_since=modified_since)
            self.embedded += count
            if count == 0:
                return True
        return False
