"""Scale benchmark (issue 15): the same measurements at each corpus size N, then growth.

How each figure grows with N is printed as a table and log-log slopes.

    PYTHONPATH=src nice -n 10 python benchmarks/bench_scale.py \
        --sizes 74728,300000,1000000 --work-dir /work/scratch-scalebench [--json out.json]

Some steps again (after a change), the rest taken from an earlier run's JSON, whose data
dirs must still be under --work-dir (a partial import goes to a throwaway dir):

    ... --steps import,indexed --base out.json --json new.json

For each N, every step runs in its own subprocess, so its peak RSS is its own:

1. corpus      the real 74,728-paper file at N = 74,728 (unless --synthetic-only); otherwise
               make_scale_corpus.py's synthetic file, made once and kept as
               <work-dir>/scale-<N>.jsonl.xz (a symlink to an existing one is fine)
2. import      store only (index_on_ingest off) into a fresh data dir: papers/s, DB bytes
3. rebuild     Service.rebuild_index (what `paperwire index rebuild` runs) on that store: the
               lexical catch-up of a new host; seconds and index size on disk
4. indexed     a fresh import with indexing on, into a second data dir (deleted afterwards
               unless --keep): papers/s of the everyday path
5. vectors     one vector per paper into the store, then the vector index built (see
               load_vectors). Real cached MiniLM vectors for real papers; a synthetic paper
               gets a DERIVED vector: the normalised mean of the cached vectors of the real
               papers its title halves and sentences came from (make_scale_corpus's
               provenance). Valid for speed and memory, not for quality.
6. service     Service.search lexical / hybrid and Service.similar: p50 / p95 over a seeded
               query set (real titles, abstract phrases and typed topics); each kind in a
               block, 3 rounds, per-query median (see block_times)
7. serve       `paperwire serve` (its own process): /api/v1/search p50 over HTTP (hybrid, the
               route's default, and lexical) and the peak RSS (VmHWM) of server + workers
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from scale_report import combined, goals, growth, print_goals, print_growth, print_size

BENCH_DATA = Path(os.environ.get("PAPERWIRE_BENCH_DATA", "/work/bench-data"))  # as cache_vectors

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL_SIZE = 74_728
MB = 1e6

# -- steps (each run as `bench_scale.py --step NAME ...` in its own process) -----------


def settings_for(data_dir: Path, index_on_ingest: bool = True) -> Any:
    from paperwire.config import Settings

    return Settings(
        data_dir=data_dir,
        index_on_ingest=index_on_ingest,
        embed_in_background=False,
        recommend_warm_up=False,
    )


def dir_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def step_import(args: argparse.Namespace) -> dict[str, Any]:
    from paperwire.service import Service

    with Service(settings_for(args.data_dir, index_on_ingest=args.indexed)) as service:
        start = time.perf_counter()
        report = service.import_snapshot(args.corpus)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "new": report.new, "rejected": report.rejected}


def step_rebuild(args: argparse.Namespace) -> dict[str, Any]:
    from paperwire.service import Service

    with Service(settings_for(args.data_dir)) as service:
        start = time.perf_counter()
        indexed = service.rebuild_index()
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "indexed": indexed}


def real_vectors() -> tuple[dict[str, int], Any]:
    """Row of each real paper's cached vector (cache_vectors.py), and the vectors."""
    from cache_vectors import load_cached

    ids, vectors = load_cached("arxiv")
    if len(ids) < REAL_SIZE:
        raise SystemExit(f"the vector cache holds {len(ids):,} of {REAL_SIZE:,} papers")
    return {doc_id: n for n, doc_id in enumerate(ids)}, vectors


