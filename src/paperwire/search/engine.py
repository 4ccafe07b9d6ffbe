"""The search engine: lexical index plus (when installed and embedded) the semantic index,
combined by the pure functions in fusion.py. The Service is its only caller. The engine
checks a query and picks its mode; result_pages.py makes that mode's page.

Modes: "lexical" (BM25), "semantic" (nearest embeddings), "hybrid" (both, fused). Every
mode honours the query's filters. Hybrid covers only the papers embedded so far and says so.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from paperwire.config import Settings
from paperwire.graphemes import shorten
from paperwire.models import Paper
from paperwire.search.damage import REBUILD_HINT, is_damage
from paperwire.search.embed import INSTALL_HINT
from paperwire.search.fusion import (
    DEFAULT_FUSION,
    AdaptiveFusion,
    FusionConfig,
    rrf,
)
from paperwire.search.index_text import LONG_WORD_CHARS
from paperwire.search.lexical import (
    LOCK_WAIT_SECONDS,
    IndexBusy,
    LexicalIndex,
)
from paperwire.search.lexical_load import BulkLoad
from paperwire.search.query import Clause, ParsedQuery, QueryError, has_word
from paperwire.search.result_pages import (
    EngineResult,
    ResultPages,
    SemanticSearcher,
    WhileWaiting,
)
from paperwire.store import Store

LOG = logging.getLogger(__name__)

MODES = ("hybrid", "lexical", "semantic")
SORTS = ("relevance", "date", "trending")
MAX_RESULTS = 10_000  # deepest result a page may reach
SIMILAR_WEIGHTS = (1.0, 1.0)  # (lexical "more like this", vector neighbours) for rrf
SIMILAR_DEPTH = 50
# Changes committed this long before an indexing pass are assumed visible to it.
SYNC_MARGIN = timedelta(seconds=60)
# How long a catch-up waits for the index writer lock before leaving the work to the
# process holding it (an import indexes its own batches; lexical_load.BulkLoad).
CATCH_UP_LOCK_WAIT = 2.0


def _synced_at(lexical: LexicalIndex, started: datetime) -> None:
    """Every change stored before `started` is indexed: move synced_until up to it (less
    the margin)."""
    synced = lexical.synced_until
    if synced is not None and synced < started - SYNC_MARGIN:
        lexical.synced_until = started - SYNC_MARGIN


def _unsearchable(words: Sequence[str]) -> str:
    """Why `words`, of which the index's analysis kept nothing, give it nothing to look
    up: letters or digits that the analysis dropped were words too long to index."""
    shown = ", ".join(repr(shorten(w, 50, words=False)) for w in words[:3])
    if any(has_word(w) for w in words):
        return (
            f"{shown} has no searchable words: words of {LONG_WORD_CHARS} characters or "
            "more are not indexed"
        )
    return f"{shown} has no searchable words (letters or digits)"


def _page_offset(mode: str, sort: str, page: int, per_page: int) -> int:
    """Where the page starts among the results; QueryError for a mode, sort or page
    the engine does not serve."""
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    if page < 1 or per_page < 1 or per_page > 200:
        raise QueryError("page must be >= 1 and per_page between 1 and 200")
    return (page - 1) * per_page


def _pages(total: int, per_page: int) -> int:
    return min(-(-total // per_page), MAX_RESULTS // per_page)


def servable_pages(total: int, per_page: int) -> int:
    """How many pages of `per_page` can be fetched (at least 1): the results' pages, but
    none deeper than MAX_RESULTS. The page count every shell shows (API, web, CLI)."""
    return max(1, _pages(total, per_page))


def past_the_results(page: int, per_page: int, total: int) -> str:
    """The note on an empty page past the last one (pages end at MAX_RESULTS)."""
    pages = _pages(total, per_page)
    note = (
        f"page {page:,} is past the results: {total:,} result(s) make {pages:,} "
        f"page(s) of {per_page}"
    )
    if total > pages * per_page:
        note += f" (pages go no deeper than result {MAX_RESULTS:,}; refine the query)"
    return note


def paging_limit_note(per_page: int, total: int) -> str | None:
    """The note on a page of results too many to page through to the end, else None."""
    pages = _pages(total, per_page)
    if total <= pages * per_page:
        return None
    return (
        f"only the first {pages * per_page:,} of {total:,} results can be paged "
        f"({pages:,} page(s) of {per_page}); refine the query to reach the rest"
    )


def load_semantic(settings: Settings, store: Store) -> tuple[SemanticSearcher | None, str]:
    """The semantic index, or None and the reason it is unavailable."""
    try:
        module = importlib.import_module("paperwire.search.semantic")
    except ImportError:
        return None, "semantic search is not part of this installation"
    cls: Any = module.SemanticIndex
    if not cls.installed():
        return None, INSTALL_HINT
    index: SemanticSearcher = cls(settings, store)
    return index, ""


class SearchEngine:
    """Opens indexes lazily; safe to create per Service."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fusion: FusionConfig = DEFAULT_FUSION,
        semantic_loader: Callable[
            [Settings, Store], tuple[SemanticSearcher | None, str]
        ] = load_semantic,
        adaptive: AdaptiveFusion | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fusion = fusion
        # Hybrid search adapts `fusion` to each query (fusion.adaptive_fuse).
        self.adaptive = adaptive or AdaptiveFusion(base=fusion)
        self._lexical: LexicalIndex | None = None
        self._semantic_loader = semantic_loader
        self._semantic: tuple[SemanticSearcher | None, str] | None = None
        self.needs_rebuild = False
        self.rebuilding = False  # the serve timer is rebuilding the index (_rebuild_if_needed)
        self.opening_catch_up = 0  # papers re-indexed when the lexical index was opened
        self._stems: dict[str, list[str]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._caught_up_at = 0.0
        self._opening = threading.RLock()  # one thread opens the index (a catch-up re-enters)
        self._timer: threading.Thread | None = None
        self._timer_stop = threading.Event()

    def _in_background(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run `fn` on a helper thread while the caller does the lexical half of a query:
        embedding a query (onnxruntime), HNSW search and tantivy all release the GIL, so
        the two halves overlap on a second core."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="paperwire-search")
        return self._pool.submit(fn, *args)

    def start_catch_up_timer(self) -> None:
        """Catch up every `lexical_catch_up_seconds` on a daemon thread, queried or not
        (`paperwire serve`): a query never waits for a catch-up, and none is answered from
        an index more than one interval (and the catch-up's own time) behind the store.
        Without it a catch-up began only on a query after the interval, in the
        background, and that first query after an idle spell was answered stale."""
        interval = self.settings.lexical_catch_up_seconds
        if interval <= 0 or self._timer is not None:
            return
        self._timer = threading.Thread(
            target=self._catch_up_every, args=(interval,), name="paperwire-lexical-timer",
            daemon=True,
        )  # fmt: skip
        self._timer.start()

    def _catch_up_every(self, interval: float) -> None:
        self._catch_up_quietly()  # opens the index at once (its opening catch-up)
        self._rebuild_if_needed()
        while not self._timer_stop.wait(interval):
            self._caught_up_at = time.monotonic()
            self._catch_up_quietly()
            self._rebuild_if_needed()

    def _rebuild_if_needed(self) -> None:
        """Rebuild, on the timer's thread, an index that was never in sync with a
        non-empty store (cleared for being of an older version or damaged, or new on this
        host), so that a server needs no `paperwire index rebuild` after an upgrade.
        Another process holding the index (its own rebuild, an import) defers it: the
        next catch-up sees that process's work."""
        if not self.needs_rebuild:
            return
        self.rebuilding = True
        started = time.monotonic()
        LOG.info("rebuilding the search index in the background (searches say so meanwhile)")
        try:
            count = self.rebuild(wait=0.0)
        except IndexBusy:
            LOG.info("search index rebuild deferred: another process holds the index")
        except Exception:  # the next tick retries; queries keep the index as it is
            LOG.exception("could not rebuild the search index")
        else:
            took = time.monotonic() - started
            LOG.info("rebuilt the search index: %d papers in %.1f s", count, took)
        finally:
            self.rebuilding = False

    def close(self) -> None:
        if self._timer is not None:
            self._timer_stop.set()
            self._timer.join(timeout=30)
            self._timer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            with self._opening:
                if self._lexical is None:
                    self._open_lexical()
        elif self._timer is None and self._catch_up_due():
            self._caught_up_at = time.monotonic()  # one catch-up at a time
            threading.Thread(
                target=self._catch_up_quietly, name="paperwire-lexical-catch-up", daemon=True
            ).start()
        assert self._lexical is not None
        return self._lexical

    def _open_lexical(self) -> None:
        self._lexical = LexicalIndex(self.settings.data_dir / "index" / "lexical")
        self._caught_up_at = time.monotonic()
        try:
            self.opening_catch_up = self.catch_up()
        except ValueError as exc:  # segment files unreadable though the index opened
            if not is_damage(exc):
                raise
            self._lexical.clear_damaged(exc)
            self.opening_catch_up = self.catch_up()  # an empty index: asks for a rebuild

    def _catch_up_due(self) -> bool:
        """True when a long-running process without the catch-up timer should look for
        papers that other processes or hosts stored (every `lexical_catch_up_seconds`; 0
        never)."""
        interval = self.settings.lexical_catch_up_seconds
        return interval > 0 and time.monotonic() - self._caught_up_at >= interval

    def _catch_up_quietly(self) -> None:
        try:
            self.catch_up()
        except Exception:  # the next due check retries; queries keep the index as it is
            LOG.exception("could not bring the lexical index up to date")

    def catch_up(self) -> int:
        """Re-index the papers the store changed since the index was last known in sync
        whose documents are not current (a process killed between committing a batch and
        indexing it leaves such papers); returns how many. Papers changed within
        SYNC_MARGIN of that time are compared too (a writer's commit may land late), but
        those already indexed as stored are left alone. An index that was never in sync
        with a non-empty store (new, or cleared for being of an older version) is left
        for `rebuild`, here or in another process: the catch-up that finds it rebuilt ends
        the note asking for one."""
        lexical = self.lexical
        started = datetime.now(UTC)
        since = lexical.synced_until
        count = 0
        if since is None:
            self.needs_rebuild = self.store.count_papers(include_deleted=True) > 0
            if self.needs_rebuild:
                return 0
        else:  # in sync once, maybe by another process's `paperwire index rebuild`
            self.needs_rebuild = False
            for states in self.store.iter_content_hashes(modified_since=since):
                stale = lexical.stale(states)
                if stale:
                    try:
                        self._reindex(stale, wait=CATCH_UP_LOCK_WAIT)
                    except IndexBusy:  # a writer (e.g. an import) is indexing right now
                        LOG.info("lexical catch-up deferred: another process holds the index")
                        return count  # synced_until stays: the next catch-up looks again
                    count += len(stale)
        try:
            lexical.synced_until = started - SYNC_MARGIN
        except OSError as exc:  # e.g. a full disk: searching goes on, the next one retries
            LOG.warning("could not record the lexical index's sync time: %s", exc)
        return count

    def use_semantic(self, index: SemanticSearcher | None, reason: str = "") -> None:
        """Search with this semantic index (None: none, for `reason`) instead of loading
        search.semantic.SemanticIndex."""
        self._semantic = (index, reason or "semantic search is switched off")

    def semantic(self) -> tuple[SemanticSearcher | None, str]:
        if self._semantic is None:
            self._semantic = self._semantic_loader(self.settings, self.store)
        return self._semantic

    # -- index maintenance ---------------------------------------------------------

    def index_changed(self, ids: Sequence[str]) -> None:
        """Bring the lexical index up to date for `ids`, right after the ingest batch that
        changed them committed; then every change up to now (less a margin) is indexed."""
        started = datetime.now(UTC)
        lexical = self.lexical
        self._reindex(ids)
        _synced_at(lexical, started)

    def bulk_load(self) -> BulkLoad:
        """A BulkLoad for an import's stored rows: one writer for many batches, and
        synced_until moved at each of its commits. Opening the index first catches up on
        anything an earlier, killed run stored but did not index."""
        lexical = self.lexical
        return BulkLoad(lexical, on_commit=functools.partial(_synced_at, lexical))

    def _reindex(self, ids: Sequence[str], wait: float = LOCK_WAIT_SECONDS) -> None:
        """Replace the documents of `ids` with the store's papers (or drop them)."""
        papers = self.store.get_papers(ids)
        self.lexical.upsert(list(papers.values()), wait=wait)
        missing = [i for i in ids if i not in papers]
        if missing:
            self.lexical.delete(missing, wait=wait)

    def rebuild(
        self, progress: Callable[[int], None] | None = None, wait: float = LOCK_WAIT_SECONDS
    ) -> int:
        started = datetime.now(UTC)
        try:
            count = self.lexical.rebuild_rows(self.store.iter_rows(), progress, wait=wait)
        except ValueError as exc:  # damage the opening did not see: start from empty
            if not is_damage(exc):
                raise
            self.lexical.clear_damaged(exc)
            count = self.lexical.rebuild_rows(self.store.iter_rows(), progress)
        self.lexical.synced_until = started - SYNC_MARGIN
        self.needs_rebuild = False
        return count

    # -- searching -------------------------------------------------------------------

    def search(
        self,
        parsed: ParsedQuery,
        *,
        sort: str,
        page: int,
        per_page: int,
        mode: str,
        while_waiting: WhileWaiting | None = None,
    ) -> EngineResult:
        """One page of results; a page past the last one (or deeper than MAX_RESULTS)
        comes back empty with the total and a note saying how many pages there are."""
        offset = _page_offset(mode, sort, page, per_page)
        if offset + per_page > MAX_RESULTS:  # too deep to serve: count from the first page
            result = self._page(parsed, sort, 0, per_page, mode, None)
        else:
            result = self._page(parsed, sort, offset, per_page, mode, while_waiting)
        if offset and (offset + per_page > MAX_RESULTS or not result.ids):
            result.ids = []
            result.notes.append(past_the_results(page, per_page, result.final_total()))
        elif (limited := paging_limit_note(per_page, result.final_total())) is not None:
            result.notes.append(limited)
        return result

    def _page(
        self,
        parsed: ParsedQuery,
        sort: str,
        offset: int,
        per_page: int,
        mode: str,
        while_waiting: WhileWaiting | None,
    ) -> EngineResult:
        result = EngineResult(ids=[], total=0, mode=mode, terms=set())
        result.semantic_coverage = self.semantic_coverage()
        if self.lexical and self.needs_rebuild:
            result.notes.append(self._rebuild_note())
        if parsed.arxiv_id is not None:
            return self._known_item(parsed.arxiv_id, parsed, offset, per_page, result)
        parsed, nothing = self._searchable(parsed, result.notes)
        self._note_empty_categories(parsed, result.notes)
        if nothing:
            return result  # the words it asked for cannot be in any paper: no match
        result.terms = self._highlight_terms(parsed)
        if not parsed.has_text and sort == "relevance":
            sort = "date"
            result.notes.append("no search words given: showing newest first")
        result.sort = sort
        semantic = self._semantic_for(parsed, result) if mode != "lexical" else None
        pages = ResultPages(
            self.lexical,
            self.store,
            self.fusion,
            self.adaptive,
            self._in_background,
            words_indexed=not self.needs_rebuild,
        )
        if semantic is None:
            result.mode = "lexical"
            return pages.lexical_page(parsed, sort, offset, per_page, result)
        if result.mode == "semantic":
            return pages.semantic_page(semantic, parsed, sort, offset, per_page, result)
        return pages.hybrid_page(semantic, parsed, sort, offset, per_page, result, while_waiting)

    def _known_item(
        self, arxiv_id: str, parsed: ParsedQuery, offset: int, per_page: int, result: EngineResult
    ) -> EngineResult:
        """A query that is an arXiv id: that paper alone, when it is stored (and passes
        the filters); one lookup by id, whatever the mode."""
        paper = self.store.get_papers([arxiv_id]).get(arxiv_id)
        stored = paper is not None and not paper.deleted
        kept = stored and (
            not parsed.has_filters or arxiv_id in self.lexical.restrict([arxiv_id], parsed)
        )
        result.mode = "lexical"
        if kept:
            result.ids, result.total = [(arxiv_id, 1.0)][offset : offset + per_page], 1
            result.notes.append(f"arXiv id {arxiv_id}: the paper with this id")
        elif stored:
            result.notes.append(f"the paper with arXiv id {arxiv_id} does not pass the filters")
        else:
            result.notes.append(
                f"no stored paper has arXiv id {arxiv_id} (`paperwire fetch {arxiv_id}` adds it)"
            )
        return result

    def _searchable(self, parsed: ParsedQuery, notes: list[str]) -> tuple[ParsedQuery, bool]:
        """Check the query's words against the index's analysis: True (with a note) when
        they all vanish (a word of 40 letters or more, only punctuation), since such a query
        would otherwise match every paper; exclusions that vanish are dropped."""
        if parsed.free_words and not any(self.analyze_word(w) for w in parsed.free_words):
            notes.append(f"nothing matches: {_unsearchable(parsed.free_words)}")
            return parsed, True
        for clause in parsed.required:
            if not self._clause_terms(clause):
                notes.append(f"nothing matches: {_unsearchable([clause.text])}")
                return parsed, True
        kept = tuple(c for c in parsed.excluded if self._clause_terms(c))
        if len(kept) < len(parsed.excluded):
            gone = [c.text for c in parsed.excluded if c not in kept]
            notes.append(f"an exclusion was ignored: {_unsearchable(gone)}")
            parsed = replace(parsed, excluded=kept)
        return parsed, False

    def _note_empty_categories(self, parsed: ParsedQuery, notes: list[str]) -> None:
        """Say which asked-for categories no paper is listed under: an empty page for
        cat:cs.BOGUS would otherwise read as "no paper matches the words"."""
        if not self.lexical or self.needs_rebuild:
            return
        wanted = parsed.categories + parsed.category_filter
        if empty := self.lexical.empty_categories(wanted):
            names = ", ".join(empty)
            notes.append(f"no stored paper is listed under {names} (check the spelling)")

    def _clause_terms(self, clause: Clause) -> list[str]:
        analyzer = self.lexical.names if clause.field == "authors" else self.lexical.text
        return analyzer.analyze(clause.text)

    def _rebuild_note(self) -> str:
        if self.rebuilding:
            return "the search index is being rebuilt; word matches return when it is done"
        if self.lexical.damaged:
            return f"the search index was damaged and has been cleared; {REBUILD_HINT}"
        if self.lexical.outdated:
            return (
                "the search index was made by an older version of paperwire and has been "
                "cleared; run `paperwire index rebuild`"
            )
        return "the search index is empty; run `paperwire index rebuild`"

    def semantic_coverage(self) -> float:
        """The share of live papers that meaning-based search covers (embedded by its
        model): reported with every search, whatever its mode; 0.0 without semantic
        search or papers."""
        index, _reason = self.semantic()
        if index is None:
            return 0.0
        done, total = index.coverage()
        return done / total if total else 0.0

    def _semantic_for(self, parsed: ParsedQuery, result: EngineResult) -> SemanticSearcher | None:
        index, reason = self.semantic()
        if index is None:
            result.notes.append(f"{reason}; showing word matches only")
            return None
        done, total = index.coverage()
        if done == 0:
            result.notes.append("no papers are embedded yet (`paperwire embed`); word matches only")
            return None
        if not parsed.semantic_text.strip():
            result.notes.append("no free text to compare by meaning; word matches only")
            return None
        if done < total:
            result.notes.append(
                f"meaning-based results cover {done:,} of {total:,} papers embedded so far"
            )
        return index

    def analyze_word(self, word: str) -> list[str]:
        """The index's analysis of one word, memoised (highlighting asks for the same
        words again and again)."""
        stems = self._stems.get(word)
        if stems is None:
            if len(self._stems) > 200_000:
                self._stems.clear()
            stems = self._stems[word] = self.lexical.text.analyze(word)
        return stems

    def _highlight_terms(self, parsed: ParsedQuery) -> set[str]:
        words = list(parsed.free_words)
        words += [c.text for c in parsed.required if c.field != "authors"]
        return set(self.lexical.content_terms(words))

    # -- similar papers ----------------------------------------------------------------

    def similar(self, paper: Paper, k: int) -> list[tuple[str, float]]:
        """Vector neighbours fused (rrf) with lexical "more like this"; lexical alone
        when the paper has no vector."""
        depth = max(SIMILAR_DEPTH, k)
        index, _reason = self.semantic()
        pending = self._in_background(index.neighbours, paper.arxiv_id, depth) if index else None
        lexical = self.lexical.more_like_this(paper, depth)
        vectors: list[tuple[str, float]] = pending.result() if pending is not None else []
        vectors = [(i, s) for i, s in vectors if i != paper.arxiv_id]
        if not vectors:
            return lexical[:k]
        return rrf([lexical, vectors], k=self.fusion.k, weights=SIMILAR_WEIGHTS)[:k]
