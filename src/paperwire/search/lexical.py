"""BM25 full-text index (tantivy) over title, abstract and authors, with filter fields.

The index lives in ``<data_dir>/index/lexical``. Queries are built programmatically from a
:class:`~paperwire.search.query.ParsedQuery` (never through tantivy's query parser), and
query text is tokenised by the same analyzers the index uses, over the same index_text
(Unicode form, Chinese and Japanese pairs, long words), so stemming matches.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import tantivy

from paperwire.latex import latex_to_text
from paperwire.models import Paper
from paperwire.search.damage import REBUILD_HINT, IndexDamaged, is_damage
from paperwire.search.index_text import TOKEN_BYTES_LIMIT, Analysis
from paperwire.search.lexical_docs import (
    build_schema,
    day_number,
    hash_key,
    key_id,
    put_rows,
)
from paperwire.search.lexical_sort import day_of, newest_first, trending_candidates
from paperwire.search.query import Clause, ParsedQuery, QueryError
from paperwire.store.codec import EncodedRow, encode_paper

# 2: documents carry `digest` (the paper's content hash in the store when indexed), so
# catch-up skips papers whose documents are current.
# 3: documents carry `key` (the arXiv id as a number, see id_key), so results read their
# ids from a fast field instead of loading stored documents.
# 4: title, abstract and authors are indexed as latex_to_text reads them (T\"ornberg as
# Törnberg), and title/abstract words are accent-folded (Törnberg finds Tornberg).
# 5: title, abstract and authors are indexed as index_text reads them: in NFC, without
# invisible characters, Chinese and Japanese as overlapping pairs of characters, and
# words of up to 39 characters in any script (tantivy's limit counts bytes: 20 Cyrillic
# letters were too many; such words are indexed in pieces); ASCII text as before.
# An index of another version is cleared on open and must be rebuilt (`index rebuild`).
SCHEMA_VERSION = 5
# Weight of title-field BM25 against abstract-field BM25 (benchmarks/tune_lexical.py).
# Title matches already score high (short field); boosts above 1 hurt everything measured.
# SciFact train nDCG@10: 0.25 -> .698, 0.5 -> .692, 1 -> .676, 2 -> .626; arXiv known-item
# MRR@10 for pasted titles: 0.25 -> .976, 0.5 -> .998. 0.5 keeps titles findable.
TITLE_BOOST = 0.5
AUTHORS_BOOST = 1.0
MAX_QUERY_TERMS = 64  # distinct free-text terms kept (bounds the cost of pasted pages)
MLT_TERMS = 15  # terms of a paper kept for "more like this" (25 cost 4x the time, same top 5)
WRITER_HEAP = 64_000_000
# A rebuild writes one segment while the corpus fits this budget (74,728 papers do):
# one writer thread, no split. Searching one segment instead of two (or the eight an
# incremental import leaves) is 5% (35%) faster, measured; memory is taken as needed.
REBUILD_HEAP = 1_500_000_000
LOG = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 30.0
OPEN_TRIES = 3  # opening an index whose files cannot be read, before it counts as damaged

# Query-side stopwords: dropped from free words (not from phrases) unless nothing else is left.
# Leaving them out of the index too (custom_stopword before the stemmer, phrases built with
# word positions) was measured for issue 16 and dropped: lexical SciFact test nDCG@10 .689
# -> .692 and a 13% smaller index (36.5 -> 31.8 MB at 74,728 papers), but the default
# hybrid fell on SciFact train .741 -> .736 (test .731 -> .729), at every base weight.
_STOPWORDS = (
    "a an and are as at be but by for from has have how in into is it its of on or that the"
)
STOPWORDS = frozenset(
    (_STOPWORDS + " their this to was we were what when which while who why will with").split(" ")
)

Progress = Callable[[int], None]


class IndexBusy(RuntimeError):
    """Another process holds the index writer lock for too long."""


def text_analyzer() -> tantivy.TextAnalyzer:
    """Title/abstract, of index_text's text: split on non-alphanumerics, drop words of 40
    bytes or more (index_text cut the shorter ones of other scripts to fit), lowercase,
    fold accents (Törnberg -> tornberg), stem."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(TOKEN_BYTES_LIMIT))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


