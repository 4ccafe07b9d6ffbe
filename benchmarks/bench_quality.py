"""Search quality: BEIR SciFact and a known-item check on the arXiv corpus; prints tables.

    PYTHONPATH=src python benchmarks/bench_quality.py [--skip-arxiv] [--arxiv-limit N]
        [--skip-speed] [--skip-tuning]

--skip-speed leaves out the embedding and ANN rates, not the search latencies taken along
the way (hybrid search old vs new default, semantic search, similar papers).

Each table has lexical, semantic, the old default hybrid (static z-score fusion) and the new
default (query-adaptive fusion, search/fusion.py adaptive_fuse). SciFact: tuned on train,
reported on test. Known-item (benchmarks/known_items.py: pasted titles, pasted abstract
sentences, typed title words as topics): tuned on the "tune" half, reported on "report".

Everything runs through paperwire's own code: a real SQLite store, LexicalIndex (tantivy
BM25), SemanticIndex (embeddings table -> on-disk vector index, query embedding by the
packaged model) and the fusion functions. Document vectors come from the resumable cache
that benchmarks/cache_vectors.py fills (same Embedder, same document_text); they are copied
into the store, and the store's own pending check confirms they match the stored text.
Metrics: ir-measures. Fusion settings are tuned on SciFact *train* qrels, reported on test.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import ir_measures
import numpy as np
from cache_vectors import (
    BENCH_DATA,
    CACHE,
    DATA,
    MODELS,
    arxiv_docs,
    build,
    load_cached,
    scifact_docs,
)
from ir_measures import RR, R, nDCG
from known_items import KINDS, KnownItem, load_or_draw

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search.embed import MODEL_ID, Embedder, document_text
from paperwire.search.engine import SearchEngine
from paperwire.search.fusion import (
    DEFAULT_ADAPTIVE,
    DEFAULT_FUSION,
    STATIC_FUSION,
    AdaptiveFusion,
    FusionConfig,
    HitVectors,
    Vector,
    adaptive_fuse,
    fuse,
    phrase_overlap,
)
from paperwire.search.lexical import LexicalIndex
from paperwire.search.query import ParsedQuery, parse_query
from paperwire.search.semantic import SemanticIndex, text_hash
from paperwire.search.vectors import VectorIndex
from paperwire.sources.snapshot import parse_daily_listing
from paperwire.store import Store, open_store
from paperwire.store.embeddings import EmbeddingStore, StoredVector

SCIFACT = DATA / "beir_scifact"
ARXIV = DATA / "arxiv_metadata"
DEPTH = 100
Run = dict[str, dict[str, float]]
LATENCY: list[tuple[str, str]] = []  # timings taken along the way, printed with speed()


# -- data --------------------------------------------------------------------------


def load_qrels(split: str) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (header row, CRLF line ends)."""
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"].strip(), {})[row["corpus-id"].strip()] = int(
                row["score"]
            )
    return qrels


