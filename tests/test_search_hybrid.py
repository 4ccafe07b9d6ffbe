"""Hybrid and semantic modes: fusion wiring, filters, totals, pages, coverage notes.

The semantic side here is a small real vector index (TF-IDF cosine over a part of the
corpus, numpy) that implements the interface search.semantic.SemanticIndex provides.
"""

from __future__ import annotations

import itertools
import json
import lzma
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest

from conftest import DAILY_FILE
from paperwire.config import Settings
from paperwire.search.fusion import adaptive_fuse, fuse, phrase_overlap, rrf
from paperwire.search.lexical import text_analyzer
from paperwire.search.query import parse_query
from paperwire.service import Service

N_RECORDS = 1000
EMBEDDED = 500  # the first half of the papers have vectors
ANALYZE = text_analyzer().analyze


class TfidfVectors:
    """Cosine similarity of TF-IDF vectors for the papers given."""

    def __init__(self, papers: dict[str, str], total: int) -> None:
        self.ids = list(papers)
        self.total = total
        docs = [Counter(ANALYZE(text)) for text in papers.values()]
        df = Counter(t for d in docs for t in d)
        self.vocab = {t: i for i, t in enumerate(df)}
        self.idf = np.array([math.log(1 + len(docs) / df[t]) for t in df])
        self.matrix = np.stack([self._vector(d) for d in docs])

    def _vector(self, counts: Counter[str]) -> np.ndarray:
        vec = np.zeros(len(self.vocab))
        for term, tf in counts.items():
            if term in self.vocab:
                vec[self.vocab[term]] = tf * self.idf[self.vocab[term]]
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def coverage(self) -> tuple[int, int]:
        return len(self.ids), self.total

    def _top(self, vec: np.ndarray, k: int, skip: str | None = None) -> list[tuple[str, float]]:
        sims = self.matrix @ vec
        order = sorted(range(len(self.ids)), key=lambda i: (-sims[i], i))
        out = [(self.ids[i], float(sims[i])) for i in order if self.ids[i] != skip]
        return out[:k]

    def search(self, text: str, k: int) -> list[tuple[str, float]]:
        return self._top(self._vector(Counter(ANALYZE(text))), k)

    def neighbours(self, arxiv_id: str, k: int) -> list[tuple[str, float]]:
        if arxiv_id not in self.ids:
            return []
        return self._top(self.matrix[self.ids.index(arxiv_id)], k, skip=arxiv_id)

    def vectors(self, arxiv_ids: Sequence[str]) -> dict[str, np.ndarray]:
        rows = {arxiv_id: n for n, arxiv_id in enumerate(self.ids)}
        return {i: self.matrix[rows[i]] for i in arxiv_ids if i in rows}


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in itertools.islice(handle, N_RECORDS)]


@pytest.fixture(scope="module")
def vectors(records: list[dict[str, Any]]) -> TfidfVectors:
    texts = {r["id"]: f"{r['title']} {r['summary']}" for r in records[:EMBEDDED]}
    return TfidfVectors(texts, total=N_RECORDS)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], vectors: TfidfVectors
) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("hybrid")
    subset = root / "subset.jsonl"
    subset.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Service(Settings(data_dir=root / "data")) as svc:
        svc.import_snapshot(subset)
        svc.search_engine.use_semantic(vectors)
        yield svc


def every_page(service: Service, query: str, **kw: Any) -> tuple[list[str], int]:
    ids: list[str] = []
    for page in itertools.count(1):
        result = service.search(query, page=page, per_page=50, **kw)
        ids += [h.paper.arxiv_id for h in result.hits]
        if not result.hits:
            return ids, result.total


def test_hybrid_page_one_fuses_both_lists(service: Service, vectors: TfidfVectors) -> None:
    engine = service.search_engine
    depth = engine.fusion.depth
    query = engine.lexical.build_query(parse_query("point cloud segmentation", today=date.today()))
    lexical = engine.lexical.search(query, limit=depth).ids
    semantic = vectors.search("point cloud segmentation", depth)
    expected = adaptive_fuse(lexical, semantic, 3, engine.adaptive)[:20]
    result = service.search("point cloud segmentation", mode="hybrid")
    assert result.mode == "hybrid"
    assert [(h.paper.arxiv_id, h.score) for h in result.hits] == [
        (i, pytest.approx(s)) for i, s in expected
    ]