# The stopwords as text_analyzer leaves them ("why" -> "whi", "its" -> "it"): analysed
# terms are compared with these (with STOPWORDS, "why" was ranked by as a content word).
STOPWORD_TERMS = frozenset(t for w in STOPWORDS for t in text_analyzer().analyze(w))


def name_analyzer() -> tantivy.TextAnalyzer:
    """Author names, of index_text's text: split, drop words of 40 bytes or more,
    lowercase, fold accents (D'Incà -> d, inca); no stemming."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(TOKEN_BYTES_LIMIT))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


@dataclass(frozen=True, slots=True)
class LexicalResult:
    ids: list[tuple[str, float]]  # (arxiv_id, score or sort key), in result order
    total: int  # every matching paper, not just this slice


class LexicalIndex:
    """One tantivy index directory. Cheap to open; writers are taken per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = build_schema()
        self.text = Analysis(text_analyzer())  # query text is analysed as documents are
        self.names = Analysis(name_analyzer())
        self.title_boost = TITLE_BOOST
        self.replaced_version: int | None = None  # schema version of a cleared old index
        self.created = self._open_or_create()
        self._last_reload = time.monotonic()

    # -- opening ---------------------------------------------------------------

    def _meta_path(self) -> Path:
        return self.path / "paperwire.json"

    def _open_or_create(self) -> bool:
        """Open the index; (re)create it empty when missing, of another schema version, or
        damaged (its files unreadable on OPEN_TRIES tries: another process's merge can
        delete files just as this one opens). Returns True when it was created now
        (callers may want a rebuild)."""
        try:
            meta = json.loads(self._meta_path().read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("schema_version") != SCHEMA_VERSION:
            old = meta.get("schema_version", meta.get("replaced_version"))
            self.replaced_version = old if isinstance(old, int) else None
            self._reset(damaged=False)
            return True
        for attempt in range(OPEN_TRIES):
            try:
                self._open(reuse=True)
                self.index.searcher()  # opens every segment's files
                return False
            except ValueError as exc:
                if not is_damage(exc):
                    raise
                if attempt == OPEN_TRIES - 1:
                    self.clear_damaged(exc)
                    return True
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _open(self, reuse: bool) -> None:
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=reuse)
        self.index.register_tokenizer("pw_text", self.text.analyzer)
        self.index.register_tokenizer("pw_name", self.names.analyzer)

    def _reset(self, damaged: bool) -> None:
        """Replace the folder with an empty index (its meta says why)."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self._open(reuse=False)
        self._commit(lambda writer: None)
        meta = {
            "schema_version": SCHEMA_VERSION,
            "replaced_version": self.replaced_version,
            "damaged": damaged,
        }
        self._meta_path().write_text(json.dumps(meta))

    def clear_damaged(self, exc: BaseException) -> None:
        """Empty an index whose files cannot be read (nothing is lost: the store holds
        every paper); searches say to rebuild it until it is."""
        LOG.warning("search index %s is damaged (%s); cleared it: %s", self.path, exc, REBUILD_HINT)
        self.replaced_version = None
        self._reset(damaged=True)

    @property
    def damaged(self) -> bool:
        """True while this is the empty index that replaced a damaged one (until the first
        sync or rebuild)."""
        try:
            meta = json.loads(self._meta_path().read_text())
        except (OSError, ValueError):
            return False
        return bool(meta.get("damaged")) and not meta.get("synced_until")

    @property
    def synced_until(self) -> datetime | None:
        """Every paper the store modified before this time is in the index (None: unknown,
        the index needs a rebuild)."""
        try:
            value = json.loads(self._meta_path().read_text()).get("synced_until")
        except (OSError, ValueError):
            return None
        return datetime.fromisoformat(value) if value else None

    @synced_until.setter
    def synced_until(self, when: datetime | None) -> None:
        meta = {"schema_version": SCHEMA_VERSION, "synced_until": when and when.isoformat()}
        temporary = self._meta_path().with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(meta))
            temporary.replace(self._meta_path())
        except OSError:
            temporary.unlink(missing_ok=True)  # the old meta stays whole
            raise

    @property
    def outdated(self) -> bool:
        """True while this is an empty index that replaced one of an older schema version
        (it stays so until the first sync or rebuild)."""
        try:
            meta = json.loads(self._meta_path().read_text())
        except (OSError, ValueError):
            return False
        return meta.get("replaced_version") is not None and not meta.get("synced_until")

    def searcher(self, fresh: bool = False) -> tantivy.Searcher:
        """A searcher over the latest commit (other processes' commits are picked up
        within a second; at once when `fresh`)."""
        now = time.monotonic()
        if fresh or now - self._last_reload > 1.0:
            self.index.reload()
            self._last_reload = now
        return self.index.searcher()

    @property
    def num_docs(self) -> int:
        return int(self.searcher().num_docs)

    def segment_counts(self) -> tuple[int, int]:
        """(documents stored, of which deleted) over the committed segments, as tantivy's
        meta.json records them (deleted documents linger until their segment is merged)."""
        meta = json.loads((self.path / "meta.json").read_text())
        stored = deleted = 0
        for segment in meta["segments"]:
            stored += int(segment["max_doc"])
            deleted += int((segment.get("deletes") or {}).get("num_deleted_docs", 0))
        return stored, deleted

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    # -- writing ---------------------------------------------------------------

    def _writer(
        self, heap: int, threads: int, wait: float = LOCK_WAIT_SECONDS
    ) -> tantivy.IndexWriter:
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.index.writer(heap_size=heap, num_threads=threads)
            except ValueError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise IndexBusy(f"search index {self.path} is locked: {exc}") from exc
                time.sleep(0.2)

    def _commit(
        self,
        work: Callable[[tantivy.IndexWriter], None],
        heap: int = WRITER_HEAP,
        threads: int = 1,
        wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        writer = self._writer(heap, threads, wait)
        self.commit_writer(writer, work)

    def commit_writer(
        self,
        writer: tantivy.IndexWriter,
        work: Callable[[tantivy.IndexWriter], None] | None = None,
    ) -> None:
        """Run `work` on `writer`, commit (roll back on any error), let its merges finish,
        then show the committed documents to this process's searchers."""
        try:
            if work is not None:
                work(writer)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        self.index.reload()
        self._last_reload = time.monotonic()

    def stale(self, states: Sequence[tuple[str, str, bool]]) -> list[str]:
        """Ids, of (arxiv_id, store content hash, deleted) `states`, whose documents are not
        current: live papers missing from the index or indexed from other content, and
        deleted papers still in it."""
        if not states:
            return []
        searcher = self.searcher(fresh=True)  # compare with the latest commit of any process
        ids = [arxiv_id for arxiv_id, _hash, _deleted in states]
        members = tantivy.Query.term_set_query(self.schema, "arxiv_id", ids)
        hits = searcher.search(members, 2 * len(ids), count=False).hits
        addresses = [address for _score, address in hits]
        digests = searcher.fast_field_values("digest", addresses)
        indexed: dict[str, list[object]] = {}
        for arxiv_id, digest in zip(self._ids(searcher, addresses), digests, strict=True):
            indexed.setdefault(arxiv_id, []).append(digest)
        return [
            arxiv_id
            for arxiv_id, stored_hash, deleted in states
            if indexed.get(arxiv_id, []) != ([] if deleted else [hash_key(stored_hash)])
        ]

    def upsert(self, papers: Sequence[Paper], wait: float = LOCK_WAIT_SECONDS) -> None:
        """Replace the documents of `papers` (deleted papers are only removed); IndexBusy
        when another writer holds the index for longer than `wait` seconds."""

        def work(writer: tantivy.IndexWriter) -> None:
            put_rows(writer, [encode_paper(p) for p in papers])

        self._commit(work, wait=wait)

    def delete(self, ids: Sequence[str], wait: float = LOCK_WAIT_SECONDS) -> None:
        def work(writer: tantivy.IndexWriter) -> None:
            for arxiv_id in ids:
                writer.delete_documents_by_term("arxiv_id", arxiv_id)

        self._commit(work, wait=wait)

    def rebuild(self, batches: Iterable[Sequence[Paper]], progress: Progress | None = None) -> int:
        """Replace the whole index with `batches`, in one commit (searches see the old
        index until it lands). Returns the number of papers read."""
        rows = ([encode_paper(p) for p in batch] for batch in batches)
        return self.rebuild_rows(rows, progress)

    def rebuild_rows(
        self,
        batches: Iterable[Sequence[EncodedRow]],
        progress: Progress | None = None,
        wait: float = LOCK_WAIT_SECONDS,
    ) -> int:
        """rebuild from stored rows (codec.encode_paper's tuples, as the store reads them
        back without decoding); IndexBusy when another writer holds the index for longer
        than `wait` seconds."""
        total = 0

        def work(writer: tantivy.IndexWriter) -> None:
            nonlocal total
            writer.delete_all_documents()
            for batch in batches:
                total += put_rows(writer, batch)
                if progress:
                    progress(len(batch))

        self._commit(work, heap=REBUILD_HEAP, threads=1, wait=wait)
        return total

    # -- query building ----------------------------------------------------------

    def _terms(self, text: str) -> list[str]:
        return self.text.analyze(text)

    def _field_match(self, field: str, tokens: list[str | tuple[int, str]]) -> tantivy.Query:
        if len(tokens) == 1 and isinstance(tokens[0], str):
            return tantivy.Query.term_query(self.schema, field, tokens[0])
        return tantivy.Query.phrase_query(self.schema, field, tokens)

    def clause_query(self, clause: Clause) -> tantivy.Query:
        """A title/abstract/authors item as a query; QueryError when it has no words."""
        analyzer = self.names if clause.field == "authors" else self.text
        tokens: list[str | tuple[int, str]] = list(analyzer.analyze(clause.text))
        tokens = tokens[:MAX_QUERY_TERMS]
        if not tokens:
            raise QueryError(f"{clause.text!r} has no searchable words (letters or digits)")
        if clause.field == "authors":
            if len(tokens) == 1 and isinstance(tokens[0], str):
                if clause.phrase:  # au:"x": one word is a term (tantivy refuses 1-term phrases)
                    return tantivy.Query.term_query(self.schema, "authors", tokens[0])
                return self._author_prefix(tokens[0])
            return tantivy.Query.phrase_query(self.schema, "authors", tokens)
        if clause.field in ("title", "abstract"):
            return self._field_match(clause.field, tokens)
        return _any_of([self._field_match(f, tokens) for f in ("title", "abstract")])

    def _author_prefix(self, prefix: str) -> tantivy.Query:
        """Authors with a name word starting with `prefix` (every expansion, no cap)."""
        expansions = [term for term, _count in self.searcher().terms_with_prefix("authors", prefix)]
        if not expansions:
            return tantivy.Query.empty_query()
        members = tantivy.Query.term_set_query(self.schema, "authors", expansions)
        return tantivy.Query.const_score_query(members, 1.0)

    def content_terms(self, words: Sequence[str]) -> list[str]:
        """The distinct analysed terms free-text search ranks by: stopwords dropped unless
        nothing else is left, at most MAX_QUERY_TERMS (hybrid fusion counts them)."""
        terms = list(dict.fromkeys(t for w in words for t in self._terms(w)))
        return ([t for t in terms if t not in STOPWORD_TERMS] or terms)[:MAX_QUERY_TERMS]

    def free_text_query(self, words: Sequence[str]) -> tantivy.Query | None:
        """BM25 over title (boosted), abstract and authors; any word may match."""
        content = self.content_terms(words)
        if not content:
            return None
        names = list(dict.fromkeys(t for w in words for t in self.names.analyze(w)))
        names = names[:MAX_QUERY_TERMS]
        title = [self._term("title", t, self.title_boost) for t in content]
        abstract = [self._term("abstract", t, 1.0) for t in content]
        authors = [self._term("authors", t, AUTHORS_BOOST) for t in names if t not in STOPWORDS]
        return _any_of(title + abstract + authors)

    def _term(self, field: str, term: str, boost: float) -> tantivy.Query:
        query = tantivy.Query.term_query(self.schema, field, term)
        return query if boost == 1.0 else tantivy.Query.boost_query(query, boost)

    def filter_clauses(self, parsed: ParsedQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """Category, date and exclusion clauses (they do not change scores)."""
        out: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if parsed.categories:
            cats = tantivy.Query.term_set_query(self.schema, "category", list(parsed.categories))
            out.append((tantivy.Occur.Must, tantivy.Query.const_score_query(cats, 0.0)))
        if parsed.category_filter:  # a structured filter: ANDed with the query's cat:
            wanted = list(parsed.category_filter)
            cats = tantivy.Query.term_set_query(self.schema, "category", wanted)
            out.append((tantivy.Occur.Must, tantivy.Query.const_score_query(cats, 0.0)))
        for cat in parsed.excluded_categories:
            out.append(
                (tantivy.Occur.MustNot, tantivy.Query.term_query(self.schema, "category", cat))
            )
        if parsed.since or parsed.until:
            low = day_number(parsed.since) if parsed.since else 0
            high = day_number(parsed.until) if parsed.until else None
            days = tantivy.Query.range_query(
                self.schema, "day", tantivy.FieldType.Integer, low, high
            )
            out.append((tantivy.Occur.Must, tantivy.Query.const_score_query(days, 0.0)))
        for clause in parsed.excluded:
            out.append((tantivy.Occur.MustNot, self.clause_query(clause)))
        return out

    def build_query(self, parsed: ParsedQuery) -> tantivy.Query:
        """The whole query: free words (ranked), required items, then filters."""
        clauses = [(tantivy.Occur.Must, self.clause_query(c)) for c in parsed.required]
        free = self.free_text_query(parsed.free_words)
        filters = self.filter_clauses(parsed)
        if free is not None and not clauses and not filters:
            # Same scores as wrapped in a one-clause boolean query, ~25% faster (measured).
            return free
        if free is not None:
            clauses.append((tantivy.Occur.Must, free))
        clauses += filters
        if not any(occur == tantivy.Occur.Must for occur, _ in clauses):
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    # -- searching ---------------------------------------------------------------

    def search(
        self,
        query: tantivy.Query,
        *,
        limit: int,
        offset: int = 0,
        sort: str = "relevance",
        count: bool = True,
    ) -> LexicalResult:
        """Run `query`; sort "relevance" (BM25) or "date" (newest listing day first, then
        newest id: lexical_sort.newest_first). Trending ranks candidates this index gives
        (trending_pool). Without `count` the total is not computed (reported as 0), which
        lets tantivy skip documents that cannot reach the top."""
        searcher = self.searcher()
        limit = max(limit, 1)
        try:
            if sort == "relevance":
                result = searcher.search(query, limit, count=count, offset=offset)
                hits = [(float(key), address) for key, address in result.hits]
                total: int | None = getattr(result, "count", None)  # missing from the stubs
            elif sort == "date":
                dated, total = newest_first(searcher, self.schema, query, limit, offset, count)
                hits = [(float(day), address) for day, address in dated]
            else:
                raise ValueError(f"the lexical index has no sort {sort!r}")
            ids = self._ids(searcher, [address for _key, address in hits])
        except ValueError as exc:
            if is_damage(exc):
                raise IndexDamaged(f"the search index is damaged ({exc}); {REBUILD_HINT}") from exc
            raise
        keys = [key for key, _address in hits]
        return LexicalResult(ids=list(zip(ids, keys, strict=True)), total=int(total or 0))

    def trending_pool(
        self, query: tantivy.Query, depth: int, voted: Sequence[str]
    ) -> tuple[list[tuple[str, date | None, int]], int, int]:
        """What trending ranks of `query`'s matches (lexical_sort.trending_candidates):
        (arxiv_id, listing day, HF upvotes) of each, how many of them lead the matches in
        newest-first order, and the number of matches."""
        searcher = self.searcher()
        try:
            newest, others, total = trending_candidates(searcher, self.schema, query, depth, voted)
            addresses = newest + others
            ids = self._ids(searcher, addresses)
            days = searcher.fast_field_values("day", addresses) if addresses else []
            votes = searcher.fast_field_values("upvotes", addresses) if addresses else []
        except ValueError as exc:
            if is_damage(exc):
                raise IndexDamaged(f"the search index is damaged ({exc}); {REBUILD_HINT}") from exc
            raise
        pool = [
            (arxiv_id, day_of(int(day) if day is not None else -1), int(up or 0))
            for arxiv_id, day, up in zip(ids, days, votes, strict=True)
        ]
        return pool, len(newest), total

    @staticmethod
    def _ids(searcher: tantivy.Searcher, addresses: list[tantivy.DocAddress]) -> list[str]:
        """The arXiv ids of the documents at `addresses`: from the `key` fast field, or
        from the stored document for ids that have no key."""
        if not addresses:
            return []
        keys = searcher.fast_field_values("key", addresses)
        return [
            key_id(int(key)) if key else str(searcher.doc(address).get_first("arxiv_id"))
            for key, address in zip(keys, addresses, strict=True)
        ]

    def _passing_clauses(self, parsed: ParsedQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """The query's filters (categories, dates, exclusions) and required items."""
        clauses = [(tantivy.Occur.Must, self.clause_query(c)) for c in parsed.required]
        return clauses + self.filter_clauses(parsed)

    def restrict(self, ids: Sequence[str], parsed: ParsedQuery) -> set[str]:
        """Those of `ids` that pass the query's filters (categories, dates, exclusions and
        required items); used to filter semantic results."""
        if not ids:
            return set()
        clauses = self._passing_clauses(parsed)
        members = tantivy.Query.term_set_query(self.schema, "arxiv_id", list(ids))
        clauses.append((tantivy.Occur.Must, members))
        found = self.search(tantivy.Query.boolean_query(clauses), limit=len(ids), count=False)
        return {arxiv_id for arxiv_id, _ in found.ids}

    def empty_categories(self, categories: Iterable[str]) -> list[str]:
        """Those of `categories` (lowercased, as the query parser gives them) that no
        indexed paper is listed under (a typo like cs.BOGUS, a class this store lacks)."""
        empty = []
        for cat in dict.fromkeys(categories):
            query = tantivy.Query.term_query(self.schema, "category", cat)
            if not self.search(query, limit=1).total:
                empty.append(cat)
        return empty

    def count_passing(self, parsed: ParsedQuery) -> int:
        """How many papers pass the query's filters and hold its required items, whatever
        its free words."""
        clauses = self._passing_clauses(parsed)
        if not any(occur == tantivy.Occur.Must for occur, _ in clauses):
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        query = tantivy.Query.const_score_query(tantivy.Query.boolean_query(clauses), 1.0)
        return self.search(query, limit=1).total

    def more_like_this(self, paper: Paper, k: int) -> list[tuple[str, float]]:
        """Papers sharing the most distinctive terms of `paper`'s title and abstract."""
        searcher = self.searcher()
        total = max(int(searcher.num_docs), 1)
        text = latex_to_text(f"{paper.title} {paper.title} {paper.abstract}")
        counts = Counter(self._terms(text))
        weighted = []
        for term, tf in counts.items():
            if term in STOPWORD_TERMS or len(term) < 2:
                continue
            df = int(searcher.doc_freq("abstract", term)) + 1
            weighted.append((tf * math.log(1 + total / df), term))
        weighted.sort(reverse=True)
        should = [
            self._term(field, term, weight * boost)
            for weight, term in weighted[:MLT_TERMS]
            for field, boost in (("title", self.title_boost), ("abstract", 1.0))
        ]
        if not should:
            return []
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, _any_of(should)),
                (
                    tantivy.Occur.MustNot,
                    tantivy.Query.term_query(self.schema, "arxiv_id", paper.arxiv_id),
                ),
            ]
        )
        return self.search(query, limit=k, count=False).ids


def _any_of(queries: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])
