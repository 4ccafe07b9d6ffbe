"""Ingestion pipeline: source records -> batched, idempotent upserts with checkpoints.

Every batch is one transaction that also stores the rejects of that batch and the
checkpoint saying how far the source has been read, so a run killed at any point
resumes after the last committed batch and re-running reaches the same end state.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperwire.interrupts import sigint_held
from paperwire.liveness import describe_owner
from paperwire.models import Flaw, IngestReport, Paper, Rejected
from paperwire.sources import snapshot
from paperwire.store import CheckpointHeld, Store
from paperwire.store.codec import EncodedRow, encode_paper

Progress = Callable[[int], None]  # called with the number of records just handled
OnChanged = Callable[[list[str]], None]  # called with ids whose stored content changed
OnStored = Callable[[list[EncodedRow]], None]  # called with the rows of those, as stored


PARALLEL_MIN_BYTES = 4 << 20  # below this, a parser process costs more than it saves


def _put(out: Any, item: object, parent: int) -> None:
    """Queue put that gives up when the parent is gone (e.g. SIGKILLed)."""
    while True:
        try:
            out.put(item, timeout=1.0)
            return
        except queue.Full:
            if os.getppid() != parent:
                os._exit(1)


Parsed = tuple[list[tuple[int, EncodedRow | Rejected | Flaw]], int]  # batch, bytes read


class SnapshotDamaged(ValueError):
    """A snapshot file ended early (cut off or corrupt). Every complete record before the
    break is committed; `report` counts them. The message says what to do."""

    def __init__(self, path: Path, position: snapshot.ReadPosition, report: IngestReport):
        self.report = report
        self.reason = position.damage or "damaged"
        cut = (
            f"; line {position.cut_line:,} was cut off and not imported"
            if position.cut_line
            else ""
        )
        super().__init__(
            f"{path.name} is {self.reason}. Kept the {position.records:,} complete record(s) "
            f"before the break (this run: {report.new:,} new, {report.updated:,} updated, "
            f"{report.unchanged:,} unchanged, {report.rejected:,} rejected){cut}. "
            "Re-running the import with the complete file is safe: papers are merged by id, "
            "never duplicated."
        )


def describe_holder(held: CheckpointHeld) -> str:
    """'run 3, started 2026-12-02 10:00:00 UTC by pid 42 on host h': the run holding a
    checkpoint, for messages refusing a second import or harvest of the same thing."""
    started = f"{held.started_at:%Y-%m-%d %H:%M:%S}"
    return f"run {held.run_id}, started {started} UTC by {describe_owner(held.owner)}"


class ImportRunning(RuntimeError):
    """Another import of the same file (the same checkpoint) is running; this one stopped
    before reading it. The message says which run, since when, where, and what to do."""

    def __init__(self, path: Path, held: CheckpointHeld):
        self.held = held
        super().__init__(
            f"another import of {path} is running ({describe_holder(held)}); "
            "nothing was imported by this one. Wait for that import to finish, or stop it "
            "(Ctrl-C, or kill its process) and run this import again: it resumes after the "
            "last batch committed. `paperwire stats` shows the running import."
        )


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped an ingest run between two batches. Every batch before it is
    committed; `report` counts them. The message says so, and that re-running resumes."""

    def __init__(self, report: IngestReport):
        self.report = report
        super().__init__(
            f"interrupted: committed {report.new:,} new, {report.updated:,} updated, "
            f"{report.unchanged:,} unchanged, {report.deleted:,} deleted and "
            f"{report.rejected:,} rejected record(s) before it stopped; running the same "
            "command again resumes after them (papers are merged by id, never duplicated)"
        )


@dataclass(frozen=True, slots=True)
class _End:
    """Last message of the parser process: how reading ended."""

    records: int
    damage: str | None
    cut_line: int | None


def _encoded_batches(
    path: Path, skip: int, batch_size: int, position: snapshot.ReadPosition
) -> Iterator[Parsed]:
    batch: list[tuple[int, EncodedRow | Rejected | Flaw]] = []
    for number, item in snapshot.read_snapshot(path, skip=skip, position=position):
        batch.append((number, encode_paper(item) if isinstance(item, Paper) else item))
        if len(batch) >= batch_size:
            yield batch, position.bytes
            batch = []
    yield batch, path.stat().st_size


