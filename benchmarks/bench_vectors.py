"""Vector storage at scale: build time, file size, RSS, latency and recall of each candidate.

    python benchmarks/bench_vectors.py --n 1000000             # the #15 table (heavy: ~1 h)
    python benchmarks/bench_vectors.py --n 100000 --only exact-f32,usearch-f16

The test set (built once under --scratch, never in git): the cached real MiniLM vectors of the
74,728 arXiv papers (benchmarks/cache_vectors.py, never re-embedded); 1,000 of them are held
out as queries, the rest are rows, and the other rows up to --n are mixes of 2-3 random real
rows (random weights) plus small noise, renormalised, so they cluster like real abstracts.

Each candidate is built here, saved, then loaded and queried in a fresh subprocess (so "RSS"
is what one serve worker would hold after loading it and answering the timed queries, with
memory-mapped pages counted; "anon" is the part of it that is not a shared file page, i.e.
what each further worker adds). Queries run one at a time on one thread, as a web request
does; recall@10 is against exact float32 search over the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
HERE = Path(__file__).resolve()
DIM = 384
QUERIES = 1000
CANDIDATES = (
    "exact-f32",
    "exact-f16",
    "hnswlib-M32-efc200",
    "hnswlib-M16-efc100",
    "usearch-f16",
    "usearch-i8",
    "paperwire",
)


# -- the test set ------------------------------------------------------------------------


def make_test_set(scratch: Path, n: int) -> tuple[Path, Path, Path]:
    """rows (n x 384 float32), queries (1000 held-out real vectors), exact top-100 labels."""
    rows_path = scratch / f"rows-{n}.npy"
    queries_path = scratch / "queries.npy"
    truth_path = scratch / f"truth-{n}.npy"
    if rows_path.exists() and truth_path.exists():
        return rows_path, queries_path, truth_path
    from cache_vectors import load_cached

    _, real = load_cached("arxiv")
    real = real.astype(np.float32)
    rng = np.random.default_rng(15)
    order = rng.permutation(len(real))
    queries, base = real[order[:QUERIES]], real[order[QUERIES:]]
    np.save(queries_path, queries)
    rows = np.lib.format.open_memmap(rows_path, mode="w+", dtype=np.float32, shape=(n, DIM))
    take = min(n, len(base))
    rows[:take] = base[:take]
    for start in range(take, n, 100_000):
        rows[start : min(n, start + 100_000)] = _mixes(base, min(n, start + 100_000) - start, rng)
    rows.flush()
    np.save(truth_path, exact_top(np.asarray(rows), queries, 100))
    return rows_path, queries_path, truth_path


def _mixes(base: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    parts = rng.integers(2, 4, size=count)
    weights = rng.dirichlet(np.ones(3), size=count).astype(np.float32)
    weights[parts == 2, 2] = 0.0
    picks = rng.integers(0, len(base), size=(count, 3))
    mixed = np.einsum("nk,nkd->nd", weights, base[picks])
    mixed += rng.normal(0.0, 0.01, size=mixed.shape).astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return mixed.astype(np.float32)


def exact_top(rows: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    top = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 100):
        scores = queries[start : start + 100] @ rows.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        top[start : start + 100] = np.take_along_axis(part, order, axis=1)
    return top


# -- candidates: build (here) and open + query (in the subprocess) ------------------------

Searcher = Callable[[np.ndarray, int], list[int]]


def build(name: str, rows: np.ndarray, folder: Path) -> None:
    if name == "exact-f32":
        np.save(folder / "rows.npy", rows)
    elif name == "exact-f16":
        np.save(folder / "rows.npy", rows.astype(np.float16))
    elif name.startswith("hnswlib"):
        import hnswlib

        m, efc = (32, 200) if "M32" in name else (16, 100)
        graph = hnswlib.Index(space="ip", dim=DIM)
        graph.init_index(max_elements=len(rows), ef_construction=efc, M=m)
        graph.set_num_threads(os.cpu_count() or 1)
        graph.add_items(rows, np.arange(len(rows)))
        graph.save_index(str(folder / "graph.bin"))
    elif name.startswith("usearch"):
        from usearch.index import Index

        graph = Index(ndim=DIM, metric="ip", dtype=name.split("-")[1], connectivity=16)
        graph.add(np.arange(len(rows), dtype=np.uint64), rows, threads=os.cpu_count() or 1)
        graph.save(str(folder / "graph.usearch"))
    elif name == "paperwire":
        from paperwire.search.vectors import VectorIndex

        ids = [f"p{n}" for n in range(len(rows))]
        VectorIndex.build("bench", ids, ["h"] * len(ids), rows).save(folder)
    else:
        raise SystemExit(f"unknown candidate {name}")


def open_searcher(name: str, folder: Path) -> Searcher:
    if name.startswith("exact"):
        rows = np.load(folder / "rows.npy")

        def exact(query: np.ndarray, k: int) -> list[int]:
            if rows.dtype == np.float32:
                scores = np.einsum("ij,j->i", rows, query)
            else:  # float16 has no BLAS path: score in float32 chunks
                scores = np.concatenate(
                    [
                        np.einsum("ij,j->i", rows[s : s + 65536].astype(np.float32), query)
                        for s in range(0, len(rows), 65536)
                    ]
                )
            top = np.argpartition(-scores, k - 1)[:k]
            return top[np.argsort(-scores[top])].tolist()  # type: ignore[no-any-return]

        return exact
    if name.startswith("hnswlib"):
        import hnswlib

        graph = hnswlib.Index(space="ip", dim=DIM)
        graph.load_index(str(folder / "graph.bin"))
        graph.set_num_threads(1)
        graph.set_ef(160)

        def hnsw(query: np.ndarray, k: int) -> list[int]:
            graph.set_ef(max(160, k))
            return graph.knn_query(query.reshape(1, -1), k=k)[0][0].tolist()  # type: ignore[no-any-return]

        return hnsw
    if name.startswith("usearch"):
        from usearch.index import Index

        view = Index.restore(str(folder / "graph.usearch"), view=True)
        assert view is not None
        view.expansion_search = 160

        def usearch(query: np.ndarray, k: int) -> list[int]:
            return view.search(query, max(k, 1), threads=1).keys.tolist()  # type: ignore[no-any-return]

        return usearch
    from paperwire.search.vectors import VectorIndex

    index = VectorIndex.load(folder, "bench")

    def paperwire(query: np.ndarray, k: int) -> list[int]:
        return [int(i[1:]) for i, _ in index.search(query, k)]

    return paperwire


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident MiB (RssAnon: the part no other worker can share)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def evaluate(name: str, folder: Path, queries_path: Path, truth_path: Path) -> dict[str, Any]:
    """Open, then time and score queries (runs in the fresh subprocess)."""
    queries, truth = np.load(queries_path), np.load(truth_path)
    started = time.perf_counter()
    search = open_searcher(name, folder)
    load_s = time.perf_counter() - started
    rss_load = rss_mib()
    timed = 30 if name.startswith("exact") else 300
    result: dict[str, Any] = {"load_s": load_s, "rss_load": rss_load}
    for k in (10, 100):
        times = []
        for query in queries[:timed]:
            t0 = time.perf_counter()
            search(query, k)
            times.append((time.perf_counter() - t0) * 1000)
        result[f"p50_{k}"] = statistics.median(times)
        result[f"p95_{k}"] = float(np.percentile(times, 95))
    scored = timed if name.startswith("exact") else len(queries)
    hits = sum(
        len(set(search(q, 10)) & set(truth[n, :10].tolist()))
        for n, q in enumerate(queries[:scored])
    )
    result["recall"] = hits / (10 * scored)
    result["rss_after"] = rss_mib()
    result["rss_anon"] = rss_mib("RssAnon")
    return result


def smaps_mib() -> dict[str, int]:
    fields = {"Rss:": "rss", "Pss:": "pss", "Shared_Clean:": "shared", "Anonymous:": "anon"}
    with open("/proc/self/smaps_rollup") as rollup:
        pairs = [line.split()[:2] for line in rollup]
    return {fields[k]: int(v) // 1024 for k, v in pairs if k in fields}


def shared_worker(folder: Path, queries_path: Path, barrier: Any, out: Any) -> None:
    from paperwire.search.vectors import VectorIndex

    index = VectorIndex.load(folder, "bench")
    for query in np.load(queries_path)[:300]:
        index.search(query, 100)
    barrier.wait()  # both loaded and searched: measured while the other one is alive
    out.put(smaps_mib())
    barrier.wait()


def two_workers(folder: Path, queries_path: Path) -> list[dict[str, int]]:
    """Memory of two processes that load the same saved index (as two serve workers do)."""
    import multiprocessing

    barrier, out = multiprocessing.Barrier(2), multiprocessing.Queue()
    args = (folder, queries_path, barrier, out)
    workers = [multiprocessing.Process(target=shared_worker, args=args) for _ in range(2)]
    for worker in workers:
        worker.start()
    found = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return found


def run_candidate(
    name: str, rows: np.ndarray, paths: tuple[Path, Path, Path], scratch: Path, keep: bool = False
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=scratch))
    started = time.perf_counter()
    build(name, rows, folder)
    build_s = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.glob("*") if p.is_file())
    command = [sys.executable, str(HERE), "--evaluate", name, str(folder), *map(str, paths[1:])]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result.update(name=name, build_s=build_s, size_mib=size / 2**20)
    if name == "paperwire" and keep:
        result["two_workers"] = two_workers(folder, paths[1])
    for path in folder.glob("*"):
        path.unlink()
    folder.rmdir()
    return result


HEADER = (
    f"{'candidate':<20}{'build s':>9}{'file MiB':>10}{'load s':>8}{'RSS load':>10}"
    f"{'RSS run':>9}{'anon':>6}{'p50@10':>8}{'p95@10':>8}{'p50@100':>9}{'p95@100':>9}{'recall@10':>10}"
)


def row(r: dict[str, Any]) -> str:
    return (
        f"{r['name']:<20}{r['build_s']:>9.1f}{r['size_mib']:>10.0f}{r['load_s']:>8.2f}"
        f"{r['rss_load']:>10.0f}{r['rss_after']:>9.0f}{r.get('rss_anon', 0):>6.0f}{r['p50_10']:>8.2f}{r['p95_10']:>8.2f}"
        f"{r['p50_100']:>9.2f}{r['p95_100']:>9.2f}{r['recall']:>10.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="rows in the index")
    parser.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated candidates")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(os.environ.get("PAPERWIRE_BENCH_DATA", "/work/bench-data")) / "vectors",
        help="test vectors and indexes (default $PAPERWIRE_BENCH_DATA/vectors)",
    )
    parser.add_argument(
        "--two-workers",
        action="store_true",
        help="also load the paperwire index in two processes at once: RSS, PSS, shared MiB",
    )
    parser.add_argument(
        "--evaluate", nargs=4, metavar=("NAME", "DIR", "QUERIES", "TRUTH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.evaluate:
        name, folder, queries, truth = args.evaluate
        print(json.dumps(evaluate(name, Path(folder), Path(queries), Path(truth))))
        return
    args.scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths = make_test_set(args.scratch, args.n)
    rows = np.load(paths[0], mmap_mode="r")
    print(
        f"{args.n:,} rows x {DIM}, {QUERIES} held-out real queries; test set "
        f"{time.perf_counter() - started:.0f} s; uptime: {os.popen('uptime').read().strip()}"
    )
    print("latency: one query at a time, one thread; RSS in MiB of a fresh process")
    print(HEADER, flush=True)
    for name in args.only.split(","):
        result = run_candidate(name, np.asarray(rows), paths, args.scratch, args.two_workers)
        print(row(result), flush=True)
        for n, memory in enumerate(result.get("two_workers", []), 1):
            print(f"  paperwire worker {n} of 2 (MiB): {memory}")
    print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
