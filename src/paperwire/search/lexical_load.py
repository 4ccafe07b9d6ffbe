"""Bulk indexing of an import: the rows each ingest batch stored go to one tantivy writer,
committed every `commit_every` documents instead of once per batch.

Per-batch writers (one commit, one new segment and one reload per 5,000 papers) cost
more than the documents themselves on big imports; see benchmarks/bench_import.py.
A process killed before a commit loses only index work: the store already holds the
rows, `synced_until` was not moved past them, and the next process to open the index
re-indexes them by digest (SearchEngine.catch_up).

Where an indexed import's CPU goes (74,728 papers, 2 cores, about 185-250 µs a paper in
all, more at 1 M where tantivy merges segments): the parser process ~41 µs (xz ~20);
storing ~40; building documents ~20 on the importing thread; tantivy ~90-120 on its
indexing thread, of which the English stemmer is ~35-50 and the authors field ~25
(measured on documents built in advance). Both cores are busy for most of an import,
so it is CPU-bound: overlapping more of the work buys little, as measured below.

Tried and dropped, bench_import.py --phases indexed --against <the tree before>, same
runs, SQLite (this machine's speed drifts ±20% within an hour; CPU per paper is the
steadier figure):
- 2026-12-01, against 587a0f8: documents built, indexed and committed in a forked process
  fed the stored rows through a pipe: 1.03 at 74,728 with 1 tantivy thread; 1.02 at 74,728
  and 0.94 at 300,000 with 2 (CPU per paper 211-240 µs against 185-208: pickling and extra
  segments cost more than the overlap saves; commit 72efe54).
- 2026-12-01, against 73554ee: a commit in the middle of an import on a background thread
  (tantivy releases the GIL) while the next batches are stored and held: 1.04 at 74,728,
  0.99 at 300,000 (288 against 273 µs, +200 MB peak) and 0.99 at 1 M. With the bulk
  writer on 2 tantivy threads as well: 1.08 and 1.28 at 74,728, 1.22 at 300,000 (runs
  45.5/34.8 s against 55.5/42.3), but 0.96 at 1 M with 303 against 262 µs of CPU a paper:
  each commit is 2 segments, so tantivy merges more. Neither kept (commit 9a5c923).
- A first batch 1/8 the size, so storing and indexing start sooner: 0.96 (noise).
- 2026-12-02: 250,000 documents a commit (2.5 GB heap) against 50,000, 1 M papers: 4
  segments and no merge, but 143.0 against 139.4 s and 255 against 236 µs of CPU a
  paper (the bigger in-memory segment costs more than the merges it saves), 1,140
  against 794 MB peak.
- Skipping the delete of each new paper's old document (wrong when an index holds it):
  3-5% at 74,728, within this machine's noise; not pursued.
- Index-time stopword removal: no less tantivy CPU (the filter costs what the postings
  save) and a lower SciFact hybrid (see lexical.py).
"""

from __future__ import annotations

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