def test_a_long_query_smooths_fused_scores_over_the_hits_vectors(
    service: Service, vectors: TfidfVectors
) -> None:
    """Six content words, smoothing on (the default, and a heavier one over every hit):
    page one is adaptive fusion smoothed over the vectors of both lists' papers (and so
    not the unsmoothed order)."""
    engine = service.search_engine
    default = engine.adaptive
    assert default.smooth_weight > 0 and default.smooth_neighbours > 0
    check_smoothed_page(service, vectors)
    engine.adaptive = replace(default, smooth_weight=0.5, smooth_head=1000)
    try:
        check_smoothed_page(service, vectors)
    finally:
        engine.adaptive = default


def check_smoothed_page(service: Service, vectors: TfidfVectors) -> None:
    engine = service.search_engine
    text = "learning robust visual representations from noisy labels"
    parsed = parse_query(text, today=date.today())
    depth = engine.fusion.depth
    lexical = engine.lexical.search(engine.lexical.build_query(parsed), limit=depth).ids
    semantic = vectors.search(text, depth)
    terms = len(engine.lexical.content_terms(parsed.free_words))
    top = service.store.get_papers([lexical[0][0]])[lexical[0][0]]
    overlap = phrase_overlap(text, (top.title, top.abstract))
    hit_vectors = vectors.vectors([i for i, _ in lexical + semantic])
    expected = adaptive_fuse(lexical, semantic, terms, engine.adaptive, overlap, hit_vectors)
    result = service.search(text, mode="hybrid")
    assert terms == 6 and overlap < engine.adaptive.match_overlap
    assert [(h.paper.arxiv_id, h.score) for h in result.hits] == [
        (i, pytest.approx(s)) for i, s in expected[:20]
    ]
    unsmoothed = adaptive_fuse(lexical, semantic, terms, engine.adaptive, overlap)
    assert [i for i, _ in expected[:20]] != [i for i, _ in unsmoothed[:20]]


def test_a_pasted_title_stays_first_in_hybrid(
    service: Service, records: list[dict[str, Any]], vectors: TfidfVectors
) -> None:
    """Pasted titles of 40 papers, half of them without vectors (semantic search cannot find
    those): whenever the title's paper leads the word matches, it heads the hybrid page,
    though static fusion (the old default) loses some of them."""
    engine = service.search_engine
    lost_by_static = kept = 0
    for record in records[EMBEDDED - 20 : EMBEDDED + 20]:
        title = " ".join(re.findall(r"\w+", record["title"]))
        query = engine.lexical.build_query(parse_query(title, today=date.today()))
        lexical = engine.lexical.search(query, limit=engine.fusion.depth).ids
        if lexical[0][0] != record["id"]:
            continue
        static = fuse(lexical, vectors.search(title, engine.fusion.depth), engine.fusion)
        lost_by_static += static[0][0] != record["id"]
        assert service.search(title, mode="hybrid").hits[0].paper.arxiv_id == record["id"]
        kept += 1
    assert kept >= 30 and lost_by_static >= 1, (kept, lost_by_static)


def test_a_pasted_abstract_sentence_stays_first_in_hybrid(
    service: Service, records: list[dict[str, Any]], vectors: TfidfVectors
) -> None:
    """The shortest sentence (over 40 characters) of 100 papers' abstracts, half of them
    without vectors, pasted: whenever its paper leads the word matches, it heads the
    hybrid page, though fusion that keeps only a clear BM25 lead of a query of 8 words or
    more first (adaptive fusion without the near-exact rule) loses some."""
    engine = service.search_engine
    margin_only = replace(engine.adaptive, match_overlap=math.inf)
    lost_by_margin = kept = 0
    for record in records[EMBEDDED - 50 : EMBEDDED + 50]:
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(record["summary"].split()))
        sentence = min((s for s in sentences if len(s) > 40), key=len, default="")
        sentence = " ".join(re.findall(r"\w+", sentence))
        parsed = parse_query(sentence, today=date.today())
        lexical = engine.lexical.search(engine.lexical.build_query(parsed), limit=100).ids
        if not lexical or lexical[0][0] != record["id"]:
            continue
        terms = len(engine.lexical.content_terms(parsed.free_words))
        semantic = vectors.search(sentence, engine.fusion.depth)
        lost_by_margin += adaptive_fuse(lexical, semantic, terms, margin_only)[0][0] != record["id"]
        assert service.search(sentence, mode="hybrid").hits[0].paper.arxiv_id == record["id"]
        kept += 1
    assert kept >= 80 and lost_by_margin >= 2, (kept, lost_by_margin)


