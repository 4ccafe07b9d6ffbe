"""The one facade that the CLI and the web app call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paperwire.config import Settings
from paperwire.ingest import OnChanged, Progress, import_snapshot
from paperwire.models import IngestReport, Paper
from paperwire.search.semantic import SemanticIndex
from paperwire.store import Store, open_store


class Service:
    """Owns the store (and, later, the search indexes) for one Settings."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or open_store(settings.resolved_database_url)
        self._semantic_index: SemanticIndex | None = None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _on_changed(self) -> OnChanged | None:
        return None  # search indexing hooks in here

    # -- ingestion -------------------------------------------------------------

    def import_snapshot(
        self,
        path: Path,
        progress: Progress | None = None,
        progress_bytes: Progress | None = None,
    ) -> IngestReport:
        run = self.store.start_run("snapshot", str(path))
        report = IngestReport()
        try:
            report = import_snapshot(
                self.store,
                path,
                batch_size=self.settings.batch_size,
                progress=progress,
                progress_bytes=progress_bytes,
                on_changed=self._on_changed(),
            )
        except BaseException as exc:
            self.store.finish_run(run, report, error=f"{type(exc).__name__}: {exc}")
            raise
        self.store.finish_run(run, report)
        return report

    # -- reading ---------------------------------------------------------------

    def paper(self, arxiv_id: str) -> Paper | None:
        return self.store.get_paper(arxiv_id)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    # -- semantic embeddings ---------------------------------------------------

    @property
    def semantic_index(self) -> SemanticIndex:
        """Paper embeddings and vector search (built on first use; the model loads lazily)."""
        if self._semantic_index is None:
            self._semantic_index = SemanticIndex(self.settings, self.store)
        return self._semantic_index

    def embed_pending(
        self, progress: Progress | None = None, limit: int | None = None, batch: int = 64
    ) -> int:
        """Embed papers that are new or changed since their last vector; returns how many."""
        return self.semantic_index.embed_pending(progress=progress, limit=limit, batch=batch)

    def embedding_coverage(self) -> tuple[int, int]:
        """(papers embedded, live papers)."""
        return self.semantic_index.coverage()


def open_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings.load())
