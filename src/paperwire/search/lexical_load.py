"""Bulk indexing of an import: the rows each ingest batch stored go to one tantivy writer
in a process of its own, committed every `commit_every` documents.

Per-batch writers (one commit, one new segment and one reload per 5,000 papers) cost
more than the documents themselves on big imports; see benchmarks/bench_import.py.

Why a process (measured on the 74,728-paper file, 2 cores): building a document costs
~20 µs of Python, tantivy ~55 µs per document on its indexing thread and ~17 µs more at
commit. In the importing process, storing, building documents and indexing formed one
serial chain (add_document blocks while tantivy's queue is full, and each commit stalled
storing for as long as it took); a thread instead of a process made it slower (the GIL
handed back and forth between the document builder and SQLite's executemany). Here the
importer stores and hands rows on; the index process builds, indexes and commits while
the importer stores the next batches (up to QUEUE_BATCHES ahead).

Guarantees, as before:
- rows are handed over only after the transaction that stored them committed, so a
  process killed before an index commit loses only index work: `synced_until` was not
  moved past those rows, and the next process to open the index re-indexes them by
  digest (SearchEngine.catch_up). Documents are replaced by id (delete, then add), so a
  paper indexed twice is still one document.
- `synced_until` moves (on_commit, called in the index process) only after a commit, to
  when the last row of that commit was handed over.
- the writer is taken when the first rows arrive and released at each commit, as by the
  importing process before; a catch-up elsewhere waits CATCH_UP_LOCK_WAIT at most and
  leaves the work to the import.
- the index process exits when the importer dies (checked every second); if the index
  process dies, the import stops with IndexProcessFailed (the store keeps every batch).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import tantivy

from paperwire.search.lexical import IndexBusy, LexicalIndex, put_rows
from paperwire.store.codec import EncodedRow

# Documents per commit. Each commit releases the writer lock until the next batch
# arrives and bounds the work a crash leaves to catch-up.
COMMIT_EVERY = 50_000
# Indexing memory before tantivy writes a segment of its own: 50,000 abstract-sized
# documents fit, so a commit is one segment. Taken as needed, given back at commit.
BULK_HEAP = 500_000_000
# Stored batches the importer may run ahead of the index process (5,000 rows each by
# default: ~10 MB apiece in flight). A 50,000-document commit takes about as long as
# storing 8 batches, so the importer rarely waits on one.
QUEUE_BATCHES = 8
POLL_SECONDS = 1.0  # how often each side looks whether the other is still alive
PROCESS_NAME = "paperwire-index"
PR_SET_PDEATHSIG = 1  # linux/prctl.h

Synced = Callable[[datetime], None]  # told: every row handed in before this time is committed
Batch = tuple[Sequence[EncodedRow], datetime]  # stored rows, when they were handed over


class IndexProcessFailed(RuntimeError):
    """The index process of an import stopped (an error, or it was killed)."""


class BulkLoad:
    """Context manager taking batches of stored rows (`add`); the index process commits
    every `commit_every` documents and on exit, also when the import fails (every row
    handed in is already committed to the store). `on_commit` runs in the index process
    after each commit; `commits` counts them once the block has ended.

    Rows go through a pipe of their own (pickled here, read by a thread there into a
    queue of QUEUE_BATCHES), reports come back through another: no lock is shared with
    the index process, so its death (at any point) leaves nothing here blocked on it."""

    def __init__(
        self,
        index: LexicalIndex,
        on_commit: Synced,
        commit_every: int | None = None,
        heap: int = BULK_HEAP,
    ) -> None:
        self.index = index
        self.on_commit = on_commit
        self.commit_every = commit_every or COMMIT_EVERY
        self.heap = heap
        self.commits = 0
        self._process: Any = None  # multiprocessing's Process of the fork context
        self._rows: Connection | None = None
        self._reports: Connection | None = None

    def add(self, rows: Sequence[EncodedRow]) -> None:
        """Hand `rows` to the index process (call after the batch that stored them
        committed). The first call waits until that process holds the index writer."""
        first = self._process is None
        if first:
            self._start()
        self._send((rows, datetime.now(UTC)))
        if first:
            self._expect("ready")

    def _start(self) -> None:
        context = mp.get_context("fork")  # the child inherits on_commit and the rows' types
        rows_out, self._rows = context.Pipe(duplex=False)
        self._reports, reports_in = context.Pipe(duplex=False)
        worker = _Worker(self.index.path, self.on_commit, self.commit_every, self.heap)
        self._process = context.Process(
            target=worker.run,
            args=(rows_out, reports_in, os.getpid()),
            name=PROCESS_NAME,
            daemon=True,
        )
        self._process.start()
        rows_out.close()  # only the index process holds these ends: its exit breaks the pipes
        reports_in.close()

    def _send(self, item: Batch | None) -> None:
        assert self._rows is not None
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._rows.send_bytes(data)  # waits while the index process has QUEUE_BATCHES
        except OSError:  # BrokenPipeError: it has exited
            self._fail()

    def _expect(self, kind: str) -> tuple[Any, ...]:
        """The index process's next report, which must be `kind` (an error is raised)."""
        assert self._reports is not None
        while not self._reports.poll(POLL_SECONDS):
            if not self._process.is_alive():
                self._fail()
        try:
            report: tuple[Any, ...] = self._reports.recv()
        except EOFError:  # it exited without a word
            self._fail()
        if report[0] == "error":
            self._process.join()
            _raise_reported(report[1], report[2])
        if report[0] != kind:
            raise IndexProcessFailed(f"the index process said {report!r}, not {kind}")
        return report

    def _fail(self) -> NoReturn:
        """Raise what stopped the index process (its reported error, else its exit)."""
        assert self._reports is not None
        self._process.join()
        with contextlib.suppress(EOFError, OSError):
            if self._reports.poll(0):
                report = self._reports.recv()
                if report[0] == "error":
                    _raise_reported(report[1], report[2])
        raise IndexProcessFailed(
            f"the search index process stopped (exit code {self._process.exitcode}); every "
            "batch stored so far is kept, and the papers it had not committed are indexed "
            "when the index next catches up (running the import again resumes it)"
        )

    def finish(self) -> None:
        """Let the index process commit what it was handed, wait for it, and show its
        commits to this process's searchers."""
        if self._process is None:
            return
        self._send(None)
        self.commits = int(self._expect("done")[1])
        self._process.join()
        self.index.searcher(fresh=True)

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if not isinstance(exc, IndexProcessFailed | IndexBusy):
                self.finish()  # else it has stopped (or never got the writer)
        finally:
            for end in (self._rows, self._reports):
                if end is not None:
                    end.close()