def derived_vectors(count: int, seed: int) -> dict[str, Any]:
    """Synthetic id -> normalised mean of the cached vectors of the real papers it was made
    from, replaying make_scale_corpus's generator (same seed, same papers)."""
    import numpy as np
    from make_scale_corpus import SOURCE, load_pools, synthetic_papers_with_sources

    row_of, cached = real_vectors()
    pools = load_pools(SOURCE)
    rows = np.array([row_of[i] for i in pools.ids])
    out: dict[str, Any] = {}
    for paper, sources in synthetic_papers_with_sources(pools, count, seed):
        mean = cached[rows[sources]].mean(axis=0)
        out[str(paper["id"])] = (mean / np.linalg.norm(mean)).astype(np.float32)
    return out


def vector_for(args: argparse.Namespace) -> Any:
    """A function arxiv id -> vector, by --vectors."""
    import numpy as np

    if args.vectors == "random":  # seeded per id: for tests without the vector cache

        def random_vector(arxiv_id: str) -> Any:
            rng = np.random.default_rng(zlib.crc32(arxiv_id.encode()))
            vector = rng.standard_normal(384).astype(np.float32)
            return vector / np.linalg.norm(vector)

        return random_vector
    if args.synthetic:
        return derived_vectors(args.n, args.seed).__getitem__
    row_of, cached = real_vectors()
    return lambda arxiv_id: cached[row_of[arxiv_id]]


def load_vectors(service: Any, vector: Any) -> tuple[int, list[str], float, float]:
    """Every stored paper's vector into the data directory through the bulk path
    (SemanticIndex.load_precomputed's two halves, timed apart): returns the count, the ids
    (for the similar-paper sample), the seconds writing embedding rows and the seconds
    building and saving the vector index."""
    import numpy as np

    ids = [row[0] for rows in service.store.iter_rows() for row in rows]
    matrix = np.stack([vector(i) for i in ids]).astype(np.float32)
    semantic = service.semantic_index
    start = time.perf_counter()
    kept = semantic.store_precomputed(ids, matrix)
    stored = time.perf_counter() - start
    semantic.index_precomputed(kept, matrix)
    return len(kept.ids), ids, stored, time.perf_counter() - start - stored


def step_vectors(args: argparse.Namespace) -> dict[str, Any]:
    from paperwire.service import Service

    start = time.perf_counter()
    vector = vector_for(args)
    prepared = time.perf_counter() - start
    with Service(settings_for(args.data_dir)) as service:
        count, ids, inserted, built = load_vectors(service, vector)
    sample = random.Random(args.seed + 1).sample(ids, min(args.similar, len(ids)))
    (args.data_dir / "bench_scale_similar.json").write_text(json.dumps(sample))
    return {"prepare_s": prepared, "insert_s": inserted, "index_s": built, "count": count}


def query_set(count: int, seed: int) -> list[str]:
    """Seeded queries drawn from the real papers: pasted titles, abstract phrases, topics."""
    from bench_search_speed import CORPUS, load_records, sample_queries

    queries = sample_queries(load_records(CORPUS), count, seed)
    return [q for q in queries if q]


def percentiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return ordered[len(ordered) // 2] if len(ordered) % 2 else (
        (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    ), p95


def timed_ms(call: Any, *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def block_times(runs: dict[str, tuple[Any, list[Any]]], rounds: int = 3) -> dict[str, list[float]]:
    """ms of each call per item, median over `rounds`. Each kind runs all its items in a
    row (in a rotated order of kinds each round): interleaving lexical right after hybrid
    times lexical against onnxruntime's threads still spinning on a 2-core machine."""
    kinds = list(runs)
    seen: dict[str, list[list[float]]] = {k: [[] for _ in runs[k][1]] for k in kinds}
    for r in range(rounds):
        for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            call, items = runs[kind]
            for n, item in enumerate(items):
                seen[kind][n].append(timed_ms(call, item))
    return {k: [statistics.median(ms) for ms in per] for k, per in seen.items()}


def step_service(args: argparse.Namespace) -> dict[str, Any]:
    from paperwire.service import Service

    queries = query_set(args.queries, args.seed)
    similar = json.loads((args.data_dir / "bench_scale_similar.json").read_text())
    with Service(settings_for(args.data_dir)) as service:
        first = timed_ms(service.search, queries[0], per_page=10, mode="hybrid") / 1000
        for q in queries[:10]:  # warm: caches and code paths, untimed
            service.search(q, per_page=10, mode="lexical")
            service.search(q, per_page=10, mode="hybrid")
        service.similar(similar[0], k=10)
        times = block_times(
            {
                "lexical": (lambda q: service.search(q, per_page=10, mode="lexical"), queries),
                "hybrid": (lambda q: service.search(q, per_page=10, mode="hybrid"), queries),
                "similar": (lambda i: service.similar(i, k=10), similar),
            }
        )
    out: dict[str, Any] = {"first_s": first, "queries": len(queries)}
    for name, ms in times.items():
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = percentiles(ms)
    return out


STEPS = {
    "import": step_import,
    "rebuild": step_rebuild,
    "vectors": step_vectors,
    "service": step_service,
}


def run_step(name: str, args: argparse.Namespace, data_dir: Path, **extra: Any) -> dict[str, Any]:
    """One step in a fresh interpreter; its result and its own peak RSS (MB)."""
    command = [
        sys.executable, str(Path(__file__)), "--step", name, "--data-dir", str(data_dir),
        "--corpus", str(args.corpus), "--n", str(args.n), "--seed", str(args.seed),
        "--vectors", args.vectors, "--queries", str(args.queries),
        "--similar", str(args.similar),
    ]  # fmt: skip
    if args.synthetic:
        command.append("--synthetic")
    if extra.get("indexed"):
        command.append("--indexed")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(HERE)])}
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"step {name} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    print(f"  N={args.n:,} {name}: {result['wall_s']:.1f}s wall", file=sys.stderr, flush=True)
    return result


def child_main(args: argparse.Namespace) -> None:
    result = STEPS[args.step](args)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# -- the HTTP step: `paperwire serve` in its own process --------------------------------


def tree_status_mb(pid: int, *fields: str) -> list[float]:
    """Sums over the process and its children (uvicorn workers) of /proc status `fields`
    (VmHWM: peak RSS, VmRSS: RSS now), MB, in the order asked for."""
    import psutil

    totals = dict.fromkeys(fields, 0.0)
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    for proc in procs:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            name, _, value = line.partition(":")
            if name in totals:
                totals[name] += int(value.split()[0]) / 1024
    return list(totals.values())


def step_serve(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    from urllib.parse import quote

    from bench_web import Loopback, serve

    queries = query_set(args.queries, args.seed)
    start = time.perf_counter()
    url, server = serve(settings_for(data_dir))
    try:
        client = Loopback(url)
        status = client.get(f"/api/v1/search?q={quote(queries[0])}")
        if status != 200:
            raise SystemExit(f"/api/v1/search answered {status}")
        first = time.perf_counter() - start
        for q in queries[:10]:
            client.get(f"/api/v1/search?q={quote(q)}")
        times = block_times(
            {
                mode: (client.get, [f"/api/v1/search?q={quote(q)}&mode={mode}" for q in queries])
                for mode in ("hybrid", "lexical")
            }
        )
        (rss,) = tree_status_mb(server.pid, "VmHWM")
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "first_s": first,
        "http_hybrid_p50_ms": percentiles(times["hybrid"])[0],
        "http_lexical_p50_ms": percentiles(times["lexical"])[0],
        "rss_mb": rss,
    }


# -- one size --------------------------------------------------------------------------


def corpus_for(n: int, args: argparse.Namespace) -> tuple[Path, bool]:
    """The corpus file of size n and whether it is synthetic (made once, then kept)."""
    from bench_search_speed import CORPUS

    if n == REAL_SIZE and not args.synthetic_only:
        return CORPUS, False
    path = args.work_dir / f"scale-{n}.jsonl.xz"
    if not path.exists():
        print(f"  making {path} ...", file=sys.stderr, flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "make_scale_corpus.py"), "--papers", str(n),
             "--out", str(path), "--seed", str(args.seed)],
            check=True,
        )  # fmt: skip
    return path, True