def test_hybrid_loads_the_word_matches_head_while_the_query_is_embedded(
    service: Service,
) -> None:
    engine = service.search_engine
    parsed = parse_query("point cloud segmentation", today=date.today())
    head = engine.lexical.search(engine.lexical.build_query(parsed), limit=30).ids
    calls: list[tuple[list[str], set[str]]] = []
    result = engine.search(
        parsed,
        sort="relevance",
        page=2,
        per_page=10,
        mode="hybrid",
        while_waiting=lambda ids, terms: calls.append((ids, terms)),
    )
    assert calls == [([i for i, _ in head[10:20]], result.terms)]
    assert {"point", "cloud", "segment"} <= result.terms
    # Through the service, papers loaded early and late look alike: highlighted, scored.
    page = service.search("point cloud segmentation", mode="hybrid", per_page=10, page=2)
    assert [h.paper.arxiv_id for h in page.hits] == [i for i, _ in result.ids]
    assert [h.score for h in page.hits] == [pytest.approx(s) for _, s in result.ids]
    assert all("<mark>" in h.highlights["title"] + h.highlights["abstract"] for h in page.hits)
    # Sorted by date, or past the fused head, nothing is loaded early.
    for sort, page_no in (("date", 1), ("relevance", 11)):
        calls.clear()
        engine.search(
            parsed,
            sort=sort,
            page=page_no,
            per_page=10,
            mode="hybrid",
            while_waiting=lambda i, t: calls.append((i, t)),
        )
        assert calls == []


def test_hybrid_pages_cover_the_union_once(service: Service, vectors: TfidfVectors) -> None:
    depth = service.search_engine.fusion.depth
    lexical = set(every_page(service, "segmentation", mode="lexical")[0])
    semantic = {i for i, _ in vectors.search("segmentation", depth)}
    ids, total = every_page(service, "segmentation", mode="hybrid")
    assert len(lexical) > depth  # so pages run past the fused head into the BM25 tail
    # The total counts semantic papers outside the BM25 head that match the words anyway
    # once, and those that do not match as extra: both kinds occur here.
    query = service.search_engine.lexical.build_query(
        parse_query("segmentation", today=date.today())
    )
    head = {i for i, _ in service.search_engine.lexical.search(query, limit=depth).ids}
    assert semantic & (lexical - head) and semantic - lexical
    assert len(ids) == len(set(ids)) == total == len(lexical | semantic)
    assert set(ids) == lexical | semantic


def test_filters_apply_to_semantic_results(service: Service, records: list[dict[str, Any]]) -> None:
    cats = {r["id"]: r["categories"] for r in records}
    for mode in ("hybrid", "semantic"):
        ids, total = every_page(service, "robot grasping cat:cs.RO -video", mode=mode)
        assert ids and len(ids) == total
        assert all("cs.RO" in cats[i] for i in ids)
        result = service.search("robot grasping cat:cs.RO -video", mode=mode, per_page=200)
        assert all("video" not in (h.paper.title + h.paper.abstract).lower() for h in result.hits)


def test_semantic_mode_ranks_by_vectors_over_embedded_papers(
    service: Service, vectors: TfidfVectors
) -> None:
    result = service.search("speech emotion recognition", mode="semantic", per_page=10)
    assert [h.paper.arxiv_id for h in result.hits] == [
        i for i, _ in vectors.search("speech emotion recognition", 10)
    ]
    assert set(vectors.ids) >= {h.paper.arxiv_id for h in result.hits}


def test_coverage_is_reported(service: Service) -> None:
    result = service.search("graph", mode="hybrid")
    assert result.semantic_coverage == pytest.approx(EMBEDDED / N_RECORDS)
    assert any("cover 500 of 1,000 papers" in n for n in result.notes)


def test_hybrid_by_date_sorts_the_union(service: Service, vectors: TfidfVectors) -> None:
    ids, total = every_page(service, "segmentation", mode="hybrid", sort="date")
    union, _ = every_page(service, "segmentation", mode="hybrid")
    assert set(ids) == set(union) and total == len(union)
    days = [service.paper(i).listing_date for i in ids]  # type: ignore[union-attr]
    assert days == sorted(days, reverse=True)  # type: ignore[type-var]


def test_similar_blends_neighbours_with_shared_words(
    service: Service, vectors: TfidfVectors, records: list[dict[str, Any]]
) -> None:
    paper = service.paper(records[0]["id"])
    assert paper is not None
    engine = service.search_engine
    lexical = engine.lexical.more_like_this(paper, 50)
    neighbours = vectors.neighbours(paper.arxiv_id, 50)
    expected = rrf([lexical, neighbours])[:10]
    hits = service.similar(paper.arxiv_id, k=10)
    assert [h.paper.arxiv_id for h in hits] == [i for i, _ in expected]
    unembedded = service.similar(records[-1]["id"], k=5)  # no vector: words only
    assert [h.paper.arxiv_id for h in unembedded] == [
        i
        for i, _ in engine.lexical.more_like_this(service.paper(records[-1]["id"]), 5)  # type: ignore[arg-type]
    ]


