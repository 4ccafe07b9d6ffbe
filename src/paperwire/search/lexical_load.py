"""Bulk indexing of an import: the rows each ingest batch stored go to one tantivy writer,
committed every `commit_every` documents instead of once per batch.

Per-batch writers (one commit, one new segment and one reload per 5,000 papers) cost
more than the documents themselves on big imports; see benchmarks/bench_import.py.
A process killed before a commit loses only index work: the store already holds the
rows, `synced_until` was not moved past them, and the next process to open the index
re-indexes them by digest (SearchEngine.catch_up).

Where an indexed import's CPU goes (74,728 papers, 2 cores, about 190-225 µs a paper in
all): the parser process ~41 µs (xz ~20); storing ~40; building documents ~20 on the
importing thread; tantivy ~90-120 on its own threads, of which the English stemmer is
~35-50 and the authors field ~25 (measured on documents built in advance). So 2 cores
top out near 10,000 papers/s however the work overlaps.

The bulk writer indexes on BULK_THREADS tantivy threads, and a commit in the middle of
an import runs on a background thread (tantivy releases the GIL) while the next batches
are stored; their rows are held until it is done. Measured with bench_import.py
--phases indexed --against <73554ee> (same runs, SQLite, 2026-12-01): 9,538 vs 8,847
papers/s (1.08) and 8,396 vs 6,553 (1.28) at 74,728; 7,467 vs 6,136 (1.22) at 300,000.
Peak memory grows by ~300 MB at 300,000 (the held rows and the committing writer). 2
threads against 1, both with the background commit: 6,410 vs 6,384 at 300,000 (each
commit is 2 segments, so merges start sooner); at 74,728, 2 threads alone (before the
background commit, a one-off script, runs in turn) took 8.2-8.3 s against 9.5-9.9 s.

Tried and dropped (2026-12-01, against <587a0f8>): documents built, indexed and committed
in a forked process fed the stored rows through a pipe: 1.03 at 74,728 with 1 tantivy
thread; 1.02 at 74,728 and 0.94 at 300,000 with 2 (CPU per paper 211-240 µs against
185-208: the pickling and extra segments cost more than the overlap saves; commit
72efe54). A first batch 1/8 the size, so storing and indexing start sooner: 0.96, noise.
Index-time stopword removal does not cut tantivy's CPU (the filter costs what the
postings save) and lowered SciFact hybrid (see lexical.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType

import tantivy

from paperwire.search.lexical import LexicalIndex
from paperwire.search.lexical_docs import put_rows
from paperwire.store.codec import EncodedRow

# Documents per commit. Each commit releases the writer lock until the next batch is
# stored (a harvest's indexing or a catch-up elsewhere waits at most that long) and
# bounds the work a crash leaves to catch-up.
COMMIT_EVERY = 50_000
# Indexing memory before tantivy writes a segment of its own, shared by the writer's
# threads: 50,000 abstract-sized documents fit, so a commit is one segment per thread.
# Taken as needed, given back at commit.
BULK_HEAP = 500_000_000
# tantivy indexing threads of the bulk writer: tokenising and stemming is most of an
# indexed import's CPU, and on 2 cores a second thread keeps both busy.
BULK_THREADS = 2

Synced = Callable[[datetime], None]  # told: every row handed in before this time is committed


class BulkLoad:
    """Context manager taking batches of stored rows (`add`); commits on exit, also when
    the import fails (every row handed in is already committed to the store).

    A commit due in the middle of an import runs on a background thread; rows handed in
    meanwhile are held and indexed by the next writer once it is done. A failed
    background commit is raised by the next `add` or on exit; `synced_until` is then
    never moved again by this load, so catch-up re-indexes that commit's rows from the
    store (the rows indexed after it are committed, but not reported as synced)."""

    def __init__(
        self,
        index: LexicalIndex,
        on_commit: Synced,
        commit_every: int = COMMIT_EVERY,
        heap: int = BULK_HEAP,
        threads: int = BULK_THREADS,
    ) -> None:
        self.index = index
        self.on_commit = on_commit
        self.commit_every = commit_every
        self.heap = heap
        self.threads = threads
        self._writer: tantivy.IndexWriter | None = None
        self._pending = 0
        self._handed_at = datetime.now(UTC)
        self._held: list[EncodedRow] = []
        self._committing: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._failed = False
        self.commits = 0

    def add(self, rows: Sequence[EncodedRow]) -> None:
        """Index `rows` (called after the batch that stored them committed)."""
        self._handed_at = datetime.now(UTC)
        if self._committing is not None and self._committing.is_alive():
            self._held.extend(rows)
            if len(self._held) < self.commit_every:
                return
        self._finish_background()
        if self._held:
            rows, self._held = [*self._held, *rows], []
        if self._writer is None:
            self._writer = self.index._writer(self.heap, self.threads)
        self._pending += put_rows(self._writer, rows)
        if self._pending >= self.commit_every:
            self._start_background()

    def commit(self) -> None:
        """Commit everything handed in, waiting for a background commit first."""
        self._finish_background()
        if self._held:
            if self._writer is None:
                self._writer = self.index._writer(self.heap, self.threads)
            self._pending += put_rows(self._writer, self._held)
            self._held = []
        writer, self._writer = self._writer, None
        if writer is not None:
            self._commit(writer, self._handed_at)

    def _commit(self, writer: tantivy.IndexWriter, handed_at: datetime) -> None:
        self.index.commit_writer(writer)
        self.commits += 1
        if not self._failed:
            self.on_commit(handed_at)

    def _start_background(self) -> None:
        writer, self._writer, self._pending = self._writer, None, 0
        assert writer is not None
        handed_at = self._handed_at

        def run() -> None:
            try:
                self._commit(writer, handed_at)
            except BaseException as exc:  # raised on the caller's thread
                self._failed = True
                self._failure = exc

        self._committing = threading.Thread(target=run, name="paperwire-index-commit")
        self._committing.start()

    def _finish_background(self) -> None:
        if self._committing is not None:
            self._committing.join()
            self._committing = None
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.commit()
