"""The one facade that the CLI and the web app call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from paperwire import harvest
from paperwire.config import Settings
from paperwire.ingest import OnChanged, Progress, import_snapshot
from paperwire.models import IngestReport, Paper
from paperwire.search.semantic import SemanticIndex
from paperwire.sources.http import PoliteClient
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

    # -- network sources (arXiv OAI-PMH, arXiv API, HF daily papers) ----------

    def _network_run(
        self, source: str, detail: str, work: Callable[[PoliteClient, IngestReport], None]
    ) -> IngestReport:
        """Run `work` with a polite HTTP client, recorded as an ingest run."""
        run = self.store.start_run(source, detail)
        report = IngestReport()
        try:
            with PoliteClient(self.settings) as client:
                work(client, report)
        except BaseException as exc:
            self.store.finish_run(run, report, error=f"{type(exc).__name__}: {exc}")
            raise
        self.store.finish_run(run, report)
        return report

    def harvest_oai(
        self,
        since: date | None,
        until: date | None = None,
        set_spec: str | None = None,
        progress: Progress | None = None,
        restart: bool = False,
    ) -> IngestReport:
        """Harvest arXiv OAI-PMH ListRecords; resumes an interrupted identical harvest."""
        detail = f"from={since or '*'} until={until or '*'} set={set_spec or '*'}"
        return self._network_run(
            "arxiv_oai",
            detail,
            lambda client, report: harvest.harvest_oai(
                self.store,
                client,
                self.settings,
                report,
                since=since,
                until=until,
                set_spec=set_spec,
                restart=restart,
                progress=progress,
                on_changed=self._on_changed(),
            ),
        )

    def fetch_ids(self, ids: Sequence[str], progress: Progress | None = None) -> IngestReport:
        """Fetch papers by arXiv id (versioned or not) from the arXiv API."""
        return self._network_run(
            "arxiv_api",
            "ids: " + " ".join(ids)[:200],
            lambda client, report: harvest.fetch_ids(
                self.store,
                client,
                self.settings,
                report,
                ids,
                progress=progress,
                on_changed=self._on_changed(),
            ),
        )

    def search_arxiv(
        self, query: str, max_results: int = 100, progress: Progress | None = None
    ) -> IngestReport:
        """Fetch up to `max_results` papers matching an arXiv API search query."""
        return self._network_run(
            "arxiv_api",
            f"query: {query}"[:200],
            lambda client, report: harvest.search_arxiv(
                self.store,
                client,
                self.settings,
                report,
                query,
                max_results,
                progress=progress,
                on_changed=self._on_changed(),
            ),
        )

    def hf_daily(self, day: date, progress: Progress | None = None) -> IngestReport:
        """Fetch Hugging Face daily papers for `day` and merge them by arXiv id."""
        return self._network_run(
            "hf_daily",
            day.isoformat(),
            lambda client, report: harvest.hf_daily_papers(
                self.store,
                client,
                self.settings,
                report,
                day,
                progress=progress,
                on_changed=self._on_changed(),
            ),
        )

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