def test_without_vectors_hybrid_says_it_fell_back(service: Service, vectors: TfidfVectors) -> None:
    engine = service.search_engine
    engine.use_semantic(None, "semantic search needs the model")
    try:
        result = service.search("graph", mode="hybrid")
        assert result.mode == "lexical"
        assert any("needs the model" in n for n in result.notes)
    finally:
        engine.use_semantic(vectors)


def test_semantic_mode_pages_have_one_total(service: Service) -> None:
    totals = set()
    ids: list[str] = []
    for page in range(1, 7):
        result = service.search("segmentation", mode="semantic", page=page, per_page=40)
        totals.add(result.total)
        ids += [h.paper.arxiv_id for h in result.hits]
    assert totals == {200} and len(ids) == len(set(ids)) == 200


@pytest.mark.parametrize(
    "spelling",
    [
        "{id}",
        "{id}v2",
        "arXiv:{id}",
        "https://arxiv.org/abs/{id}",
        "https://arxiv.org/pdf/{id}v1",
        "10.48550/arXiv.{id}",
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
def test_a_pasted_arxiv_id_finds_that_paper_in_every_mode(
    service: Service, records: list[dict[str, Any]], spelling: str, mode: str
) -> None:
    wanted = records[700]["id"]  # not embedded: found by id all the same
    result = service.search(spelling.format(id=wanted), mode=mode)
    assert [h.paper.arxiv_id for h in result.hits] == [wanted]
    assert result.total == 1 and any(f"arXiv id {wanted}" in n for n in result.notes)
    assert not service.search(spelling.format(id=wanted), mode=mode, page=2).hits


def test_an_arxiv_id_not_stored_or_filtered_out_says_so(
    service: Service, records: list[dict[str, Any]]
) -> None:
    for query in ("hep-th/9504118", "2412.99999"):
        result = service.search(query)
        assert not result.hits and result.total == 0
        assert any("no stored paper has arXiv id" in n for n in result.notes)
    wanted = records[3]["id"]
    other = "cs.RO" if "cs.RO" not in records[3]["categories"] else "math.GT"
    result = service.search(wanted, category=other)
    assert not result.hits and any("does not pass the filters" in n for n in result.notes)


def test_when_no_paper_holds_the_words_hybrid_and_semantic_say_so(service: Service) -> None:
    hybrid = service.search("zzzqqq", mode="hybrid")
    assert hybrid.mode == "hybrid" and hybrid.hits
    assert any("no paper contains these words" in n for n in hybrid.notes)
    semantic = service.search("zzzqqq", mode="semantic")
    assert semantic.total == 200
    assert any("200 papers nearest in meaning" in n for n in semantic.notes)
    assert not any("no paper contains" in n for n in service.search("segmentation").notes)


def test_an_unbuilt_index_does_not_claim_no_paper_holds_the_words(
    service: Service, vectors: TfidfVectors, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A new host on the same database, its lexical index not built yet: hybrid said both
    "the search index is empty" and "no paper contains these words" (dozens do)."""
    assert service.search("segmentation", mode="lexical").total > 0
    fresh = Settings(
        data_dir=tmp_path_factory.mktemp("new-host"),
        database_url=service.settings.resolved_database_url,
    )
    with Service(fresh) as new_host:
        new_host.search_engine.use_semantic(vectors)
        result = new_host.search("segmentation", mode="hybrid")
    assert result.hits and any("index is empty" in n for n in result.notes), result.notes
    assert not any("no paper" in n for n in result.notes), result.notes
    assert any("closest by meaning" in n for n in result.notes), result.notes


def test_when_filters_leave_out_every_word_match_hybrid_says_the_filters_did(
    service: Service,
) -> None:
    """'no paper contains these words' was said when the words matched hundreds of papers
    and a category or date filter left them all out."""
    everywhere = service.search("segmentation", mode="lexical").total
    assert everywhere > 0
    for filters in ({"category": "hep-th"}, {"until": date(2000, 1, 1)}):
        result = service.search("segmentation", mode="hybrid", **filters)  # type: ignore[arg-type]
        assert not any("no paper contains" in n for n in result.notes), (filters, result.notes)
        note = f"no paper within the filters contains these words ({everywhere:,} outside them do)"
        assert note in result.notes, (filters, result.notes)


def test_a_phrase_no_paper_holds_lists_nothing_and_says_so_in_every_mode(
    service: Service,
) -> None:
    """A quoted phrase in no paper gave, in hybrid, 'showing the closest by meaning' over
    an empty page and a note about narrow filters, for a query without any."""
    for mode in ("hybrid", "semantic"):
        result = service.search('"segmentation zzzqqq"', mode=mode)
        assert result.total == 0 and not result.hits
        assert not any("closest by meaning" in n or "nearest" in n for n in result.notes)
        assert any('no paper contains "segmentation zzzqqq"' in n for n in result.notes), mode
    held = service.search('"semantic segmentation"', mode="semantic", per_page=200)
    words = service.search('"semantic segmentation"', mode="lexical", per_page=200)
    assert held.hits and {h.paper.arxiv_id for h in held.hits} <= {
        h.paper.arxiv_id for h in words.hits
    }


def test_when_no_paper_is_shown_by_meaning_no_note_says_one_is(service: Service) -> None:
    """Filters no paper passes, or that only papers beyond the nearest pass: the note says
    that, never that the closest by meaning are shown."""
    gone = service.search("zzzqqq until:2000", mode="hybrid")
    assert gone.total == 0 and "no paper contains these words" in gone.notes
    assert any("no paper passes the filters" in n for n in gone.notes)
    # cs.IR: 9 papers, none of them embedded, so none among the 400 nearest
    rare = service.search("zzzqqq cat:cs.IR", mode="hybrid")
    assert rare.total == 0 and "no paper contains these words" in rare.notes
    beyond = "meaning-based matches come from the 400 papers nearest in meaning: 9 other papers"
    assert any(n.startswith(beyond) for n in rare.notes), rare.notes
    for result in (gone, rare):
        assert not any("closest by meaning" in n for n in result.notes), result.notes


def test_the_beyond_reach_note_names_what_a_paper_must_pass() -> None:
    """QA: a quoted phrase alone got a note about "the filters" the reader never gave."""
    from paperwire.search.query import ParsedQuery, parse_query
    from paperwire.search.result_pages import _what_passes

    def parse(text: str) -> ParsedQuery:
        return parse_query(text, today=date(2026, 1, 1))

    assert _what_passes(parse('"visual tokenizer"')) == (
        'contains "visual tokenizer"',
        'contain "visual tokenizer"',
    )
    assert _what_passes(parse("tokenizer cat:cs.CV")) == (
        "passes the filters",
        "pass the filters",
    )
    assert _what_passes(parse('"visual tokenizer" since:2025')) == (
        "passes the filters",
        "pass the filters",
    )


def test_an_exclusion_that_empties_the_word_matches_is_named(service: Service) -> None:
    everywhere = service.search("segmentation", mode="lexical").total
    result = service.search("segmentation -segmentation", mode="hybrid")
    assert not any(n.startswith("no paper contains") for n in result.notes), result.notes
    assert any(
        f"no paper within the filters contains these words ({everywhere:,} outside them do)" in n
        for n in result.notes
    ), result.notes


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
def test_an_arxiv_id_with_filter_items_is_a_lookup_within_them(
    service: Service, records: list[dict[str, Any]], mode: str
) -> None:
    wanted = records[3]["id"]
    own = records[3]["categories"][0]
    other = "cs.RO" if "cs.RO" not in records[3]["categories"] else "math.GT"
    for query in (f"{wanted} cat:{own}", f"arXiv:{wanted}v1 -cat:{other} since:2020"):
        result = service.search(query, mode=mode)
        assert [h.paper.arxiv_id for h in result.hits] == [wanted], query
        assert any(f"arXiv id {wanted}" in n for n in result.notes)
    for query in (f"{wanted} cat:{other}", f"{wanted} -cat:{own}", f"{wanted} until:2000"):
        result = service.search(query, mode=mode)
        assert not result.hits and result.total == 0, query
        assert any("does not pass the filters" in n for n in result.notes), query


def test_semantic_coverage_is_the_embedded_share_in_every_mode(
    service: Service, records: list[dict[str, Any]]
) -> None:
    """It read 0.0 in lexical mode, for an id lookup and for a word too long to index."""
    for query, mode in (
        ("segmentation", "lexical"),
        (records[3]["id"], "hybrid"),
        ("x" * 41, "hybrid"),
        ("segmentation", "semantic"),
    ):
        result = service.search(query, mode=mode)
        assert result.semantic_coverage == pytest.approx(EMBEDDED / N_RECORDS), (query, mode)
