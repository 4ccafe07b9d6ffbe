"""Search speed on the 74,728-paper arXiv corpus: paperwire (through the Service facade)
beside SQLite FTS5, bm25s and rank-bm25 on the same queries.

The corpus is imported once into --data-dir (kept between runs; `--rebuild` re-times the
index build). Queries: --queries sampled titles and abstract phrases (fixed --seed) plus
hand-written topic queries. Latency is per single query, top 10, wall clock, after 20
warm-up queries per system. paperwire's rows and bm25s are timed in turns of 55 queries,
so a slow spell of the machine hits them alike. Prints one table with p50/p95 and
the ratio to paperwire lexical p50.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_search_speed.py \\
        --data-dir /tmp/pw-bench [--semantic] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import re
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paperwire.config import Settings
from paperwire.search.fusion import STATIC_FUSION, AdaptiveFusion
from paperwire.search.query import parse_query
from paperwire.service import Service

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
TOPICS = [
    "statistical behavior of LLM agents",
    "gaussian splatting",
    "vision language model hallucination",
    "retrieval augmented generation evaluation",
    "diffusion models for video generation",
    "speech recognition low resource languages",
    "medical image segmentation",
    "chain of thought reasoning",
    "autonomous driving 3D object detection",
    "machine translation",
    "knowledge distillation",
    "reinforcement learning from human feedback",
    "multimodal large language models benchmark",
    "point cloud registration",
    "sign language",
    "hate speech detection",
    "text to image personalization",
    "mixture of experts",
    "long context",
    "remote sensing change detection",
]
WORD = re.compile(r"[^\W_]+")


def load_records(path: Path) -> list[dict[str, Any]]:
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def query_kind(n: int, sampled: int) -> str:
    """The kind of the n-th query of sample_queries, which picks each query by it: pasted
    titles and abstract phrases alternate, then come the typed topics."""
    if n >= sampled:
        return "typed topics"
    return "pasted titles" if n % 2 == 0 else "abstract phrases"


def sample_queries(records: list[dict[str, Any]], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    picked = rng.sample(records, n)
    out = []
    for i, record in enumerate(picked):
        if query_kind(i, n) == "pasted titles":
            out.append(" ".join(record["title"].split()))
        else:
            words = record["summary"].split()
            start = rng.randrange(max(1, len(words) - 8))
            out.append(" ".join(words[start : start + rng.randint(4, 8)]))
    # Word characters only: every system gets the same plain queries (a pasted title with
    # one stray quote is a syntax error in paperwire, FTS5 and Lucene alike).
    return [clean(q) for q in out] + TOPICS


def clean(text: str) -> str:
    """Only word characters: the baselines' own query syntaxes must not see quotes etc."""
    return " ".join(WORD.findall(text))


REPEATS = 1  # --repeat: passes over the queries; each query's median pass is kept
WARM = 20  # queries each system runs once, untimed, before timing
BLOCK = 55  # queries a system runs in a row before the next system's turn


@dataclass
class System:
    name: str
    run: Callable[[str], object]
    queries: Sequence[str]
    note: str = ""


def warm(systems: Sequence[System]) -> None:
    for system in systems:
        for q in system.queries[:WARM]:
            system.run(q)


def timed(systems: Sequence[System]) -> list[tuple[str, list[float], str]]:
    """Time the systems in turns of BLOCK queries each (queries 0-54 of every system, then
    55-109, ...), so a slow spell of this noisy machine falls on all of them alike and their
    ratios stay fair, while each system still runs back to back as a busy server would (a
    query-by-query interleave measured every system ~2x slower: each evicts the others'
    working sets from the 1 MB L2). Each pass goes over all queries; each query keeps its
    median pass. The systems must be warmed first (see warm)."""
    passes: list[list[list[float]]] = [[] for _ in systems]
    for _ in range(REPEATS):
        ms: list[list[float]] = [[] for _ in systems]
        for block in range(0, max(len(s.queries) for s in systems), BLOCK):
            for times, system in zip(ms, systems, strict=True):
                for q in system.queries[block : block + BLOCK]:
                    start = time.perf_counter()
                    system.run(q)
                    times.append((time.perf_counter() - start) * 1000)
        for kept, times in zip(passes, ms, strict=True):
            kept.append(times)
    return [
        (system.name, [statistics.median(t) for t in zip(*kept, strict=True)], system.note)
        for system, kept in zip(systems, passes, strict=True)
    ]


