"""Search quality: BEIR SciFact and a known-item check on the arXiv corpus; prints tables.

    PYTHONPATH=src python benchmarks/bench_quality.py [--skip-arxiv] [--arxiv-limit N]

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
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import ir_measures
import numpy as np
from cache_vectors import CACHE, DATA, MODELS, arxiv_docs, build, load_cached, scifact_docs
from ir_measures import RR, R, nDCG

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search.embed import MODEL_ID, Embedder, document_text
from paperwire.search.fusion import DEFAULT_FUSION, FusionConfig, fuse
from paperwire.search.lexical import LexicalIndex
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


def runs_for(
    queries: dict[str, str],
    lexical: LexicalIndex,
    semantic: SemanticIndex,
    k: int = DEPTH,
) -> tuple[dict[str, list[tuple[str, float]]], dict[str, list[tuple[str, float]]]]:
    lex = {qid: lexical_search(lexical, text, k) for qid, text in queries.items()}
    sem = {qid: semantic.search(text, k) for qid, text in queries.items()}
    return lex, sem


def as_run(ranked: dict[str, list[tuple[str, float]]], k: int = DEPTH) -> Run:
    # rank-based scores so ties in the engine's scores cannot reorder documents
    return {q: {d: float(k - n) for n, (d, _) in enumerate(r[:k])} for q, r in ranked.items()}


def fused(
    lex: dict[str, list[tuple[str, float]]],
    sem: dict[str, list[tuple[str, float]]],
    config: FusionConfig,
) -> dict[str, list[tuple[str, float]]]:
    return {q: fuse(lex[q], sem[q], config) for q in lex}


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


def scifact(work: Path) -> tuple[list[tuple[str, dict[str, float]]], FusionConfig]:
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
    lex, sem = runs_for({q: queries[q] for q in {*train, *test}}, lexical, semantic)
    split = {
        name: {q: r for q, r in runs.items() if q in qrels}
        for name, runs, qrels in (
            ("lex_tr", lex, train),
            ("sem_tr", sem, train),
            ("lex_te", lex, test),
            ("sem_te", sem, test),
        )
    }
    best: dict[str, tuple[float, FusionConfig]] = {}
    for config in candidates():
        family = "rrf" if config.method == "rrf" else "norm"
        score = measure(train, as_run(fused(split["lex_tr"], split["sem_tr"], config)))["nDCG@10"]
        if score > best.get(family, (-1.0, config))[0]:
            best[family] = (score, config)
    rows = [
        ("lexical (tantivy BM25)", measure(test, as_run(split["lex_te"]))),
        (f"semantic ({MODEL_ID})", measure(test, as_run(split["sem_te"]))),
    ]
    default = FusionConfig()
    rows.append(
        (
            "hybrid RRF k=60 1:1 (untuned)",
            measure(test, as_run(fused(split["lex_te"], split["sem_te"], default))),
        )
    )
    for _family, (train_score, config) in sorted(best.items()):
        knob = f"k={config.k}" if config.method == "rrf" else f"depth={config.depth}"
        label = f"hybrid {config.method} {knob} w={config.weights[0]:.2f}/{config.weights[1]:.2f}"
        result = measure(test, as_run(fused(split["lex_te"], split["sem_te"], config)))
        rows.append((f"{label} (train {train_score:.3f})", result))
    shipped = DEFAULT_FUSION
    label = f"{shipped.method} depth={shipped.depth} w={shipped.weights[0]:.2f}/{shipped.weights[1]:.2f}"
    train_score = measure(train, as_run(fused(split["lex_tr"], split["sem_tr"], shipped)))
    rows.append(
        (
            f"paperwire default: {label} (train {train_score['nDCG@10']:.3f})",
            measure(test, as_run(fused(split["lex_te"], split["sem_te"], shipped))),
        )
    )
    store.close()
    return rows, best["norm"][1]


# -- arXiv known-item ------------------------------------------------------------------------


def sentence_of(abstract: str, rng: random.Random) -> str:
    parts = [p for p in re.split(r"(?<=[.!?])\s+", " ".join(abstract.split())) if len(p) > 40]
    return rng.choice(parts) if parts else abstract[:200]


def known_item(
    work: Path, limit: int | None, tuned: FusionConfig
) -> tuple[int, list[tuple[str, dict[str, float]]]]:
    """MRR@10 of the paper a title / an abstract sentence came from, among the embedded
    papers; lexical is also run over the full corpus for reference."""
    ids, _ = load_cached("arxiv")
    wanted = set(ids[:limit] if limit else ids)
    everything = _daily_papers()
    papers = [p for p in everything if p.arxiv_id in wanted]
    folder = work / f"arxiv-{len(papers)}"
    settings, store = seeded_store(folder, papers, "arxiv")
    semantic = SemanticIndex(settings, store)
    lexical = lexical_index(folder, papers)
    full_lexical = lexical_index(work / "arxiv-full", everything)
    rng = random.Random(7)
    sample = rng.sample(papers, min(400, len(papers)))
    half = len(sample) // 2
    queries = {f"t{n}": p.title for n, p in enumerate(sample[:half])}
    queries |= {f"s{n}": sentence_of(p.abstract, rng) for n, p in enumerate(sample[half:])}
    target = {f"t{n}": p.arxiv_id for n, p in enumerate(sample[:half])}
    target |= {f"s{n}": p.arxiv_id for n, p in enumerate(sample[half:])}
    lex, sem = runs_for(queries, lexical, semantic)
    search_ms = [timed(lambda t=t: semantic.search(t, 10), 1)[0] for t in queries.values()]
    near_ms = [timed(lambda i=i: semantic.neighbours(i, 10), 1)[0] for i in target.values()]
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
    systems = [
        (
            f"lexical, full {len(everything):,}",
            {q: lexical_search(full_lexical, t, DEPTH) for q, t in queries.items()},
        ),
        ("lexical", lex),
        ("semantic", sem),
        ("hybrid RRF k=60 1:1", fused(lex, sem, FusionConfig())),
        (f"hybrid {tuned.method} (SciFact-train tuned)", fused(lex, sem, tuned)),
    ]
    rows = []
    for kind, prefix in (("title", "t"), ("abstract sentence", "s")):
        qrels = {q: {target[q]: 1} for q in queries if q.startswith(prefix)}
        for name, ranked in systems:
            run = as_run({q: r for q, r in ranked.items() if q in qrels})
            rr = ir_measures.calc_aggregate([RR @ 10], qrels, run)[RR @ 10]
            rows.append((f"{kind}: {name}", {"MRR@10": rr}))
    store.close()
    return len(papers), rows


def _daily_papers() -> list[Paper]:
    import lzma

    path = next(ARXIV.glob("arxiv_daily_cs_*.jsonl.xz"))
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        return [parse_daily_listing(json.loads(line)) for line in handle]


# -- speed -----------------------------------------------------------------------------------


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
        (f"vectors indexed (N, {len(ids):,} x 384)", f"HNSW M=32 efC=200 build {build_s:.1f}s"),
        (
            "index size on disk (vectors.npy + hnsw.bin + ids)",
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


def print_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    columns = sorted({c for _, r in rows for c in r}, reverse=True)
    width = max(len(n) for n, _ in rows) + 2
    print(f"\n{title}\n" + "system".ljust(width) + "".join(c.rjust(10) for c in columns))
    for name, result in rows:
        cells = (f"{result[c]:10.4f}" if c in result else "-".rjust(10) for c in columns)
        print(name.ljust(width) + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-arxiv", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--arxiv-limit", type=int, default=None)
    args = parser.parse_args()
    work = CACHE / "quality"
    rows, tuned = scifact(work)
    anchors = [
        ("anchor: BM25 (BEIR, Lucene multifield)", {"nDCG@10": 0.665}),
        ("anchor: all-MiniLM-L6-v2 (published)", {"nDCG@10": 0.645}),
        ("anchor: bge-small-en-v1.5 (published)", {"nDCG@10": 0.72}),
    ]
    print_table("BEIR SciFact test (300 queries, 5,183 docs)", rows + anchors)
    sys.stdout.flush()
    if not args.skip_arxiv:
        n, ki = known_item(work, args.arxiv_limit, tuned)
        print_table(
            f"arXiv known-item, {n:,} embedded papers (200 title + 200 sentence queries)", ki
        )
    if not args.skip_speed:
        print("\nspeed (this machine, shared cores)")
        for name, value in LATENCY + speed(work):
            print(f"  {name:<52} {value}")


if __name__ == "__main__":
    main()