def load_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def seeded_store(folder: Path, papers: list[Paper], name: str) -> tuple[Settings, Store]:
    """A SQLite store holding `papers` and their cached vectors (checked against the text)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=folder, database_url=f"sqlite:///{folder / 'bench.db'}", model_dir=MODELS
    )
    store = open_store(settings.resolved_database_url)
    store.upsert_papers(papers)
    ids, vectors = load_cached(name)
    row_of = {doc_id: n for n, doc_id in enumerate(ids)}
    vectors_store = EmbeddingStore(store)
    while pending := vectors_store.pending(MODEL_ID, 5000):
        rows = [
            StoredVector(
                p.arxiv_id,
                p.paper_hash,
                text_hash(document_text(p.title, p.abstract)),
                vectors[row_of[p.arxiv_id]].tobytes(),
            )
            for p in pending
        ]
        vectors_store.save(MODEL_ID, rows)
    semantic = SemanticIndex(settings, store)
    assert semantic.embed_pending() == 0, "cached vectors do not match the stored text"
    return settings, store


def lexical_index(folder: Path, papers: list[Paper]) -> LexicalIndex:
    """Always rebuilt, so the index reflects the current analyzer and schema."""
    index = LexicalIndex(folder / "index" / "lexical")
    index.rebuild([papers[i : i + 5000] for i in range(0, len(papers), 5000)])
    return index


def lexical_search(index: LexicalIndex, text: str, k: int) -> list[tuple[str, float]]:
    query = index.free_text_query([text])
    return index.search(query, limit=k).ids if query is not None else []


# -- runs -----------------------------------------------------------------------------


Lists = dict[str, list[tuple[str, float]]]


@dataclass
class QueryRuns:
    """Both halves' lists for each query, its content-word count, the phrase_overlap of
    its best lexical hit and the papers' vectors (for adaptive fusion)."""

    lex: Lists
    sem: Lists
    terms: dict[str, int]
    overlap: dict[str, float]
    vectors: Mapping[str, Vector]  # of every searched paper (smoothing takes the hits')
    hits: dict[str, HitVectors] = field(default_factory=dict)  # each query's, once

    def only(self, wanted: Iterable[str]) -> QueryRuns:
        keep = set(wanted)
        tables = ({q: v for q, v in table.items() if q in keep} for table in self.tables())
        return QueryRuns(*tables, vectors=self.vectors, hits=self.hits)

    def hit_vectors(self, qid: str) -> HitVectors:
        """The vectors of both lists' hits of query `qid` (what hybrid search gathers)."""
        if qid not in self.hits:
            hits = [i for i, _ in [*self.lex[qid][:DEPTH], *self.sem[qid][:DEPTH]]]
            self.hits[qid] = HitVectors.of(self.vectors, hits)
        return self.hits[qid]

    def tables(self) -> tuple[Lists, Lists, dict[str, int], dict[str, float]]:
        return self.lex, self.sem, self.terms, self.overlap

    def static(self, config: FusionConfig) -> Lists:
        return {q: fuse(self.lex[q], self.sem[q], config) for q in self.lex}

    def adaptive(self, adaptive: AdaptiveFusion = DEFAULT_ADAPTIVE) -> Lists:
        return {
            q: adaptive_fuse(
                self.lex[q],
                self.sem[q],
                self.terms[q],
                adaptive,
                self.overlap[q],
                self.hit_vectors(q),
            )
            for q in self.lex
        }


def runs_for(
    queries: dict[str, str],
    lexical: LexicalIndex,
    semantic: SemanticIndex,
    papers: dict[str, Paper],
    vectors: Mapping[str, Vector],
    k: int = DEPTH,
) -> QueryRuns:
    lex = {qid: lexical_search(lexical, text, k) for qid, text in queries.items()}
    sem = {qid: semantic.search(text, k) for qid, text in queries.items()}
    terms = {qid: len(lexical.content_terms([text])) for qid, text in queries.items()}
    overlap = {}
    for qid, text in queries.items():
        top = papers[lex[qid][0][0]] if lex[qid] else None
        overlap[qid] = phrase_overlap(text, (top.title, top.abstract)) if top else 0.0
    return QueryRuns(lex, sem, terms, overlap, vectors)


def as_run(ranked: dict[str, list[tuple[str, float]]], k: int = DEPTH) -> Run:
    # rank-based scores so ties in the engine's scores cannot reorder documents
    return {q: {d: float(k - n) for n, (d, _) in enumerate(r[:k])} for q, r in ranked.items()}


def measure(qrels: dict[str, dict[str, int]], run: Run) -> dict[str, float]:
    scores = ir_measures.calc_aggregate([nDCG @ 10, R @ 100], qrels, run)
    return {"nDCG@10": scores[nDCG @ 10], "R@100": scores[R @ 100]}


def candidates() -> Iterable[FusionConfig]:
    for k, w in itertools.product((5, 10, 20, 40, 60, 100), (0.3, 0.4, 0.5, 0.6, 0.7)):
        yield FusionConfig(method="rrf", k=k, weights=(w, 1.0 - w), depth=DEPTH)
    weights = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
    for method, w, depth in itertools.product(("minmax", "zscore"), weights, (50, DEPTH)):
        yield FusionConfig(method=method, k=60, weights=(w, 1.0 - w), depth=depth)


# -- SciFact ----------------------------------------------------------------------------


@dataclass
class SciFact:
    runs: QueryRuns
    train: dict[str, dict[str, int]]
    test: dict[str, dict[str, int]]

    def split(self, name: str) -> tuple[QueryRuns, dict[str, dict[str, int]]]:
        qrels = self.train if name == "train" else self.test
        return self.runs.only(qrels), qrels