def sqlite_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("paperwire.db*") if p.is_file())


ALL_STEPS = ("import", "rebuild", "indexed", "vectors", "service", "serve")


def measure_size(n: int, args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """Run `args.steps` at size `n`; figures of steps not run come from `base` (a row of an
    earlier --json run, named in the row's "base"), and their data dir must be there."""
    args.n = n
    args.corpus, args.synthetic = corpus_for(n, args)
    store_dir = args.work_dir / f"data-{n}"
    steps = args.steps = [s for s in ALL_STEPS if s in args.steps]
    row: dict[str, Any] = dict(base) | {"n": n, "vectors": vector_label(args), "steps": steps}
    if len(steps) < len(ALL_STEPS):
        row["base"] = " ".join(str(p) for p in args.base)
    if steps == list(ALL_STEPS):
        shutil.rmtree(store_dir, ignore_errors=True)
    elif not (store_dir / "paperwire.db").exists():
        raise SystemExit(f"{store_dir} has no store: run every step once first")
    walls = dict(row.get("step_wall_s", {}))
    for step in steps:
        start = time.perf_counter()
        row |= SIZE_STEPS[step](args, store_dir, n)
        walls[step] = time.perf_counter() - start
    row["step_wall_s"] = walls
    row["db_bytes_per_paper"] = sqlite_bytes(store_dir) / n
    return row


def size_import(args: argparse.Namespace, store_dir: Path, n: int) -> dict[str, Any]:
    """Store-only import: into `store_dir` when every step runs (the later ones use it),
    else into a throwaway dir, so the kept data dir (index, vectors) stays as it was."""
    full = args.steps == list(ALL_STEPS)
    into = store_dir if full else args.work_dir / f"data-{n}-import"
    shutil.rmtree(into, ignore_errors=True)
    imported = run_step("import", args, into)
    out = rate("import_store", imported, n) | {"papers": imported["new"]}
    out["db_mb"] = sqlite_bytes(into) / MB
    if not full and not args.keep:
        shutil.rmtree(into, ignore_errors=True)
    return out


def size_rebuild(args: argparse.Namespace, store_dir: Path, n: int) -> dict[str, Any]:
    rebuilt = run_step("rebuild", args, store_dir)
    index_bytes = dir_bytes(store_dir / "index" / "lexical")
    return {
        "index_build_s": rebuilt["seconds"], "index_build_rss_mb": rebuilt["rss_mb"],
        "index_mb": index_bytes / MB, "index_bytes_per_paper": index_bytes / n,
    }  # fmt: skip


def size_indexed(args: argparse.Namespace, store_dir: Path, n: int) -> dict[str, Any]:
    indexed_dir = args.work_dir / f"data-{n}-indexed"
    shutil.rmtree(indexed_dir, ignore_errors=True)
    indexed = run_step("import", args, indexed_dir, indexed=True)
    if not args.keep:
        shutil.rmtree(indexed_dir, ignore_errors=True)
    return rate("import_indexed", indexed, n)


def size_vectors(args: argparse.Namespace, store_dir: Path, n: int) -> dict[str, Any]:
    loaded = run_step("vectors", args, store_dir)
    return {
        "vector_insert_s": loaded["insert_s"], "vector_index_s": loaded["index_s"],
        "vector_index_mb": dir_bytes(store_dir / "index" / "vectors") / MB,
        "vectors_rss_mb": loaded["rss_mb"], "db_vectors_mb": sqlite_bytes(store_dir) / MB,
    }  # fmt: skip


def size_service(args: argparse.Namespace, store_dir: Path, n: int) -> dict[str, Any]:
    searched = run_step("service", args, store_dir)
    row = {k: v for k, v in searched.items() if k.endswith("_ms")}
    return row | {"service_first_s": searched["first_s"], "service_rss_mb": searched["rss_mb"]}


def size_serve(args: argparse.Namespace, store_dir: Path, n: int) -> dict[str, Any]:
    served = step_serve(args, store_dir)
    row = {k: v for k, v in served.items() if k.startswith("http_")}
    return row | {"serve_first_s": served["first_s"], "serve_rss_mb": served["rss_mb"]}


SIZE_STEPS = {
    "import": size_import, "rebuild": size_rebuild, "indexed": size_indexed,
    "vectors": size_vectors, "service": size_service, "serve": size_serve,
}  # fmt: skip


def rate(prefix: str, result: dict[str, Any], n: int) -> dict[str, Any]:
    if result["new"] != n:
        raise SystemExit(f"{prefix}: imported {result['new']:,} papers, expected {n:,}")
    return {
        f"{prefix}_s": result["seconds"],
        f"{prefix}_pps": n / result["seconds"],
        f"{prefix}_rss_mb": result["rss_mb"],
    }


def vector_label(args: argparse.Namespace) -> str:
    if args.vectors == "random":
        return "random (seeded)"
    return "derived" if args.synthetic else "real"


# -- main ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=f"{REAL_SIZE},300000,1000000", help="N, comma list")
    parser.add_argument(
        "--work-dir", type=Path, default=BENCH_DATA / "scale",
        help="corpora and data dirs (default $PAPERWIRE_BENCH_DATA/scale, as cache_vectors.py)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--seed", type=int, default=0, help="corpus and query seed")
    parser.add_argument("--queries", type=int, default=60, help="sampled queries (+20 topics)")
    parser.add_argument("--similar", type=int, default=50, help="papers for similar timings")
    parser.add_argument(
        "--vectors", choices=["cached", "random"], default="cached",
        help="cached: real vectors (derived ones for synthetic papers) from cache_vectors.py; "
        "random: seeded random unit vectors (no cache needed; speed only)",
    )  # fmt: skip
    parser.add_argument("--synthetic-only", action="store_true", help="synthetic even at 74,728")
    parser.add_argument("--keep", action="store_true", help="keep the indexed-import data dir")
    parser.add_argument(
        "--steps", type=lambda v: v.split(","), default=list(ALL_STEPS),
        help=f"comma list of steps to run (default all: {','.join(ALL_STEPS)}); the others' "
        "figures come from --base, and their data dir under --work-dir must exist",
    )  # fmt: skip
    parser.add_argument(
        "--base", type=Path, nargs="+", metavar="JSON",
        help="earlier --json runs: figures of the steps not run (a later file's N wins)",
    )  # fmt: skip
    parser.add_argument(
        "--combine", type=Path, nargs="+", metavar="JSON",
        help="measure nothing: print growth and goals over the sizes in these --json files",
    )  # fmt: skip
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    for hidden in ("--data-dir", "--corpus"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--indexed", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    models = BENCH_DATA / "models"
    if "PAPERWIRE_MODEL_DIR" not in os.environ and models.is_dir():
        os.environ["PAPERWIRE_MODEL_DIR"] = str(models)  # the prepared model, shared
    if args.step:
        child_main(args)
        return
    sys.path[:0] = [str(HERE), str(ROOT / "src")]
    if args.combine:
        rows = combined(args.combine)
    else:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        unknown = set(args.steps) - set(ALL_STEPS)
        if unknown:
            raise SystemExit(f"unknown steps: {', '.join(sorted(unknown))}")
        bases = {r["n"]: r for r in combined(args.base, show=False)} if args.base else {}
        if len(args.steps) < len(ALL_STEPS) and not args.base:
            raise SystemExit("--steps without every step needs --base (the others' figures)")
        rows = []
        for n in sorted(int(s) for s in args.sizes.split(",")):
            rows.append(measure_size(n, args, bases.get(n, {})))
            print_size(rows[-1])
    table = growth(rows)
    if len(rows) > 1:
        print_growth(rows, table)
    results = goals(rows, table)
    print_goals(results)
    if args.json:
        args.json.write_text(json.dumps({"sizes": rows, "growth": table, "goals": results}))


if __name__ == "__main__":
    main()