def percentiles(ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return statistics.median(ms), cuts[94]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# -- paperwire ---------------------------------------------------------------------


def prepare_service(data_dir: Path, rebuild: bool) -> tuple[Service, dict[str, Any]]:
    service = Service(Settings(data_dir=data_dir))
    info_path = data_dir / "bench_speed.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if service.store.count_papers() < 74_000:
        start = time.perf_counter()
        service.import_snapshot(CORPUS)
        info["import_with_indexing_s"] = time.perf_counter() - start
        rebuild = True
    engine = service.search_engine
    if engine.lexical and engine.needs_rebuild:  # e.g. cleared for a new schema version
        rebuild = True
    if rebuild or "index_build_s" not in info:
        start = time.perf_counter()
        info["indexed"] = service.rebuild_index()
        info["index_build_s"] = time.perf_counter() - start
        info["index_build_peak_mb"] = peak_mb()
        info["index_build_cached"] = False
    info_path.write_text(json.dumps(info))
    return service, info


def load_cached_vectors(service: Service, records: list[dict[str, Any]]) -> str:
    """Copy vectors that benchmarks/cache_vectors.py computed (same Embedder, same
    document_text) into the store, for papers whose stored text is the text embedded."""
    from cache_vectors import load_cached

    from paperwire.search.embed import MODEL_ID, document_text
    from paperwire.search.semantic import text_hash
    from paperwire.store.embeddings import EmbeddingStore, StoredVector

    ids, vectors = load_cached("arxiv")
    row_of = {doc_id: n for n, doc_id in enumerate(ids)}
    raw = {r["id"]: document_text(r["title"], r["summary"]) for r in records}
    vectors_store = EmbeddingStore(service.store)
    rows, differ = [], 0
    for paper in vectors_store.pending(MODEL_ID, 1_000_000):
        if paper.arxiv_id not in row_of:
            continue
        text = document_text(paper.title, paper.abstract)
        if text != raw.get(paper.arxiv_id):
            differ += 1
            continue
        vector = vectors[row_of[paper.arxiv_id]].tobytes()
        rows.append(StoredVector(paper.arxiv_id, paper.paper_hash, text_hash(text), vector))
    for start in range(0, len(rows), 5000):
        vectors_store.save(MODEL_ID, rows[start : start + 5000])
    service.semantic_index.refresh(force=True, save=True)
    return f"loaded {len(rows):,} cached vectors ({len(ids):,} cached, {differ} texts differ)"


def paperwire_systems(
    service: Service, queries: list[str], ids: list[str], semantic: bool
) -> list[System]:
    engine = service.search_engine
    today = datetime.now(UTC).date()

    def engine_only(q: str) -> object:
        return engine.search(
            parse_query(q, today=today), sort="relevance", page=1, per_page=10, mode="lexical"
        )

    systems = [
        System("paperwire lexical, ids only (engine)", engine_only, queries, "BM25 top 10"),
        System(
            "paperwire lexical, Service.search",
            lambda q: service.search(q, per_page=10, mode="lexical"),
            queries,
            "+ papers from SQLite + highlights",
        ),
        System(
            "paperwire similar papers",
            lambda i: service.similar(i, k=10),
            ids,
            "Service.similar, k=10",
        ),
    ]
    if semantic:
        for mode in ("semantic", "hybrid"):
            systems.append(
                System(
                    f"paperwire {mode}, Service.search",
                    lambda q, m=mode: service.search(q, per_page=10, mode=m),
                    queries,
                    "incl. query embedding",
                )
            )
        systems.append(
            System(
                "paperwire hybrid, static fusion (old)",
                lambda q: hybrid_with(service, STATIC_FUSION, q),
                queries,
                "hybrid before query-adaptive fusion",
            )
        )
    return systems


def hybrid_with(service: Service, adaptive: AdaptiveFusion, query: str) -> object:
    """A hybrid search whose engine fuses with `adaptive` for this one query."""
    engine = service.search_engine
    engine.adaptive, before = adaptive, engine.adaptive
    try:
        return service.search(query, per_page=10, mode="hybrid")
    finally:
        engine.adaptive = before


# -- baselines ----------------------------------------------------------------------


def fts5_system(
    records: list[dict[str, Any]], queries: list[str], data_dir: Path
) -> tuple[System, dict[str, float]]:
    path = data_dir / "fts5.db"
    info: dict[str, float] = {}
    if not path.exists():
        start = time.perf_counter()
        db = sqlite3.connect(path)
        db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(arxiv_id UNINDEXED, title, abstract, "
            "tokenize='porter unicode61')"
        )
        db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?)",
            ((r["id"], r["title"], r["summary"]) for r in records),
        )
        db.commit()
        db.close()
        info["fts5_build_s"] = time.perf_counter() - start
    info["fts5_mb"] = path.stat().st_size / 1e6
    db = sqlite3.connect(path)

    def search(q: str) -> object:
        words = WORD.findall(q)
        match = " OR ".join(f'"{w}"' for w in words) or '""'
        return db.execute(
            "SELECT arxiv_id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 2.0, 1.0) "
            "LIMIT 10",
            (match,),
        ).fetchall()

    return System("SQLite FTS5 (porter, OR, bm25())", search, queries), info