def scifact_runs(work: Path) -> SciFact:
    build("scifact", scifact_docs())  # no-op when cached
    papers = [
        Paper(arxiv_id=str(d["_id"]), title=str(d["title"]), abstract=str(d["text"]))
        for d in load_jsonl(SCIFACT / "corpus.jsonl")
    ]
    settings, store = seeded_store(work / "scifact", papers, "scifact")
    semantic = SemanticIndex(settings, store)
    lexical = lexical_index(work / "scifact", papers)
    queries = {str(q["_id"]): str(q["text"]) for q in load_jsonl(SCIFACT / "queries.jsonl")}
    train, test = load_qrels("train"), load_qrels("test")
    by_id = {p.arxiv_id: p for p in papers}
    ids, rows = load_cached("scifact")
    vectors = dict(zip(ids, rows, strict=True))
    runs = runs_for({q: queries[q] for q in {*train, *test}}, lexical, semantic, by_id, vectors)
    store.close()
    return SciFact(runs, train, test)


def scifact_rows(data: SciFact) -> list[tuple[str, dict[str, float]]]:
    """Test-split rows: each half, untuned and train-tuned static fusion, old and new default."""
    train_runs, train = data.split("train")
    test_runs, test = data.split("test")
    best: dict[str, tuple[float, FusionConfig]] = {}
    for config in candidates():
        family = "rrf" if config.method == "rrf" else "norm"
        score = measure(train, as_run(train_runs.static(config)))["nDCG@10"]
        if score > best.get(family, (-1.0, config))[0]:
            best[family] = (score, config)
    rows = [
        ("lexical (tantivy BM25)", measure(test, as_run(test_runs.lex))),
        (f"semantic ({MODEL_ID})", measure(test, as_run(test_runs.sem))),
        ("hybrid RRF k=60 1:1 (untuned)", measure(test, as_run(test_runs.static(FusionConfig())))),
    ]
    for _family, (train_score, config) in sorted(best.items()):
        knob = f"k={config.k}" if config.method == "rrf" else f"depth={config.depth}"
        label = f"hybrid {config.method} {knob} w={config.weights[0]:.2f}/{config.weights[1]:.2f}"
        result = measure(test, as_run(test_runs.static(config)))
        rows.append((f"{label} (train {train_score:.3f})", result))
    old = DEFAULT_FUSION
    label = f"{old.method} depth={old.depth} w={old.weights[0]:.2f}/{old.weights[1]:.2f}"
    train_old = measure(train, as_run(train_runs.static(old)))["nDCG@10"]
    rows.append(
        (
            f"old default: {label} (train {train_old:.3f})",
            measure(test, as_run(test_runs.static(old))),
        )
    )
    train_new = measure(train, as_run(train_runs.adaptive()))["nDCG@10"]
    rows.append(
        (
            f"new default: adaptive, {adaptive_label(DEFAULT_ADAPTIVE)} (train {train_new:.3f})",
            measure(test, as_run(test_runs.adaptive())),
        )
    )
    return rows


def adaptive_label(adaptive: AdaptiveFusion) -> str:
    short = adaptive.short_weights[0]
    return (
        f"<={adaptive.short_terms} words w={short:.2f}, "
        f">={adaptive.pin_terms} words keep top at margin {adaptive.pin_margin}, "
        f">={adaptive.match_terms} words at overlap {adaptive.match_overlap}, "
        f"smooth {adaptive.smooth_neighbours} nn w={adaptive.smooth_weight} "
        f"of top {adaptive.smooth_head}"
    )


# -- arXiv known-item ------------------------------------------------------------------------


@dataclass
class KnownItems:
    papers: int  # in the searched corpus
    items: list[KnownItem]
    runs: QueryRuns

    def qrels(self, kind: str, split: str) -> dict[str, dict[str, int]]:
        return {i.qid: {i.target: 1} for i in self.items if i.kind == kind and i.split == split}