def _raise_reported(name: str, message: str) -> NoReturn:
    if name == "IndexBusy":
        raise IndexBusy(message)
    raise IndexProcessFailed(f"indexing failed: {name}: {message}")


_GONE = object()  # put by the reading thread when the importer closed its end


class _Worker:
    """The index process: builds and indexes the documents of the rows it is handed,
    committing every `commit_every` of them and at the end."""

    def __init__(self, path: Path, on_commit: Synced, commit_every: int, heap: int) -> None:
        self.path, self.on_commit = path, on_commit
        self.commit_every, self.heap = commit_every, heap
        self.writer: tantivy.IndexWriter | None = None
        self.pending = 0
        self.commits = 0

    def run(self, rows: Connection, reports: Connection, parent: int) -> None:
        _die_with(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importer decides when to stop
        gc.disable()  # acyclic rows and documents only (as in the parser process)
        batches: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES)
        threading.Thread(target=_read, args=(rows, batches), daemon=True).start()
        try:
            self._index_all(LexicalIndex(self.path), batches, reports, parent)
        except BaseException as exc:  # told to the importer, which raises it
            with contextlib.suppress(OSError):
                reports.send(("error", type(exc).__name__, str(exc)))
            os._exit(1)

    def _index_all(
        self, index: LexicalIndex, batches: queue.Queue[Any], reports: Connection, parent: int
    ) -> None:
        handed = datetime.now(UTC)
        while (item := _get(batches, parent)) is not None:
            rows, handed = item
            if self.writer is None:
                self.writer = index._writer(self.heap, 1)
                if self.commits == 0 and self.pending == 0:
                    reports.send(("ready",))
            self.pending += put_rows(self.writer, rows)
            if self.pending >= self.commit_every:
                self._commit(index, handed)
        self._commit(index, handed)
        reports.send(("done", self.commits))

    def _commit(self, index: LexicalIndex, handed: datetime) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        index.commit_writer(writer)
        self.pending = 0
        self.commits += 1
        self.on_commit(handed)


def _read(rows: Connection, batches: queue.Queue[Any]) -> None:
    """Reading thread of the index process: batches from the pipe into `batches` (whose
    bound makes the importer wait), then None, or _GONE when the importer is gone."""
    while True:
        try:
            item = pickle.loads(rows.recv_bytes())
        except (EOFError, OSError):
            batches.put(_GONE)
            return
        batches.put(item)
        if item is None:
            return


def _die_with(parent: int) -> None:
    """On Linux, have the kernel SIGKILL this process when the importer dies (a process
    forked by the importer later would hold the pipe open, so no end of file comes)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl
        os._exit(1)


def _get(batches: queue.Queue[Any], parent: int) -> Batch | None:
    """The next batch; exits the process when the importer is gone (e.g. SIGKILLed):
    what it had not committed is left to catch-up."""
    while True:
        try:
            item = batches.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(1)
            continue
        if item is _GONE:
            os._exit(1)
        batch: Batch | None = item
        return batch