def bm25s_system(
    records: list[dict[str, Any]], queries: list[str]
) -> tuple[System, dict[str, float]]:
    import bm25s

    texts = [f"{r['title']} {r['summary']}" for r in records]
    start = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    info = {"bm25s_build_s": time.perf_counter() - start}

    def search(q: str) -> object:
        tokens = bm25s.tokenize([q], stopwords="en", show_progress=False)
        return retriever.retrieve(tokens, k=10, show_progress=False, n_threads=1)

    return System("bm25s (no stemmer, k=10)", search, queries), info


def rank_bm25_system(
    records: list[dict[str, Any]], queries: list[str], docs: int, seed: int
) -> System:
    from rank_bm25 import BM25Okapi

    subset = random.Random(seed).sample(records, min(docs, len(records)))
    corpus = [WORD.findall(f"{r['title']} {r['summary']}".lower()) for r in subset]
    model = BM25Okapi(corpus)

    def search(q: str) -> object:
        scores = model.get_scores(WORD.findall(q.lower()))
        return sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:10]

    sample = queries[:60]
    note = f"{len(subset):,}-doc subsample, {len(sample)} queries"
    return System(f"rank-bm25 BM25Okapi ({len(subset) // 1000}K docs)", search, sample, note)


def import_overhead() -> None:
    """Import the corpus into two fresh data dirs: with the indexing hook and without."""
    import tempfile

    class WithoutIndexing(Service):
        def _on_changed(self) -> None:
            return None

    for label, cls in (("without indexing", WithoutIndexing), ("with indexing", Service)):
        with tempfile.TemporaryDirectory() as tmp, cls(Settings(data_dir=Path(tmp))) as service:
            start = time.perf_counter()
            report = service.import_snapshot(CORPUS)
            print(f"import {report.new:,} papers {label}: {time.perf_counter() - start:.1f} s")


# -- report -------------------------------------------------------------------------


def print_table(rows: list[tuple[str, list[float], str]]) -> None:
    base = statistics.median(rows[0][1])
    print(f"{'system':44} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'p50 ratio':>9}  note")
    for name, ms, note in rows:
        p50, p95 = percentiles(ms)
        print(f"{name:44} {len(ms):7d} {p50:8.3f} {p95:8.3f} {p50 / base:8.1f}x  {note}")


