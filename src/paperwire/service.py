"""The one facade that the CLI and the web app call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from time import monotonic
from typing import Any

from paperwire import harvest
from paperwire.config import Settings
from paperwire.ingest import OnChanged, Progress, import_snapshot
from paperwire.models import IngestReport, Paper
from paperwire.sources.http import PoliteClient
from paperwire.store import Store, open_store
from paperwire.store.accounts import AccountStore
from paperwire.trending import rank_tallies


class Service:
    """Owns the store (and, later, the search indexes) for one Settings."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or open_store(settings.resolved_database_url)

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

    # -- website: daily lists, trending, votes (web issue) ---------------------

    @property
    def accounts(self) -> AccountStore:
        return AccountStore(self.store.engine)

    def upvotes(self, papers: list[Paper]) -> dict[str, int]:
        """Upvotes shown for each paper: ours plus Hugging Face's."""
        ours = self.accounts.vote_counts([p.arxiv_id for p in papers])
        return {p.arxiv_id: ours.get(p.arxiv_id, 0) + (p.hf_upvotes or 0) for p in papers}

    def trending(
        self, start: date, end: date, limit: int = 50, offset: int = 0
    ) -> tuple[list[tuple[Paper, float]], int]:
        """Papers listed in [start, end] ranked by trending score, and how many there are.

        Ages are measured to the end of `end`, so the ranking of a past window is stable.
        A ranking is reused for TRENDING_TTL seconds (votes made here refresh it at once)."""
        ranked = self._ranked_window(start, end)
        page = ranked[offset : offset + limit]
        found = self.store.get_papers([pid for pid, _ in page])
        return [(found[pid], score) for pid, score in page if pid in found], len(ranked)

    def _ranked_window(self, start: date, end: date) -> list[tuple[str, float]]:
        cache: dict[tuple[date, date], tuple[float, list[tuple[str, float]]]]
        cache = self.__dict__.setdefault("_trending_cache", {})
        hit = cache.get((start, end))
        if hit and monotonic() - hit[0] < TRENDING_TTL and hit[0] >= self._votes_changed_at:
            return hit[1]
        ranked = rank_tallies(self.accounts.vote_tallies(start, end), start, end)
        if len(cache) > 64:
            cache.clear()
        cache[(start, end)] = (monotonic(), ranked)
        return ranked

    _votes_changed_at = 0.0

    def set_vote(self, user_id: int, arxiv_id: str, up: bool) -> None:
        self.accounts.set_vote(user_id, arxiv_id, up)
        self._votes_changed_at = monotonic()


TRENDING_TTL = 30.0  # seconds a trending ranking is reused by one process


def open_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings.load())