def known_item_runs(work: Path, limit: int | None) -> KnownItems:
    """Lexical and semantic lists for the known-item set, searching the embedded papers."""
    ids, rows = load_cached("arxiv")
    ids = ids[:limit] if limit else ids
    vectors = dict(zip(ids, rows, strict=False))
    by_id = {p.arxiv_id: p for p in _daily_papers()}
    papers = [by_id[i] for i in ids]  # cache order: the set is drawn from its head
    items = load_or_draw(BENCH_DATA / "quality" / "known_items.jsonl", papers)
    wanted = set(ids)
    items = [i for i in items if i.target in wanted]
    folder = work / f"arxiv-{len(papers)}"
    settings, store = seeded_store(folder, papers, "arxiv")
    semantic = SemanticIndex(settings, store)
    lexical = lexical_index(folder, papers)
    runs = runs_for({i.qid: i.query for i in items}, lexical, semantic, by_id, vectors)
    hybrid_speed(settings, store, [i.query for i in items[:300]])
    texts = [i.query for i in items[:300]]
    search_ms = [timed(lambda t=t: semantic.search(t, 10), 1)[0] for t in texts]
    near_ms = [timed(lambda i=i: semantic.neighbours(i.target, 10), 1)[0] for i in items[:300]]
    index = semantic.refresh()
    LATENCY.append(
        (
            f"semantic search incl. query embedding, N={len(index):,}: p50 / p95 ms",
            f"{_p(search_ms, 50):.2f} / {_p(search_ms, 95):.2f}",
        )
    )
    LATENCY.append(
        (
            f"similar papers (neighbours, {'HNSW' if index.uses_ann else 'exact'}) p50 / p95 ms",
            f"{_p(near_ms, 50):.2f} / {_p(near_ms, 95):.2f}",
        )
    )
    store.close()
    return KnownItems(len(papers), items, runs)


def mrr(qrels: dict[str, dict[str, int]], ranked: Lists) -> float:
    run = as_run({q: r for q, r in ranked.items() if q in qrels})
    return float(ir_measures.calc_aggregate([RR @ 10], qrels, run)[RR @ 10])


def known_item_rows(data: KnownItems, split: str) -> list[tuple[str, dict[str, float]]]:
    """MRR@10 per kind of query; a last row says whether new >= max(lexical, semantic) - .005."""
    systems = [
        ("lexical", data.runs.lex),
        ("semantic", data.runs.sem),
        ("old default (static z-score)", data.runs.static(DEFAULT_FUSION)),
        ("new default (adaptive)", data.runs.adaptive()),
    ]
    rows = [(name, {k: mrr(data.qrels(k, split), r) for k in KINDS}) for name, r in systems]
    best = {k: max(rows[0][1][k], rows[1][1][k]) for k in KINDS}
    rows.append(("new - max(lexical, semantic)", {k: rows[3][1][k] - best[k] for k in KINDS}))
    return rows


# -- tuning the adaptive fusion ----------------------------------------------------------------


def adaptive_candidates() -> Iterable[AdaptiveFusion]:
    """The grid around the default: short-query weights and margin pins (with the
    default near-exact rule, and without it), then near-exact rules and neighbour
    smoothing settings on the default."""
    shorts = ((0, 0.55), (3, 0.9), (4, 0.8), (4, 0.9), (5, 0.9))
    pins = itertools.product((0, 6, 8, 10), (0.08, 0.12, 0.16, 0.2, 0.3, math.inf))
    for (terms, weight), (pin_terms, margin) in itertools.product(shorts, pins):
        for overlap in (DEFAULT_ADAPTIVE.match_overlap, math.inf):
            yield AdaptiveFusion(
                short_terms=terms,
                short_weights=(weight, round(1 - weight, 2)),
                pin_terms=pin_terms,
                pin_margin=margin,
                match_overlap=overlap,
            )
    for match_terms, overlap in itertools.product((3, 4, 5, 6, 8), (0.5, 0.6, 0.9, 1.0)):
        yield AdaptiveFusion(match_terms=match_terms, match_overlap=overlap)
    weights = (0.1, 0.2, 0.25, 0.3, 0.35, 0.5)
    for neighbours, weight in itertools.product((0, 2, 3, 4, 5), weights):
        yield AdaptiveFusion(smooth_neighbours=neighbours, smooth_weight=weight)
    for head, weight in itertools.product((10, 20, 50, 1000), (0.2, 0.25, 0.3)):
        yield AdaptiveFusion(smooth_weight=weight, smooth_head=head)