def print_by_kind(rows: list[tuple[str, list[float], str]], sampled: int, total: int) -> None:
    """p50 per kind of query, for the systems that ran every query."""
    kinds = [query_kind(n, sampled) for n in range(total)]
    names = list(dict.fromkeys(kinds))
    sizes = [f"{kind} ({kinds.count(kind)})" for kind in names]
    print(f"{'p50 ms by kind of query':44} " + " ".join(f"{s:>22}" for s in sizes))
    for name, ms, _note in rows:
        if len(ms) != total:
            continue
        cells = [
            statistics.median(t for t, k in zip(ms, kinds, strict=True) if k == kind)
            for kind in names
        ]
        print(f"{name:44} " + " ".join(f"{c:22.3f}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("paperwire-data/bench-speed"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--semantic", action="store_true", help="also semantic and hybrid")
    parser.add_argument(
        "--cached-vectors",
        action="store_true",
        help="first load vectors from benchmarks/cache_vectors.py arxiv into the store",
    )
    parser.add_argument("--rebuild", action="store_true", help="re-time the index build")
    parser.add_argument("--rank-bm25-docs", type=int, default=10_000)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time every query this many times and keep its median (steadier on busy cores)",
    )
    parser.add_argument(
        "--import-overhead", action="store_true", help="only time import with/without indexing"
    )
    args = parser.parse_args()
    global REPEATS
    REPEATS = max(1, args.repeat)
    if args.import_overhead:
        import_overhead()
        return
    args.data_dir.mkdir(parents=True, exist_ok=True)

    service, info = prepare_service(args.data_dir, args.rebuild)
    records = load_records(CORPUS)
    if args.cached_vectors:
        print(load_cached_vectors(service, records))
    if args.semantic:
        done, total = service.semantic_index.coverage()
        print(f"semantic coverage: {done:,} of {total:,} papers embedded")
    queries = sample_queries(records, args.queries, args.seed)
    similar_ids = [r["id"] for r in random.Random(args.seed + 1).sample(records, 100)]
    systems = paperwire_systems(service, queries, similar_ids, args.semantic)
    warm(systems)
    paperwire_peak = peak_mb()
    extra: dict[str, float] = {}
    if args.no_baselines:
        rows = timed(systems)
    else:
        # bm25s, the close peer, takes turns with paperwire; FTS5 and rank-bm25
        # are 50-130x slower, so they run alone (their scans would only evict the others'
        # caches between queries).
        bm25s, extra = bm25s_system(records, queries)
        warm([bm25s])
        together = timed([*systems, bm25s])
        fts, fts_info = fts5_system(records, queries, args.data_dir)
        extra.update(fts_info)
        slow: list[tuple[str, list[float], str]] = []
        for alone in (fts, rank_bm25_system(records, queries, args.rank_bm25_docs, args.seed)):
            warm([alone])
            slow += timed([alone])
        rows = together[:-1] + slow[:1] + together[-1:] + slow[1:]
    print(
        f"corpus: {service.store.count_papers():,} papers; {len(queries)} queries "
        f"({args.queries} sampled titles/abstract phrases, seed {args.seed}, "
        f"+ {len(TOPICS)} topics); each timed {REPEATS}x, median kept; paperwire rows "
        f"and bm25s timed in turns of {BLOCK} queries"
    )
    print_table(rows)
    print()
    print_by_kind(rows, args.queries, len(queries))
    stats = service.index_stats()
    print()
    print(
        f"paperwire index build (rebuild from store): {info['index_build_s']:.1f} s for "
        f"{info['indexed']:,} papers (peak RSS then {info['index_build_peak_mb']:.0f} MB)"
    )
    if "import_with_indexing_s" in info:
        print(f"first import incl. incremental indexing: {info['import_with_indexing_s']:.1f} s")
    stored, deleted = service.search_engine.lexical.segment_counts()
    print(
        f"paperwire lexical index on disk: {stats['size_bytes'] / 1e6:.1f} MB "
        f"({stats['documents']:,} docs; {service.search_engine.lexical.searcher().num_segments} "
        f"segments holding {deleted:,} deleted docs of {stored:,}); re-indexed on opening: "
        f"{service.search_engine.opening_catch_up:,}"
    )
    for key, value in extra.items():
        print(f"{key}: {value:.1f}")
    print(
        f"peak RSS: {paperwire_peak:.0f} MB after paperwire runs (incl. the corpus in "
        f"memory for sampling); {peak_mb():.0f} MB after baselines"
    )
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    service.close()


if __name__ == "__main__":
    main()
