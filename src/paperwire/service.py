"""The one facade that the CLI and the web app call."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from paperwire import harvest, listing
from paperwire.bidi import shown_text
from paperwire.config import Settings
from paperwire.data_dir import make_data_dir, refuse_missing_data_dir
from paperwire.digest.digests import Digests
from paperwire.graphemes import clip
from paperwire.ingest import (
    ImportRunning,
    IngestInterrupted,
    OnChanged,
    Progress,
    SnapshotDamaged,
    claim_snapshot,
    import_snapshot,
)
from paperwire.interrupts import sigint_held
from paperwire.keys import load_secret_key
from paperwire.library import AddReport, Library, without_dismissed
from paperwire.library_io import FeedTokens, ImportReport, Recommended
from paperwire.listing import ranked_window
from paperwire.liveness import RunHeartbeat
from paperwire.models import (
    Hit,
    IngestReport,
    Paper,
    ReaderSignals,
    Recommendation,
    Rejected,
    SearchPage,
)
from paperwire.search.embed import INSTALL_HINT
from paperwire.search.engine import SearchEngine, servable_pages
from paperwire.search.highlight import Highlighter
from paperwire.search.lexical_load import BulkLoad
from paperwire.search.query import parse_query, with_filters
from paperwire.search.semantic import BackgroundEmbedder, SemanticIndex
from paperwire.sources.arxiv_api import NotArxivIds, request_ids
from paperwire.sources.http import PoliteClient, SourceError
from paperwire.store import Store, WriteRefused, open_store, write_refused
from paperwire.store.accounts import AccountStore
from paperwire.store.outage import failure_reason
from paperwire.store.paper_keys import PaperKeys

if TYPE_CHECKING:
    from paperwire.bibliography import LibraryMatch

if TYPE_CHECKING:
    from paperwire.search.ray_backfill import RayReport

if TYPE_CHECKING:  # scikit-learn loads only when recommendations are asked for
    from paperwire.recommend.foryou import ForYou

log = logging.getLogger(__name__)
ABSTRACT_SNIPPET_CHARS = 320


class PaperNotFound(LookupError):
    """No paper with that id is stored."""


class Service:
    """Owns the store, the search indexes and the digests for one Settings."""

    def __init__(
        self, settings: Settings, store: Store | None = None, *, create: bool = True
    ) -> None:
        """`create`: make the data directory (and an empty database) when missing; False
        for a command that only reads or works over stored data: NoDatabase then."""
        self.settings = settings
        if not create and store is None:
            refuse_missing_data_dir(settings)
        make_data_dir(settings.data_dir)
        self.store = store or open_store(settings.resolved_database_url)
        self._semantic_index: SemanticIndex | None = None
        self._search: SearchEngine | None = None
        if settings.vector_backend == "pgvector":
            try:
                self.semantic_index  # noqa: B018 - no pgvector: StoreError now, not on a search
            except Exception:
                self.store.close()
                raise

    @cached_property
    def digest(self) -> Digests:
        """Subscriptions and delivery, over this Service's store and search."""
        digests = Digests(self.settings, self.store, self.search)
        digests.runner.recommend = self.recommend_for_digest
        return digests

    def close(self) -> None:
        if self._search is not None:
            self._search.close()
        self.store.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _on_changed(self) -> OnChanged | None:
        """Called by ingestion with the ids of each committed batch: index them at once.

        Opening the index here (before the first batch) lets it catch up on anything an
        earlier, killed run committed but did not index."""
        if not self.settings.index_on_ingest:
            return None
        engine = self.search_engine
        engine.lexical  # noqa: B018 - opens and catches up
        return engine.index_changed

    def _bulk_load(self) -> contextlib.AbstractContextManager[BulkLoad | None]:
        """Indexing for a snapshot import (search.lexical_load): the rows of each batch,
        committed to the index every so many thousand; nothing without index_on_ingest."""
        if not self.settings.index_on_ingest:
            return contextlib.nullcontext()
        return self.search_engine.bulk_load()

    # -- ingestion -------------------------------------------------------------

    @contextlib.contextmanager
    def _ingest_run(self, source: str, detail: str) -> Iterator[tuple[int, IngestReport]]:
        """Record the block as an ingest run (its id is given), with the counts it adds to
        the report it is given. Ctrl-C is recorded as an interruption, with the counts of
        the batches committed before it, and raised as IngestInterrupted."""
        run = self.store.start_run(source, detail)
        report = IngestReport()
        try:
            with RunHeartbeat(self.store, run):
                yield run, report
        except KeyboardInterrupt:
            with sigint_held():
                self.store.finish_run(run, report, interrupted=True)
            raise IngestInterrupted(report) from None
        except (ImportRunning, harvest.HarvestRunning):  # it did nothing: no run to show
            self.store.discard_run(run)
            raise
        except SnapshotDamaged as exc:  # its message says it all
            self.store.finish_run(run, report, error=str(exc))
            raise
        except BaseException as exc:
            refused = write_refused(exc)
            if refused is None:
                self.store.finish_run(run, report, error=failure_reason(exc))
                raise
            refused = WriteRefused(
                f"{refused}; everything committed before it is kept: free some space and "
                "run the same command again, it resumes after the last batch stored"
            )
            with contextlib.suppress(Exception):  # the disk may refuse this write too:
                self.store.finish_run(run, report, error=str(refused))  # then `stats`
            raise refused from exc  # marks the run interrupted once this process is gone
        self.store.finish_run(run, report)

    def import_snapshot(
        self,
        path: Path,
        progress: Progress | None = None,
        progress_bytes: Progress | None = None,
    ) -> IngestReport:
        """Import a snapshot file (see ingest.import_snapshot); ImportRunning, at once
        (before the index is opened) and leaving no run in `stats`, when another import
        of the same file is running."""
        with self._ingest_run("snapshot", str(path)) as (run, report):
            claimed = claim_snapshot(self.store, path, run)
            with self._bulk_load() as load:
                import_snapshot(
                    self.store,
                    path,
                    report,
                    run=run,
                    batch_size=self.settings.batch_size,
                    progress=progress,
                    progress_bytes=progress_bytes,
                    on_stored=load.add if load else None,
                    claimed=claimed,
                )
        return report

    # -- network sources (arXiv OAI-PMH, arXiv API, HF daily papers) ----------

    def _network_run(
        self,
        source: str,
        detail: str,
        work: Callable[[PoliteClient, IngestReport, int], None],
    ) -> IngestReport:
        """Run `work` with a polite HTTP client, recorded as an ingest run (its id is
        work's third argument)."""
        with (
            self._ingest_run(source, detail) as (run, report),
            PoliteClient(self.settings) as client,
        ):
            work(client, report, run)
        return report

    def harvest_oai(
        self,
        since: date | None,
        until: date | None = None,
        set_spec: str | None = None,
        progress: Progress | None = None,
        restart: bool = False,
    ) -> IngestReport:
        """Harvest arXiv OAI-PMH ListRecords; resumes an interrupted identical harvest.
        HarvestRunning, before any request, while an identical harvest runs."""
        detail = f"from={since or '*'} until={until or '*'} set={set_spec or '*'}"
        return self._network_run(
            "arxiv_oai",
            detail,
            lambda client, report, run: harvest.harvest_oai(
                self.store,
                client,
                self.settings,
                report,
                run=run,
                since=since,
                until=until,
                set_spec=set_spec,
                restart=restart,
                progress=progress,
                on_changed=self._on_changed(),
            ),
        )

    def fetch_ids(self, ids: Sequence[str], progress: Progress | None = None) -> IngestReport:
        """Fetch papers by arXiv id (versioned or not, any spelling split_arxiv_id
        accepts) from the arXiv API. Raises NotArxivIds, sending nothing, when some token
        is no arXiv id; ids arXiv returned nothing for are named in the report's warnings."""
        ids = request_ids(ids)
        return self._network_run(
            "arxiv_api",
            "ids: " + " ".join(ids)[:200],
            lambda client, report, _run: harvest.fetch_ids(
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
            clip(f"query: {query}", 200),
            lambda client, report, _run: harvest.search_arxiv(
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
            lambda client, report, _run: harvest.hf_daily_papers(
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

    def rejects(self, limit: int = 100) -> list[Rejected]:
        """Rejected source records with their reasons, newest first."""
        return self.store.list_rejects(limit)

    def paper_count(self, include_deleted: bool = False) -> int:
        return self.store.count_papers(include_deleted=include_deleted)

    # -- semantic embeddings ---------------------------------------------------

    @property
    def semantic_index(self) -> SemanticIndex:
        """Paper embeddings and vector search (built on first use; the model loads lazily)."""
        if self._semantic_index is None:
            if self.settings.vector_backend == "pgvector":
                from paperwire.search.shared_index import SharedSemanticIndex

                self._semantic_index = SharedSemanticIndex(self.settings, self.store)
            else:
                self._semantic_index = SemanticIndex(self.settings, self.store)
        return self._semantic_index

    def embed_pending(
        self,
        progress: Progress | None = None,
        limit: int | None = None,
        batch: int = 64,
        threads: int | None = None,
        device: str | None = None,
    ) -> int:
        """Embed papers that are new or changed since their last vector; returns how many.
        `threads` / `device` (auto | cpu | cuda): how to run the model for this run."""
        if threads is not None or device is not None:
            self.semantic_index.use_embedder(threads, device)
        return self.semantic_index.embed_pending(progress=progress, limit=limit, batch=batch)

    def embed_in_processes(
        self,
        processes: int,
        progress: Progress | None = None,
        limit: int | None = None,
        batch: int = 64,
        threads: int = 1,
        device: str | None = None,
    ) -> int:
        """Embed the pending backlog with `processes` model processes on this host (see
        search/local_backfill.py); returns how many papers got a new vector."""
        from paperwire.search.local_backfill import embed_in_processes

        if device is not None:
            self.semantic_index.use_embedder(device=device)
        return embed_in_processes(
            self.semantic_index, processes, threads=threads, batch=batch, limit=limit,
            progress=progress,
        )  # fmt: skip

    def embed_on_ray(
        self,
        address: str,
        progress: Progress | None = None,
        limit: int | None = None,
        batch: int = 64,
        workers: int | None = None,
    ) -> RayReport:
        """Embed the pending backlog on the Ray cluster at `address` (see
        search/ray_backfill.py); vectors are saved here, batch by batch."""
        from paperwire.search.ray_backfill import RayBackfill

        backfill = RayBackfill(self.semantic_index, address, workers=workers)
        return backfill.run(batch, limit=limit, progress=progress)

    def start_background_embedding(self) -> BackgroundEmbedder | None:
        """Start embedding pending papers in a daemon thread, unless another process on
        this data directory already does (a lock file decides) or the model is not
        installed. Returns the embedder (stop it with .stop()) or None."""
        if not self.settings.embed_in_background or not SemanticIndex.installed():
            return None
        lock = (self.settings.data_dir / "embedder.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            return None
        embedder = BackgroundEmbedder(self.semantic_index)
        embedder.lock_file = lock  # held (and released on close) as long as it runs
        return embedder.start()

    def embedding_coverage(self) -> tuple[int, int]:
        """(papers embedded, live papers)."""
        return self.semantic_index.coverage()

    # -- search (issue 3) ----------------------------------------------------------

    @property
    def search_engine(self) -> SearchEngine:
        """Lexical (+ semantic when installed) search; indexes open on first use."""
        if self._search is None:
            self._search = SearchEngine(
                self.settings, self.store, semantic_loader=self._semantic_for_engine
            )
        return self._search

    def _semantic_for_engine(
        self, _settings: Settings, _store: Store
    ) -> tuple[SemanticIndex | None, str]:
        """The engine shares this Service's SemanticIndex (one vector index in memory)."""
        if not SemanticIndex.installed():
            return None, INSTALL_HINT
        return self.semantic_index, ""

    def search(
        self,
        query: str,
        *,
        sort: str = "relevance",
        page: int = 1,
        per_page: int = 20,
        mode: str = "hybrid",
        category: str = "",
        since: date | None = None,
        until: date | None = None,
    ) -> SearchPage:
        """One page of results for `query` (see search/query.py for the syntax), narrowed
        by the structured filters `category` (cs.CL, or several comma-separated),
        `since` and `until` (never pasted into the query text).

        Raises QueryError (a ValueError) with a readable message for malformed queries;
        prose the parser had to repair is searched, with a note saying so."""
        parsed = parse_query(query, today=datetime.now(UTC).date())
        parsed = with_filters(parsed, category=category, since=since, until=until)
        engine = self.search_engine
        ready: dict[str, Hit] = {}

        def prepare(ids: list[str], terms: set[str]) -> None:
            ready.update(self._hits(ids, terms))

        # Hybrid search calls `prepare` with the head of the word matches while the query
        # is still being embedded, so most of the page is loaded by the time it is fused.
        result = engine.search(
            parsed, sort=sort, page=page, per_page=per_page, mode=mode, while_waiting=prepare
        )
        prepare([i for i, _ in result.ids if i not in ready], result.terms)
        relevance = result.sort == "relevance"
        hits = [
            replace(ready[i], score=score if relevance else 0.0)
            for i, score in result.ids
            if i in ready
        ]
        total = result.final_total()
        return SearchPage(
            query=query,
            hits=hits,
            total=total,
            page=page,
            per_page=per_page,
            sort=result.sort,
            mode=result.mode,
            semantic_coverage=result.semantic_coverage,
            notes=[*parsed.notes, *result.notes],
            pages=servable_pages(total, per_page),
        )

    def _hits(self, ids: list[str], terms: set[str]) -> dict[str, Hit]:
        """The live papers among `ids`, with `terms` highlighted (scores left at 0)."""
        papers = self.store.get_papers(ids)
        marks = Highlighter(terms, self.search_engine.analyze_word)
        return {
            arxiv_id: Hit(
                paper=paper,
                score=0.0,
                highlights={
                    "title": marks.html(shown_text(paper.title)),
                    "abstract": marks.html(shown_text(paper.abstract), ABSTRACT_SNIPPET_CHARS),
                },
            )
            for arxiv_id, paper in papers.items()
            if not paper.deleted
        }

    def similar(self, arxiv_id: str, k: int = 10) -> list[Hit]:
        """Papers like `arxiv_id` (vector neighbours blended with shared distinctive words)."""
        paper = self.store.get_paper(arxiv_id)
        if paper is None:
            raise PaperNotFound(f"no paper {arxiv_id!r} is stored")
        ranked = self.search_engine.similar(paper, k)
        papers = self.store.get_papers([i for i, _ in ranked])
        return [
            Hit(paper=papers[i], score=s)
            for i, s in ranked
            if i in papers and not papers[i].deleted
        ]

    def rebuild_index(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the lexical index from the store; returns the papers read."""
        return self.search_engine.rebuild(progress)

    def index_stats(self) -> dict[str, Any]:
        lexical = self.search_engine.lexical
        return {
            "path": str(lexical.path),
            "documents": lexical.num_docs,
            "size_bytes": lexical.size_bytes(),
        }

    # -- listings: days, weeks, months; trending, votes ---------------------------

    @property
    def accounts(self) -> AccountStore:
        return AccountStore(self.store.engine)

    def latest_day(self) -> date | None:
        """The newest listing day; None when the store is empty."""
        return listing.latest_day(self.store)

    def window(self, view: str, anchor: date | None = None) -> listing.Window:
        """The day/week/month around `anchor` (default: the latest listing day, else
        today). Raises ListingError for an unknown view."""
        return listing.make_window(self.store, view, anchor or self.latest_day() or date.today())

    def listed(
        self,
        window: listing.Window,
        sort: str = "date",
        page: int = 1,
        per_page: int = 50,
        user_id: int | None = None,
    ) -> listing.Listing:
        """One page of the window's papers, newest first (sort="date") or by trending
        score, with upvotes and (for `user_id`) the reader's own votes."""
        offset = (max(1, page) - 1) * per_page
        if listing.check_sort(sort) == "trending":
            ranked, total = self.trending(window.start, window.end, limit=per_page, offset=offset)
            found = self.cards([p for p, _ in ranked], user_id)
            found.scores = {p.arxiv_id: s for p, s in ranked}
        else:
            papers = self.store.papers_listed(window.start, window.end, per_page, offset)
            found = self.cards(papers, user_id)
            total = self.store.count_listed(window.start, window.end)
        found.total = total - found.hidden
        return found

    def cards(
        self, papers: list[Paper], user_id: int | None = None, hide_dismissed: bool = True
    ) -> listing.Listing:
        """`papers` with what their cards show: upvotes, the reader's votes and library
        marks; without those the reader marked "not interested" unless `hide_dismissed`
        is off (a paper's own page)."""
        marks = self.library.marks(user_id, papers)
        hidden = 0
        if hide_dismissed:
            papers, hidden = without_dismissed(papers, marks.ratings)
        ids = [p.arxiv_id for p in papers]
        voted = self.accounts.voted_by(user_id, ids) if user_id is not None else set()
        found = listing.Listing(papers, len(papers), self.upvotes(papers), voted)
        found.marks, found.hidden = marks, hidden
        return found

    def votes_of(self, user_id: int) -> list[str]:
        """Papers this reader upvoted, newest vote first."""
        return self.accounts.votes_of(user_id)

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
        ranked = ranked_window(self.store, start, end)
        if len(cache) > 64:
            cache.clear()
        cache[(start, end)] = (monotonic(), ranked)
        return ranked

    _votes_changed_at = 0.0

    def set_vote(self, user_id: int, arxiv_id: str, up: bool) -> None:
        self.accounts.set_vote(user_id, arxiv_id, up)
        self._votes_changed_at = monotonic()

    # -- a reader's library file (issue 13) ----------------------------------------

    def match_library(self, data: bytes, filename: str = "", fetch: bool = False) -> LibraryMatch:
        """Match a BibTeX / CSL-JSON / RIS / id-list file to papers (by arXiv id, DOI,
        normalised title); with `fetch`, papers known by id but not stored are fetched
        from the arXiv API. Raises LibraryFileError when the file as a whole is unusable."""
        from paperwire.bibliography import match_library, parse_library  # BibTeX parser: lazily
        from paperwire.bibliography.entries import normalise_doi
        from paperwire.bibliography.latex import title_key

        parsed = parse_library(data, filename, self.settings.library_max_bytes)
        keys = PaperKeys(self.store.engine)
        keys.refresh(title_key, normalise_doi)
        return match_library(parsed, keys, self._fetch_for_library if fetch else None)

    def _fetch_for_library(self, ids: list[str]) -> tuple[set[str], str | None]:
        """Fetch what arXiv may have; an id the API client refuses (the readers should
        never give one) is left out of the request and named, never a crash."""
        errors: list[str] = []
        try:
            request_ids(ids)
        except NotArxivIds as exc:
            refused = set(exc.tokens)
            ids = [i for i in ids if i not in refused]
            errors.append(f"not asked of arXiv: {exc}")
        cap = self.settings.library_fetch_max
        if len(ids) > cap:  # 1,500 ids were 15 arXiv requests in one web request's thread
            errors.append(
                f"{len(ids) - cap:,} more arXiv ids were not fetched: one import fetches at "
                f"most {cap:,} papers (setting library_fetch_max); import the file again "
                "to fetch the next ones"
            )
            ids = ids[:cap]
        try:
            if ids:
                self.fetch_ids(ids)
        except SourceError as exc:  # offline, or arXiv refused: report, match the rest
            errors.append(f"could not fetch from arXiv: {exc}")
        return PaperKeys(self.store.engine).live_ids(ids), "; ".join(errors) or None

    # -- the reader's library (issue 13): see paperwire/library.py ------------------

    @cached_property
    def library(self) -> Library:
        """Collections, thumbs up/down, followed authors, API tokens, digest links."""
        return Library(self.store, self.accounts, self.search, self.digest)

    def reader_signals(self, user_id: int) -> ReaderSignals:
        """What the recommender may know about a reader (saved, upvoted, liked, ...)."""
        return self.library.reader_signals(user_id)

    def add_to_collection(
        self, user_id: int, collection: str | int, arxiv_ids: Sequence[str]
    ) -> AddReport:
        """Add stored papers to a collection (by id, or by name: made if missing);
        counts of added / already there and the ids not stored here."""
        return self.library.add_to_collection(user_id, collection, arxiv_ids)

    # -- importing, exporting and secret feeds of the library (issue 13) -------------

    def import_library(
        self,
        user_id: int,
        collection: str | int,
        data: bytes,
        filename: str = "",
        fetch: bool = False,
    ) -> ImportReport:
        """Match a library file (see match_library) and add what matched to the reader's
        collection (by id, or by name: made if missing, unless nothing matched, when the
        report's `added` is None). Imported papers are saved papers:
        the recommender takes them as positives under the collection's name.
        LibraryFileError, making no collection, when the file holds no entry at all."""
        if isinstance(collection, int):
            self.library.collection(user_id, collection)  # NotFound before any work
        from paperwire.bibliography.entries import LibraryFileError

        try:
            matched = self.match_library(data, filename, fetch=fetch)
        except LibraryFileError as exc:
            raise LibraryFileError(f"{exc}; nothing was imported") from exc
        if matched.entries == 0:  # e.g. binary bytes read as an id list: no collection made
            raise LibraryFileError(
                f"no entries found in {filename or 'the file'} (read as {matched.format}); "
                "nothing was imported: choose a BibTeX, CSL-JSON or RIS file, or a list of "
                "arXiv ids or DOIs, one per line"
            )
        if (
            not matched.matched
            and isinstance(collection, str)
            and self.library.find_collection(user_id, collection) is None
        ):
            return ImportReport(matched, None)  # nothing to put in it: no empty collection
        added = self.library.add_to_collection(user_id, collection, matched.matched)
        return ImportReport(matched, added)

    @cached_property
    def feed_tokens(self) -> FeedTokens:
        """Tokens of the readers' secret feed URLs (collection, "For you")."""
        return FeedTokens(self.store.engine, load_secret_key(self.settings))

    # -- recommendations: "For you" (issue 13) -----------------------------------

    @property
    def for_you(self) -> ForYou:
        """Corpus features and per-reader models (built on first use, kept current)."""
        found: ForYou | None = self.__dict__.get("_for_you")
        if found is None:
            from paperwire.recommend.foryou import ForYou

            semantic = self.semantic_index if SemanticIndex.installed() else None
            cap = self.settings.recommend_corpus_papers or None
            found = self.__dict__.setdefault("_for_you", ForYou(self.store, semantic, papers=cap))
        return found

    def start_recommender_warm_up(self) -> threading.Thread | None:
        """Build the recommender's corpus features on a daemon thread (unless the setting
        `recommend_warm_up` is off or the store is empty); a failure is logged, and the
        first recommendation then builds them itself."""
        if not self.settings.recommend_warm_up or self.store.count_papers() == 0:
            return None

        def warm() -> None:
            try:
                self.for_you.warm_up()
            except Exception:
                log.exception("warming up the recommender failed")

        thread = threading.Thread(target=warm, name="paperwire-recommend-warm-up", daemon=True)
        thread.start()
        return thread

    def recommend(
        self, signals: ReaderSignals, *, since: date, until: date, limit: int = 20
    ) -> list[Recommendation]:
        """Papers listed in [since, until] ranked for one reader, each with its reasons;
        never one in signals.exclude or signals.negatives. No library: trending in the
        reader's categories."""
        return self.for_you.recommend(
            signals,
            since=since,
            until=until,
            limit=limit,
            trending=lambda: self._ranked_window(since, until),
        )

    def recommended(self, user_id: int, days: int = 30, limit: int = 50) -> Recommended:
        """The reader's recommendations among papers listed in the `days` days ending at
        the newest listing day, with their papers (see Service.recommend)."""
        latest = self.latest_day()
        if latest is None:
            return Recommended(None, None, [])
        since = latest - timedelta(days=days - 1)
        signals = self.reader_signals(user_id)
        found = self.recommend(signals, since=since, until=latest, limit=limit)
        papers = self.store.get_papers([r.arxiv_id for r in found])
        items = [
            (r, papers[r.arxiv_id])
            for r in found
            if r.arxiv_id in papers and not papers[r.arxiv_id].deleted
        ]
        return Recommended(since, latest, items)

    def recommend_for_digest(
        self, email: str, start: date, end: date, skip: set[str], limit: int
    ) -> list[tuple[str, str]]:
        """(arxiv id, why) for a digest subscriber whose address has an account with a
        library; nothing they saved, dismissed or were already mailed (`skip`)."""
        user_id = self.accounts.user_id(email)
        if user_id is None:
            return []
        signals = self.reader_signals(user_id)
        if not signals.positives:
            return []
        signals = replace(signals, exclude=signals.exclude | frozenset(skip))
        found = self.recommend(signals, since=start, until=end, limit=limit)
        return [(r.arxiv_id, "; ".join(r.reasons) or "recommended for you") for r in found]


TRENDING_TTL = 30.0  # seconds a trending ranking is reused by one process


def open_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings.load())