def tuning_rows(
    scifact: SciFact, known: KnownItems | None, top: int = 8
) -> list[tuple[str, dict[str, float]]]:
    """Candidates, best first: those within 0.005 of max(lexical, semantic) on every kind of
    the known-item tune half, then by SciFact train nDCG@10 to 3 decimals (closer is one
    query or two: noise), then by the mean known-item tune MRR@10. * marks the default."""
    train_runs, train = scifact.split("train")
    scored = []
    for adaptive in adaptive_candidates():
        row = {"SF train": measure(train, as_run(train_runs.adaptive(adaptive)))["nDCG@10"]}
        meets = True
        if known is not None:
            fused = known.runs.adaptive(adaptive)
            for kind in KINDS:
                qrels = known.qrels(kind, "tune")
                row[kind] = mrr(qrels, fused)
                best = max(mrr(qrels, known.runs.lex), mrr(qrels, known.runs.sem))
                meets = meets and row[kind] >= best - 0.005
            row["KI mean"] = statistics.mean(row[kind] for kind in KINDS)
        label = ("* " if adaptive == DEFAULT_ADAPTIVE else "  ") + adaptive_label(adaptive)
        key = (meets, round(row["SF train"], 3), row.get("KI mean", 0.0))
        scored.append((key, label, row))
    scored.sort(key=lambda s: s[0], reverse=True)
    return [(label, row) for _key, label, row in scored[:top]]


def _daily_papers() -> list[Paper]:
    import lzma

    path = next(ARXIV.glob("arxiv_daily_cs_*.jsonl.xz"))
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        return [parse_daily_listing(json.loads(line)) for line in handle]


# -- speed -----------------------------------------------------------------------------------


