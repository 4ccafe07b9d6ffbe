"""Shared vectors: pgvector (halfvec HNSW in PostgreSQL) against the local HNSW index.

    python benchmarks/bench_pgvector.py --papers 20000 --queries 200

Real MiniLM vectors of arXiv papers from the cache (benchmarks/cache_vectors.py) are saved
through EmbeddingStore into a throwaway PostgreSQL with pgvector (so the HNSW index is
maintained as on a live site), then the same queries (vectors of other papers) run through
SharedVectorStore.nearest (one SQL query each, as every `paperwire serve` host would) and
through the local VectorIndex. recall@10 is measured against exact search (numpy).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from cache_vectors import load_cached
from throwaway_postgres import new_database, start_server

from paperwire.models import Paper
from paperwire.search.embed import MODEL_ID
from paperwire.search.vectors import VectorIndex
from paperwire.store import open_store
from paperwire.store.embeddings import EmbeddingStore, StoredVector
from paperwire.store.shared_vectors import SharedVectorStore

K = 10


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    ids, vectors = load_cached("arxiv")
    need = args.papers + args.queries
    if len(ids) < need:
        raise SystemExit(f"the vector cache holds {len(ids):,}; need {need:,}")
    ids, corpus, queries = ids[: args.papers], vectors[: args.papers], vectors[args.papers : need]

    url = new_database(start_server(Path(tempfile.mkdtemp(prefix="pw-pgv-"))), "pgvector_bench")
    store = open_store(url)
    store.upsert_papers([Paper(arxiv_id=i, title=i, abstract="") for i in ids])
    embeddings = EmbeddingStore(store)
    start = time.perf_counter()
    for at in range(0, len(ids), 1000):
        rows = [
            StoredVector(i, "-", "-", v.tobytes())
            for i, v in zip(ids[at : at + 1000], corpus[at : at + 1000], strict=True)
        ]
        embeddings.save(MODEL_ID, rows)
    saved = time.perf_counter() - start
    shared = SharedVectorStore(store)

    local = VectorIndex(MODEL_ID)
    local.upsert({i: ("-", v) for i, v in zip(ids, corpus, strict=True)})
    start = time.perf_counter()
    local.build_ann()
    built = time.perf_counter() - start

    exact = np.argsort(-(queries @ corpus.T), axis=1)[:, :K]
    truth = [{ids[j] for j in row} for row in exact]
    print(f"{args.papers:,} vectors, {args.queries} queries, k={K}")
    print(f"pgvector: saved through the store with its HNSW index in {saved:.1f}s "
          f"({args.papers / saved:,.0f} vectors/s); local HNSW graph (usearch f16) built in {built:.1f}s")  # fmt: skip
    print(f"{'backend':>10} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}")
    for name, search in (
        ("pgvector", lambda q: shared.nearest(MODEL_ID, q, K)),
        ("local", lambda q: local.search(q, K)),
    ):
        times, recall = [], []
        for query, want in zip(queries, truth, strict=True):
            start = time.perf_counter()
            found = search(query)
            times.append((time.perf_counter() - start) * 1000)
            recall.append(len(want & {i for i, _ in found}) / K)
        p50, p95 = percentiles(times)
        print(f"{name:>10} {p50:>7.2f} {p95:>7.2f} {statistics.mean(recall):>9.3f}")
    store.close()


if __name__ == "__main__":
    main()
