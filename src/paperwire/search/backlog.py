"""The embedding backlog, batch by batch, for drivers that embed elsewhere (processes on
this host, search/local_backfill.py; a Ray cluster, search/ray_backfill.py)."""

from __future__ import annotations

from paperwire.search.semantic import BatchWork, SemanticIndex


class Backlog:
    """Pending papers in id order, batch by batch; papers whose text is unchanged are
    settled at once and never sent to a worker."""

    def __init__(self, index: SemanticIndex, batch: int, limit: int | None) -> None:
        self.index = index
        self.batch = batch
        self.left = limit
        self.after: str | None = None

    def next(self) -> BatchWork | None:
        while self.left is None or self.left > 0:
            want = self.batch if self.left is None else min(self.batch, self.left)
            pending = self.index.vectors_store.pending(self.index.model_id, want, self.after)
            if not pending:
                return None
            self.after = pending[-1].arxiv_id
            if self.left is not None:
                self.left -= len(pending)
            work = self.index.start_batch(pending)
            if work.todo:
                return work
        return None
