"""Bulk indexing of an import: the rows each ingest batch stored go to one tantivy writer,
committed every `commit_every` documents instead of once per batch.

Per-batch writers (one commit, one new segment and one reload per 5,000 papers) cost
more than the documents themselves on big imports; see benchmarks/bench_import.py.
A process killed before a commit loses only index work: the store already holds the
rows, `synced_until` was not moved past them, and the next process to open the index
re-indexes them by digest (SearchEngine.catch_up).

Measured ceiling (74,728 papers, 2 cores): tantivy costs ~90 µs of CPU per document, and
~60 µs of it runs inside add_document on the calling thread (CPU/wall stays 1.0 with
num_threads=1 or 2), so storing, building documents and indexing form one serial chain
of ~130-150 µs per paper beside the parser process: ~7,000 papers/s at best here.
Going past that needs the tantivy work in a process of its own.

Tried and dropped (2026-12-01, bench_import.py --phases indexed --against <587a0f8>, same
runs, SQLite): documents built, indexed and committed in a forked process fed the stored
rows through a pipe (importer stores while it indexes and commits; killed-process
handling as here). 1 tantivy thread: 7,341 vs 7,143 papers/s (1.03) at 74,728; 2 threads:
9,090 vs 8,955 (1.02) at 74,728 and 7,944 vs 8,483 (0.94) at 300,000, with CPU per paper
211-240 µs against 185-208: on 2 cores the import is CPU-bound (parser process ~41 µs, of
which xz ~20; store ~13; document ~20; tantivy ~55 + ~17 at commit), so overlap alone
buys nothing and the pickling and extra segments cost more than it saves. What is left:
less CPU per paper (see commit 72efe54 for the process version).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType

import tantivy

from paperwire.search.lexical import LexicalIndex, put_rows
from paperwire.store.codec import EncodedRow

# Documents per commit. Each commit releases the writer lock until the next batch is
# stored (a harvest's indexing or a catch-up elsewhere waits at most that long) and
# bounds the work a crash leaves to catch-up.
COMMIT_EVERY = 50_000
# Indexing memory before tantivy writes a segment of its own: 50,000 abstract-sized
# documents fit, so a commit is one segment. Taken as needed, given back at commit.
BULK_HEAP = 500_000_000

Synced = Callable[[datetime], None]  # told: every row handed in before this time is committed


class BulkLoad:
    """Context manager taking batches of stored rows (`add`); commits on exit, also when
    the import fails (every row handed in is already committed to the store)."""

    def __init__(
        self,
        index: LexicalIndex,
        on_commit: Synced,
        commit_every: int = COMMIT_EVERY,
        heap: int = BULK_HEAP,
    ) -> None:
        self.index = index
        self.on_commit = on_commit
        self.commit_every = commit_every
        self.heap = heap
        self._writer: tantivy.IndexWriter | None = None
        self._pending = 0
        self._handed_at = datetime.now(UTC)
        self.commits = 0

    def add(self, rows: Sequence[EncodedRow]) -> None:
        """Index `rows` (called after the batch that stored them committed)."""
        if self._writer is None:
            self._writer = self.index._writer(self.heap, 1)
        self._handed_at = datetime.now(UTC)
        self._pending += put_rows(self._writer, rows)
        if self._pending >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self.index.commit_writer(writer)
        self._pending = 0
        self.commits += 1
        self.on_commit(self._handed_at)

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.commit()
