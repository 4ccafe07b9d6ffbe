"""One page of search results for each mode, from the indexes a SearchEngine opened:
word matches alone, the nearest papers by meaning, or both fused (fusion.adaptive_fuse),
each by relevance or, through the lexical index, by date or votes. The engine checks the
query and picks the mode; a ResultPages serves one search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import tantivy

from paperwire.search.fusion import (
    AdaptiveFusion,
    FusionConfig,
    HitVectors,
    Vector,
    adaptive_fuse,
    needs_overlap,
    phrase_overlap,
    wants_smoothing,
)
from paperwire.search.lexical import LexicalIndex, LexicalResult
from paperwire.search.query import ParsedQuery, format_query
from paperwire.store import Store
from paperwire.store.accounts import AccountStore
from paperwire.trending import rank_matches

# Trending ranks, of a query's matches, the TRENDING_DEPTH newest, the TRENDING_DEPTH with
# most HF upvotes and the TRENDING_DEPTH with most of our votes; the other matches (older
# than all the newest, with fewer votes) follow, newest first. 500: ~3 ms a page on 3,000
# papers (1,000: ~6 ms, nearly all of it scoring in Python), bounded whatever the corpus.
TRENDING_DEPTH = 500
SEMANTIC_MAX_RESULTS = 200  # semantic mode lists at most this many nearest papers
FILTER_OVERFETCH = 4  # semantic candidates fetched per wanted result when filters apply
T = TypeVar("T")
NO_PAPER_CONTAINS = "no paper contains these words"
NO_WORD_MATCHES = NO_PAPER_CONTAINS + "; showing the closest by meaning"
# Quoted phrases and ti:/abs:/au: items are required in every mode: meaning-based
# results are drawn from the papers that hold them.
MUST_MATCH = "quoted phrases and ti:, abs:, au: items must match in every mode, by meaning too"
# hybrid on an index that is empty though the store is not (new host, cleared index)
UNINDEXED_WORDS = "no word matches until the search index is built; showing the closest by meaning"


def no_word_matches(outside: int, nearest: bool) -> str:
    """The note on a hybrid search whose words matched nothing: that no paper at all
    holds them, else that the filters left them out (`outside`: how many papers outside
    the filters do); `nearest`: papers near in meaning are shown (NO_WORD_MATCHES)."""
    if not outside:
        return NO_WORD_MATCHES if nearest else NO_PAPER_CONTAINS
    note = f"no paper within the filters contains these words ({outside:,} outside them do)"
    return note + ("; showing the closest by meaning within the filters" if nearest else "")


# Called by hybrid search, on the caller's thread, with the ids that head the page's word
# matches and the words to highlight, while the semantic half still runs on a helper
# thread: the caller can load (and highlight) papers that are likely to be on the page.
WhileWaiting = Callable[[list[str], set[str]], None]


def _settle(future: Future[T], compute: Callable[[], T]) -> T:
    """compute(), whose value (or exception) also goes to whoever waits on `future`."""
    try:
        value = compute()
    except BaseException as exc:
        future.set_exception(exc)
        raise
    future.set_result(value)
    return value


class SemanticSearcher(Protocol):
    """What the engine needs from search.semantic.SemanticIndex."""

    def coverage(self) -> tuple[int, int]: ...
    def search(self, text: str, k: int) -> list[tuple[str, float]]: ...
    def neighbours(self, arxiv_id: str, k: int) -> list[tuple[str, float]]: ...
    def vectors(self, arxiv_ids: Sequence[str]) -> Mapping[str, Vector]: ...


@dataclass(slots=True)
class EngineResult:
    ids: list[tuple[str, float]]  # this page, in order
    total: int
    mode: str
    semantic_coverage: float = 0.0
    notes: list[str] = field(default_factory=list)
    terms: set[str] = field(default_factory=set)  # analysed words to highlight
    sort: str = "relevance"  # the order actually used
    # Hybrid pages count their union on a helper thread while the caller loads and
    # highlights the page's papers; final_total() waits for it.
    pending_total: Future[int] | None = None

    def final_total(self) -> int:
        if self.pending_total is not None:
            self.total = self.pending_total.result()
            self.pending_total = None
        return self.total


@dataclass(slots=True)
class ResultPages:
    """The page of one search, in the mode the engine chose."""

    lexical: LexicalIndex
    store: Store
    fusion: FusionConfig
    adaptive: AdaptiveFusion
    # Runs a function on a helper thread (SearchEngine._in_background).
    in_background: Callable[..., Future[Any]]
    # No paper holds the query's required items: the semantic half said so (_none_pass).
    required_unmatched: bool = False
    # (candidates fetched, papers passing the filters not among them) when the semantic
    # half could not reach every paper that passes (_semantic_ids).
    beyond_reach: tuple[int, int, tuple[str, str]] | None = None
    # False when the lexical index is unbuilt though papers are stored (needs_rebuild):
    # finding no word match then says nothing about the papers
    words_indexed: bool = True

    def lexical_page(
        self, parsed: ParsedQuery, sort: str, offset: int, limit: int, result: EngineResult
    ) -> EngineResult:
        query = self.lexical.build_query(parsed)
        if sort == "trending":
            return self._trending_page(query, parsed, offset, limit, result)
        found = self.lexical.search(query, limit=limit, offset=offset, sort=sort)
        result.ids, result.total = found.ids, found.total
        return result

    def _trending_page(
        self,
        query: tantivy.Query,
        parsed: ParsedQuery,
        offset: int,
        limit: int,
        result: EngineResult,
    ) -> EngineResult:
        """`query`'s matches by trending score (trending.rank_matches: our votes and HF
        upvotes, decayed by age), best first, ties newest first; past the candidates
        (TRENDING_DEPTH), the other matches newest first. The candidates do not depend on
        the page, so pages are slices of one order."""
        accounts = AccountStore(self.store.engine)
        voted = accounts.most_voted(TRENDING_DEPTH)
        pool, newest, total = self.lexical.trending_pool(query, TRENDING_DEPTH, voted)
        ours = accounts.vote_counts([pid for pid, _day, _hf in pool])
        tallies = [(pid, day, hf, ours.get(pid, 0)) for pid, day, hf in pool]
        ranked = rank_matches(tallies, parsed.since)
        end = offset + limit
        if end > len(ranked):  # past the candidates: the rest, newest first
            shown = {pid for pid, _ in ranked}
            want = end - len(ranked) + len(pool) - newest
            tail = self.lexical.search(query, limit=want, offset=newest, sort="date", count=False)
            ranked += [(pid, 0.0) for pid, _day in tail.ids if pid not in shown]
        result.ids, result.total = ranked[offset:end], total
        return result

    def _semantic_ids(
        self, index: SemanticSearcher, parsed: ParsedQuery, depth: int, result: EngineResult
    ) -> list[tuple[str, float]]:
        """Nearest papers passing the filters (over-fetched 4x when filters apply); when
        fewer than `depth` do, a note says why, if the reason is not that fewer pass."""
        if not parsed.has_filters:
            return index.search(parsed.semantic_text, depth)
        fetch = depth * FILTER_OVERFETCH
        candidates = index.search(parsed.semantic_text, fetch)
        allowed = self.lexical.restrict([i for i, _ in candidates], parsed)
        kept = [(i, s) for i, s in candidates if i in allowed][:depth]
        if len(kept) == depth or (kept and len(candidates) < fetch):
            return kept  # enough, or every embedded paper was a candidate
        passing = self.lexical.count_passing(parsed)
        if not passing:
            result.notes.append(self._none_pass(parsed))
        elif passing > len(kept) and len(candidates) == fetch:
            self.beyond_reach = (fetch, passing - len(kept), _what_passes(parsed))
        return kept

    def _beyond_reach_note(self, result: EngineResult) -> None:
        """Say that papers passing the filters were not among the nearest fetched."""
        if self.beyond_reach is None:
            return
        fetch, missed, what = self.beyond_reach
        one = missed == 1
        others = (
            f"1 other paper that {what[0]}" if one else f"{missed:,} other papers that {what[1]}"
        )
        result.notes.append(
            f"meaning-based matches come from the {fetch:,} papers nearest in meaning: "
            f"{others} {'is' if one else 'are'} not among them"
        )

    def _none_pass(self, parsed: ParsedQuery) -> str:
        """Why no paper can be listed by meaning, when none passes the query's filters:
        its required items (phrases, ti:, abs:, au:) when no paper holds them, else the
        filters as a whole."""
        required = ParsedQuery(required=parsed.required)
        if parsed.required and not self.lexical.count_passing(required):
            self.required_unmatched = True
            return f"no paper contains {format_query(required)} ({MUST_MATCH})"
        return "no paper passes the filters, so none can be listed by meaning"

    def semantic_page(
        self,
        index: SemanticSearcher,
        parsed: ParsedQuery,
        sort: str,
        offset: int,
        limit: int,
        result: EngineResult,
    ) -> EngineResult:
        # A fixed depth keeps totals and pages consistent from page to page.
        ranked = self._semantic_ids(index, parsed, SEMANTIC_MAX_RESULTS, result)
        self._beyond_reach_note(result)
        if sort == "relevance" and len(ranked) == SEMANTIC_MAX_RESULTS:
            result.notes.append(
                f"meaning-based search lists the {SEMANTIC_MAX_RESULTS} papers nearest in "
                "meaning, whether or not they contain these words"
            )
        if offset + limit > SEMANTIC_MAX_RESULTS:
            result.notes.append(
                f"meaning-only results stop at the {SEMANTIC_MAX_RESULTS} nearest papers"
            )
        if sort != "relevance":
            return self._sorted_page(
                None, [i for i, _ in ranked], parsed, sort, offset, limit, result
            )
        result.ids, result.total = ranked[offset : offset + limit], len(ranked)
        return result

    def hybrid_page(
        self,
        index: SemanticSearcher,
        parsed: ParsedQuery,
        sort: str,
        offset: int,
        limit: int,
        result: EngineResult,
        while_waiting: WhileWaiting | None = None,
    ) -> EngineResult:
        depth = self.fusion.depth
        query = self.lexical.build_query(parsed)
        if sort != "relevance":
            members = [i for i, _ in self._semantic_ids(index, parsed, depth, result)]
            return self._sorted_page(query, members, parsed, sort, offset, limit, result)
        lexical_ready: Future[LexicalResult] = Future()
        semantic_ready: Future[list[tuple[str, float]]] = Future()

        def semantic_then_count() -> int:
            """The semantic half, then at once (on the same thread, while the caller fuses
            and loads the page) the size of the union of both halves."""
            semantic = _settle(
                semantic_ready, lambda: self._semantic_ids(index, parsed, depth, result)
            )
            members = [i for i, _ in semantic]
            return self._union_count(query, members, lexical_ready.result())

        result.pending_total = self.in_background(semantic_then_count)
        lexical = _settle(lexical_ready, lambda: self.lexical.search(query, limit=depth))
        outside = 0 if lexical.total else self._matches_without_filters(parsed)
        end = offset + limit
        if while_waiting is not None and end <= depth:
            while_waiting([i for i, _ in lexical.ids[offset:end]], result.terms)
        terms = len(self.lexical.content_terms(parsed.free_words))
        overlap = self._top_overlap(parsed, lexical.ids, terms)  # while the query embeds
        vectors = self._hit_vectors(index, lexical.ids, terms)  # the word matches' too
        semantic = semantic_ready.result()
        if not lexical.total:  # the page is meaning-based matches alone
            self._beyond_reach_note(result)
            if not self.required_unmatched:
                unknown = not self.words_indexed and semantic
                result.notes.append(
                    UNINDEXED_WORDS if unknown else no_word_matches(outside, bool(semantic))
                )
        vectors = self._hit_vectors(index, semantic, terms, vectors)  # then the rest
        fused = adaptive_fuse(lexical.ids, semantic, terms, self.adaptive, overlap, vectors)
        result.ids = self._past_fused(query, fused, end)[offset:end]
        return result

    def _matches_without_filters(self, parsed: ParsedQuery) -> int:
        """How many papers the query's words and fields match without its categories,
        dates and exclusions (0 when it has none): a search that a filter emptied is not
        one whose words are in no paper."""
        unfiltered = replace(
            parsed,
            excluded=(),
            categories=(),
            excluded_categories=(),
            category_filter=(),
            since=None,
            until=None,
        )
        if unfiltered == parsed:
            return 0
        return self.lexical.search(self.lexical.build_query(unfiltered), limit=1).total

    def _past_fused(
        self, query: tantivy.Query, fused: list[tuple[str, float]], end: int
    ) -> list[tuple[str, float]]:
        """`fused`, then, when a page ends past it (at `end`), the remaining word matches
        in BM25 order."""
        if end <= len(fused):
            return fused
        shown = {i for i, _ in fused}
        depth = self.fusion.depth
        tail = self.lexical.search(query, limit=end - len(fused) + len(shown), offset=depth)
        return fused + [(i, s) for i, s in tail.ids if i not in shown]

    def _top_overlap(
        self, parsed: ParsedQuery, lexical: Sequence[tuple[str, float]], terms: int
    ) -> float:
        """How nearly the best word match's title or abstract holds the query's free words
        (fusion.phrase_overlap); 0.0 when it cannot matter (fusion.needs_overlap)."""
        if not needs_overlap(lexical, terms, self.adaptive):
            return 0.0
        top = self.store.get_papers([lexical[0][0]]).get(lexical[0][0])
        if top is None:
            return 0.0
        return phrase_overlap(" ".join(parsed.free_words), (top.title, top.abstract))

    def _hit_vectors(
        self,
        index: SemanticSearcher,
        hits: Sequence[tuple[str, float]],
        terms: int,
        known: HitVectors | None = None,
    ) -> HitVectors:
        """`known` and the vectors of those of the first `depth` `hits` it lacks (the papers
        fusion will rank), when fusion smooths their scores."""
        known = known if known is not None else HitVectors.of({}, ())
        if not wants_smoothing(terms, self.adaptive):
            return known
        wanted = [i for i, _ in hits[: self.adaptive.base.depth] if i not in known]
        return known.plus(index.vectors(wanted)) if wanted else known

    def _member_query(self, ids: Sequence[str]) -> tantivy.Query:
        return tantivy.Query.term_set_query(self.lexical.schema, "arxiv_id", list(ids))

    def _union_count(self, query: tantivy.Query, ids: Sequence[str], lexical: LexicalResult) -> int:
        """How many papers match `query` or are among `ids` (the semantic list), given
        `lexical`, the head of the word matches with their total: only the ids outside
        that head need asking whether they match."""
        head = {i for i, _ in lexical.ids}
        rest = list({i for i in ids if i not in head})
        if not rest:
            return lexical.total
        # Unscored, and the ids as one term query each: a term set query over arxiv_id
        # alone cost 0.69 ms; this whole count costs 0.66 ms instead of 1.18 (median of
        # the benchmark's queries, 83 ids outside the head).
        schema = self.lexical.schema
        members = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "arxiv_id", i)) for i in rest]
        )
        both = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.Must, members)]
        )
        overlap = self.lexical.search(tantivy.Query.const_score_query(both, 1.0), limit=1).total
        return lexical.total + len(rest) - overlap

    def _sorted_page(
        self,
        query: tantivy.Query | None,
        members: Sequence[str],
        parsed: ParsedQuery,
        sort: str,
        offset: int,
        limit: int,
        result: EngineResult,
    ) -> EngineResult:
        """Word matches (`query`) together with the semantic `members`, newest first or
        trending."""
        parts = [self._member_query(members)] if members else []
        if query is not None:
            parts.append(query)
        if not parts:
            return result
        union = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in parts])
        if sort == "trending":
            return self._trending_page(union, parsed, offset, limit, result)
        found = self.lexical.search(union, limit=limit, offset=offset, sort=sort)
        result.ids, result.total = found.ids, found.total
        return result


def _what_passes(parsed: ParsedQuery) -> tuple[str, str]:
    """What a paper must do to be listed, for the beyond-reach note (singular, plural):
    pass the filters, or, when the query's only constraints are its required items
    (phrases, ti:, abs:, au:), contain them."""
    only_required = parsed.required and not replace(parsed, required=()).has_filters
    if only_required:
        required = format_query(ParsedQuery(required=parsed.required))
        return f"contains {required}", f"contain {required}"
    return "passes the filters", "pass the filters"