def _snapshot_worker(path: Path, skip: int, batch_size: int, out: Any, parent: int) -> None:
    """Parser process: read, decompress, parse and encode; send batches to the parent.

    Parsing allocates only acyclic objects, so the cycle collector is off here: measured
    at a third of the parse time on the 74,728-paper file. Ctrl-C in a terminal reaches
    this process too: it is ignored here, the parent decides and ends this process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()
    try:
        position = snapshot.ReadPosition()
        for parsed in _encoded_batches(path, skip, batch_size, position):
            _put(out, parsed, parent)
        _put(out, _End(position.records, position.damage, position.cut_line), parent)
    except BaseException as exc:  # reported by the parent
        _put(out, f"{type(exc).__name__}: {exc}", parent)


def _parsed_in_process(
    path: Path, skip: int, batch_size: int, position: snapshot.ReadPosition
) -> Iterator[Parsed]:
    """Batches of (line, encoded row or Rejected) parsed by a second process, so that
    parsing and writing use both cores. Measured on the 74,728-paper file: see
    benchmarks/bench_import.py."""
    context = mp.get_context("fork")
    out = context.Queue(maxsize=4)
    worker = context.Process(
        target=_snapshot_worker,
        args=(path, skip, batch_size, out, os.getpid()),
        name="paperwire-parse",
        daemon=True,
    )
    worker.start()
    try:
        while True:
            try:
                item = out.get(timeout=5.0)
            except queue.Empty:
                if not worker.is_alive():
                    raise RuntimeError("the parser process died unexpectedly") from None
                continue
            if isinstance(item, _End):
                position.records, position.damage = item.records, item.damage
                position.cut_line = item.cut_line
                return
            if isinstance(item, str):
                raise RuntimeError(f"reading {path.name} failed: {item}")
            yield item
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Bulk loading makes many short-lived acyclic objects; a full collection every
    few thousand allocations only costs time. Restored afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def claim_snapshot(store: Store, path: Path, run: int) -> dict[str, Any]:
    """Claim `path`'s checkpoint for ingest run `run` (see import_snapshot) and return
    its saved state; ImportRunning, changing nothing, when another import of the file
    still runs."""
    try:
        return store.claim_checkpoint(snapshot.mtime_key(path), run)
    except CheckpointHeld as exc:
        raise ImportRunning(path, exc) from None


def import_snapshot(
    store: Store,
    path: Path,
    report: IngestReport,
    *,
    run: int,
    batch_size: int,
    progress: Progress | None = None,
    progress_bytes: Progress | None = None,
    on_stored: OnStored | None = None,
    claimed: dict[str, Any] | None = None,
) -> None:
    """Import a snapshot file, resuming after the last committed line of an earlier,
    interrupted import of the same file. Each batch, its rejects and the line reached
    commit together. `progress` gets records handled, `progress_bytes` the bytes of the
    file (compressed, if it is) read so far, `on_stored` the rows of each committed batch
    whose content changed (e.g. to index them). Each committed batch's counts are added
    to `report`; Ctrl-C waits for a batch being written (and indexed) to finish.

    The file's checkpoint is held by ingest run `run` while it reads: ImportRunning,
    before reading anything, when another import of the file still runs (both would
    read from the same checkpoint, each skipping what the other had read). `claimed` is
    the state claim_snapshot returned, when the caller claimed the file first.

    Raises SnapshotDamaged, after committing every complete record, when the file is
    cut off or corrupt. A file with no records at all gets a warning in the report."""
    name = snapshot.mtime_key(path)
    state = claim_snapshot(store, path, run) if claimed is None else claimed
    done_lines = 0 if state.get("complete") else int(state.get("line", 0))
    big = path.stat().st_size >= PARALLEL_MIN_BYTES
    parse = _parsed_in_process if big else _encoded_batches
    last_line = done_lines
    position = snapshot.ReadPosition()
    with _cycle_collector_paused():
        for batch, bytes_read in parse(path, done_lines, batch_size, position):
            rows = [item for _, item in batch if isinstance(item, tuple)]
            rejected = [item for _, item in batch if isinstance(item, Rejected)]
            flaws = [item for _, item in batch if isinstance(item, Flaw)]
            last_line = batch[-1][0] if batch else last_line
            with sigint_held():
                held = (name, {"line": last_line, "run": run})
                done, changed = store.upsert_encoded(rows, rejected, held, run)
                report.add(done)
                report.note_flaws(flaws)
                if on_stored and changed:
                    on_stored(changed)
            if progress:
                progress(len(rows) + len(rejected))
            if progress_bytes:
                progress_bytes(bytes_read)
    with sigint_held():
        if position.damage:
            store.set_checkpoint(name, {"line": last_line, "damage": position.damage})
            raise SnapshotDamaged(path, position, report)
        store.set_checkpoint(name, {"line": last_line, "complete": True})
    if position.records == 0:
        report.warnings.append(f"{path.name} has no records (it is empty); nothing was imported")
