"""Ingestion pipeline: source records -> batched, idempotent upserts with checkpoints.

Every batch is one transaction that also stores the rejects of that batch and the
checkpoint saying how far the source has been read, so a run killed at any point
resumes after the last committed batch and re-running reaches the same end state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from paperwire.models import IngestReport, Paper, Rejected
from paperwire.sources import snapshot
from paperwire.store import Store

Progress = Callable[[int], None]  # called with the number of records just handled
OnChanged = Callable[[list[str]], None]  # called with ids whose stored content changed


def ingest_records(
    store: Store,
    records: Iterable[tuple[Any, Paper | Rejected]],
    *,
    batch_size: int,
    checkpoint_name: str | None = None,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
) -> IngestReport:
    """Store `records` (position, Paper-or-Rejected) in batches.

    After each batch the checkpoint `checkpoint_name` is set to the last position, in the
    same transaction as the batch.
    """
    total = IngestReport()
    papers: list[Paper] = []
    rejected: list[Rejected] = []
    position: Any = None

    def flush() -> None:
        checkpoint = (checkpoint_name, position) if checkpoint_name and position else None
        report, changed = store.upsert_papers(papers, rejected, checkpoint)
        total.add(report)
        if progress:
            progress(len(papers) + len(rejected))
        if on_changed and changed:
            on_changed(changed)
        papers.clear()
        rejected.clear()

    for position, item in records:  # noqa: B007 - flush() reads position
        if isinstance(item, Paper):
            papers.append(item)
        else:
            rejected.append(item)
        if len(papers) + len(rejected) >= batch_size:
            flush()
    if papers or rejected or checkpoint_name:
        flush()
    return total


def import_snapshot(
    store: Store,
    path: Path,
    *,
    batch_size: int,
    progress: Progress | None = None,
    on_changed: OnChanged | None = None,
) -> IngestReport:
    """Import a snapshot file, resuming after the last committed line of an earlier,
    interrupted import of the same file."""
    name = snapshot.mtime_key(path)
    state = store.get_checkpoint(name) or {}
    done_lines = int(state.get("line", 0)) if isinstance(state, dict) else 0
    if state.get("complete"):
        done_lines = 0  # a finished import re-reads the file (idempotent; reports unchanged)
    if progress and done_lines:
        progress(0)
    records = (
        ({"line": number}, item) for number, item in snapshot.read_snapshot(path, skip=done_lines)
    )
    report = ingest_records(
        store,
        records,
        batch_size=batch_size,
        checkpoint_name=name,
        progress=progress,
        on_changed=on_changed,
    )
    final = store.get_checkpoint(name) or {}
    store.set_checkpoint(name, {"line": final.get("line", done_lines), "complete": True})
    return report