def hybrid_speed(settings: Settings, store: Store, queries: list[str]) -> None:
    """Hybrid search through SearchEngine, page one with its total, the old default
    (static fusion) and the new (adaptive) timed in turns on each query, the first of
    the pair alternating; one warm-up pass each."""
    engine = SearchEngine(settings, store)
    today = date.today()
    parsed = [parse_query(q, today=today) for q in queries]

    def page(adaptive: AdaptiveFusion, query: ParsedQuery) -> None:
        engine.adaptive = adaptive
        engine.search(query, sort="relevance", page=1, per_page=20, mode="hybrid").final_total()

    timings: dict[AdaptiveFusion, list[float]] = {STATIC_FUSION: [], DEFAULT_ADAPTIVE: []}
    for n, query in enumerate(parsed * 2):
        turns = (STATIC_FUSION, DEFAULT_ADAPTIVE) if n % 2 else (DEFAULT_ADAPTIVE, STATIC_FUSION)
        for adaptive in turns:
            ms = timed(lambda a=adaptive, q=query: page(a, q), 1)[0]
            if n >= len(parsed):  # the first pass warms caches
                timings[adaptive].append(ms)
    engine.close()
    old, new = (_p(timings[a], 50) for a in (STATIC_FUSION, DEFAULT_ADAPTIVE))
    LATENCY.append(
        (
            f"hybrid search p50 ms, old / new default ({len(queries)} known-item queries)",
            f"{old:.2f} / {new:.2f} (new/old {new / old:.3f})",
        )
    )


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def speed(work: Path) -> list[tuple[str, str]]:
    """Wall-clock rates, and CPU-time rates (what an idle 2-core host would approach)."""
    docs = [text for _, text in arxiv_docs()[-128:]]  # the end of the shuffle: not cached
    rows = []
    for batch in (1, 16):  # 1 is what paperwire uses (see Embedder)
        embedder = Embedder(cache_dir=MODELS, batch_size=batch)
        embedder.embed(docs[:16])
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed(docs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append(
            (
                f"embed docs/s, batch {batch}: wall / per 2 CPU-s",
                f"{len(docs) / wall:.1f} / {2 * len(docs) / cpu:.1f}",
            )
        )
    embedder = Embedder(cache_dir=MODELS)
    queries = [d.split(". ")[0] for d in docs[:200]]
    lat = [timed(lambda q=q: embedder.embed_query(q), 1)[0] for q in queries]
    rows.append(("query embedding wall p50 / p95 ms", f"{_p(lat, 50):.2f} / {_p(lat, 95):.2f}"))
    single = Embedder(threads=1, cache_dir=MODELS)
    single.embed_query("warm up")
    cpu = time.process_time()
    for q in queries:
        single.embed_query(q)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(queries)
    rows.append(("query embedding CPU ms (1 thread, mean)", f"{cpu_ms:.2f}"))
    rows += ann_table(work, embedder.embed(queries))
    return rows


def _p(values: list[float], pct: int) -> float:
    return float(np.percentile(values, pct))


def ann_table(work: Path, queries: np.ndarray) -> list[tuple[str, str]]:
    """HNSW against exact search over every real vector cached so far (arXiv + SciFact)."""
    arxiv_ids, arxiv_vectors = load_cached("arxiv")
    scifact_ids, scifact_vectors = load_cached("scifact")
    ids = arxiv_ids + [f"scifact-{i}" for i in scifact_ids]
    vectors = np.vstack([arxiv_vectors, scifact_vectors])
    index = VectorIndex(MODEL_ID, ann_threshold=0)
    index.upsert({i: ("", v) for i, v in zip(ids, vectors, strict=True)})
    start = time.perf_counter()
    index.build_ann()
    build_s = time.perf_counter() - start
    folder = work / "ann"
    index.save(folder)
    exact = [{i for i, _ in index.search(q, 10, exact=True)} for q in queries]
    exact_ms = [timed(lambda q=q: index.search(q, 10, exact=True), 1)[0] for q in queries]
    rows = [
        (
            f"vectors indexed (N, {len(ids):,} x 384)",
            f"HNSW (usearch f16, M=16 efC=128) build {build_s:.1f}s",
        ),
        (
            "index size on disk (float16 rows + graph + ids)",
            f"{index.size_on_disk(folder) / 1e6:.1f} MB",
        ),
        ("exact search p50 ms (numpy)", f"{_p(exact_ms, 50):.2f}"),
    ]
    for ef in (32, 64, 128, 160, 256):
        index.ef_search = ef
        recall = [
            len(e & {i for i, _ in index.search(q, 10)}) / 10
            for e, q in zip(exact, queries, strict=True)
        ]
        ms = [timed(lambda q=q: index.search(q, 10), 1)[0] for q in queries]
        rows.append(
            (
                f"HNSW ef={ef}: recall@10 / p50 ms",
                f"{statistics.mean(recall):.3f} / {_p(ms, 50):.3f}",
            )
        )
    return rows


# -- main ------------------------------------------------------------------------------------


def print_table(
    title: str, rows: list[tuple[str, dict[str, float]]], columns: Iterable[str] = ()
) -> None:
    columns = list(columns) or sorted({c for _, r in rows for c in r}, reverse=True)
    width = max(len(n) for n, _ in rows) + 2
    print(f"\n{title}\n" + "system".ljust(width) + "".join(c.rjust(10) for c in columns))
    for name, result in rows:
        cells = (f"{result[c]:10.4f}" if c in result else "-".rjust(10) for c in columns)
        print(name.ljust(width) + "".join(cells))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-arxiv", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-tuning", action="store_true", help="no adaptive-fusion grid")
    parser.add_argument("--arxiv-limit", type=int, default=None)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=CACHE / "quality",
        help="stores and indexes built for the run (default: under the vector cache); "
        "give each concurrent run its own",
    )
    args = parser.parse_args()
    work = args.work_dir
    scifact = scifact_runs(work)
    anchors = [
        ("anchor: BM25 (BEIR, Lucene multifield)", {"nDCG@10": 0.665}),
        ("anchor: all-MiniLM-L6-v2 (published)", {"nDCG@10": 0.645}),
        ("anchor: bge-small-en-v1.5 (published)", {"nDCG@10": 0.72}),
    ]
    print_table("BEIR SciFact test (300 queries, 5,183 docs)", scifact_rows(scifact) + anchors)
    known = None if args.skip_arxiv else known_item_runs(work, args.arxiv_limit)
    if known is not None:
        for split in ("report", "tune"):
            count = len([i for i in known.items if i.split == split])
            print_table(
                f"arXiv known-item MRR@10, {split} half ({count} queries), "
                f"{known.papers:,} embedded papers searched",
                known_item_rows(known, split),
                KINDS,
            )
    if not args.skip_tuning:
        print_table(
            "adaptive fusion candidates, best first (goal met on tune half, SciFact train, KI mean)",
            tuning_rows(scifact, known),
            ("SF train", *KINDS, "KI mean"),
        )
    rows = LATENCY + ([] if args.skip_speed else speed(work))
    if rows:
        print("\nspeed (this machine, shared cores)")
        for name, value in rows:
            print(f"  {name:<52} {value}")


if __name__ == "__main__":
    main()
