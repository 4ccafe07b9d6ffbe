"""What a serving worker pays to stay current with the store, at any size (issue 15).

Opens --data-dir, a data dir with papers and vectors (e.g. bench_scale.py's
<work-dir>/data-1000000), and times:

1. fingerprint   EmbeddingStore.version and .coverage, which every worker reads every
                 few seconds, beside the joins they replaced (SQLite: the old SQL is run
                 here for comparison); median of 3, wall and CPU ms
2. sync          a full sync of the vector index (every live hash read) beside an
                 incremental one after a 64-vector batch. The batch saves 64 stored vectors
                 again, unchanged, so only their time moves: the data dir keeps its content
3. first refresh a new worker's first refresh from the saved files (stamped with the store
                 fingerprint they hold; a writer's refresh stamps older files first)
4. nothing new   what a worker's periodic checks cost when nothing changed: the lexical
                 catch-up (every 10 s) and the background embedder's look for pending papers
                 (every 30 s), beside the queries they replaced (SQLite: run here)
5. for-you       with --for-you: the recommender's corpus build in a child process each,
                 capped (the recommend_corpus_papers default) and with --uncapped over the
                 whole store: wall s, CPU s, the child's RSS before and after the build
                 and its peak (with --against DIR, DIR/src's build too)
6. serve idle    with --serve-idle S: `paperwire serve` with its default settings (the
                 background embedder, the recommender's warm-up) answering one lexical
                 search every 5 s; the CPU its processes use over S seconds, after
                 --serve-warm seconds of the same, and their summed peak and current RSS.
                 With --against DIR, DIR/src's serve too

    PYTHONPATH=src python benchmarks/bench_reader_sync.py --data-dir DIR [--for-you] [--uncapped]
        [--serve-idle 120 [--serve-warm 200] [--against /tmp/old]]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from bench_scale import tree_status_mb

from paperwire.config import Settings
from paperwire.search.semantic import SemanticIndex
from paperwire.service import Service

OLD_VERSION = (
    "SELECT count(*), max(embeddings.embedded_at) FROM papers JOIN embeddings "
    "ON papers.arxiv_id = embeddings.arxiv_id WHERE papers.deleted = 0 AND embeddings.model = :m"
)
OLD_COVERAGE = (
    "SELECT (SELECT count(*) FROM papers WHERE deleted = 0), (SELECT count(*) FROM papers "
    "JOIN embeddings ON papers.arxiv_id = embeddings.arxiv_id "
    "WHERE papers.deleted = 0 AND embeddings.model = :m)"
)
# The catch-up's read of papers modified since a time, paged by id (before 0.1's b4575cb)
OLD_CHANGED = (
    "SELECT arxiv_id, content_hash, deleted FROM papers WHERE arxiv_id > '' "
    "AND modified_at > :t ORDER BY arxiv_id LIMIT 5000"
)
ROOT = Path(__file__).resolve().parent.parent
SEARCHES = ("graph neural networks", "diffusion models", "reinforcement learning",
            "language model alignment", "point cloud", "speech recognition")  # fmt: skip


def settings_for(data_dir: Path, corpus_papers: int | None = None) -> Settings:
    extra: dict[str, Any] = {}
    if corpus_papers is not None:
        extra["recommend_corpus_papers"] = corpus_papers
    return Settings(data_dir=data_dir, embed_in_background=False, recommend_warm_up=False, **extra)


def timed(call: Callable[[], Any], rounds: int = 3) -> tuple[float, float]:
    """Median wall ms and CPU ms of `call` over `rounds`."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def row(name: str, wall_cpu: tuple[float, float]) -> None:
    print(f"  {name:<52}{wall_cpu[0]:>12,.1f}{wall_cpu[1]:>12,.1f}", flush=True)


def fingerprint(service: Service) -> None:
    semantic, _reason = service.search_engine.semantic()
    assert semantic is not None, "this data dir has no vector index (see bench_scale.py)"
    table, model = semantic.vectors_store, semantic.model_id
    print(f"\nfingerprint and coverage ({semantic.coverage()[1]:,} papers)")
    print(f"  {'':<52}{'wall ms':>12}{'CPU ms':>12}")
    row("EmbeddingStore.version (from indexes)", timed(lambda: table.version(model)))
    row("EmbeddingStore.coverage (from indexes)", timed(lambda: table.coverage(model)))
    if service.store.dialect == "sqlite":
        with service.store.engine.connect() as conn:
            for name, sql in (("version, the join it replaced", OLD_VERSION),
                              ("coverage, the joins it replaced", OLD_COVERAGE)):  # fmt: skip
                row(name, timed(lambda sql=sql: conn.execute(sa.text(sql), {"m": model}).all()))


def sync(service: Service) -> None:
    semantic, _reason = service.search_engine.semantic()
    assert semantic is not None
    from paperwire.search.vector_sync import full_sync

    table, model = semantic.vectors_store, semantic.model_id
    index = semantic.refresh(force=True)
    print(f"\nsyncing the vector index ({len(index):,} vectors)")
    print(f"  {'':<52}{'wall ms':>12}{'CPU ms':>12}")
    version = table.version(model)
    row(
        "full sync (every live hash read)",
        timed(lambda: full_sync(table, model, index, version), 1),
    )
    batch = list(table.vectors(model, sorted(index.hashes)[:64]))

    def after_batch() -> None:
        table.save(model, batch)  # the same vectors again: only their time moves
        start = (time.perf_counter(), time.process_time())
        semantic.refresh(force=True)
        spent.append(
            ((time.perf_counter() - start[0]) * 1000, (time.process_time() - start[1]) * 1000)
        )

    spent: list[tuple[float, float]] = []
    for _ in range(3):
        after_batch()
    walls, cpus = zip(*spent, strict=True)
    row(
        "incremental sync after a 64-vector batch",
        (statistics.median(walls), statistics.median(cpus)),
    )
    # A writer's first refresh stamps saved files that lack a fingerprint (older files).
    SemanticIndex(service.settings, service.store).refresh(force=True, save=True)


def first_refresh(data_dir: Path) -> None:
    with Service(settings_for(data_dir)) as service:
        semantic, _reason = service.search_engine.semantic()
        assert semantic is not None
        wall, cpu = time.perf_counter(), time.process_time()
        semantic.refresh(force=True)
        spent = ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
    print("\na new worker's first refresh from the saved files")
    row("load + sync from the files' fingerprint", spent)


def nothing_new(service: Service) -> None:
    semantic, _reason = service.search_engine.semantic()
    assert semantic is not None
    engine, table, model = service.search_engine, semantic.vectors_store, semantic.model_id
    recent = datetime.now(UTC) - timedelta(seconds=60)

    def catch_up() -> None:
        engine.lexical.synced_until = recent
        engine.catch_up()

    print("\nperiodic checks when nothing changed")
    print(f"  {'':<52}{'wall ms':>12}{'CPU ms':>12}")
    row("lexical catch-up (every 10 s)", timed(catch_up))
    row("pending papers modified lately (every 30 s)",
        timed(lambda: table.pending(model, 64, modified_since=recent)))  # fmt: skip
    row("pending papers, all (every 10 min)", timed(lambda: table.pending(model, 64), 1))
    if service.store.dialect == "sqlite":
        with service.store.engine.connect() as conn:
            at = recent.replace(tzinfo=None).isoformat(sep=" ")
            row("catch-up read paged by id, as it was",
                timed(lambda: conn.execute(sa.text(OLD_CHANGED), {"t": at}).all()))  # fmt: skip


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` and all its descendants so far (found as
    bench_scale.tree_status_mb finds them)."""
    import psutil

    total = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def serve_idle(data_dir: Path, tree: Path, warm: float, window: float) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PAPERWIRE_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "paperwire", "serve", "--host", "127.0.0.1", "--port"]
    server = subprocess.Popen([*command, str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)

        def trickle(seconds: float) -> None:
            end, n = time.monotonic() + seconds, 0
            while time.monotonic() < end:
                params = {"q": SEARCHES[n % len(SEARCHES)], "mode": "lexical"}
                httpx.get(f"{url}/api/v1/search", params=params, timeout=60).raise_for_status()
                n += 1
                time.sleep(5)

        trickle(warm)
        cpu, wall = tree_cpu_s(server.pid), time.monotonic()
        trickle(window)
        cpu, wall = tree_cpu_s(server.pid) - cpu, time.monotonic() - wall
        peak, now = tree_status_mb(server.pid, "VmHWM", "VmRSS")
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"  {tree!s:<40}{wall:>10.0f}{cpu:>10.1f}{cpu / wall * 100:>14.1f}"
          f"{peak:>10,.0f}{now:>10,.0f}", flush=True)  # fmt: skip


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def for_you_child(data_dir: Path, corpus_papers: int) -> None:
    with Service(settings_for(data_dir, corpus_papers)) as service:
        service.search("graph neural networks", per_page=10, mode="hybrid")  # a worker's state
        before = rss_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        service.for_you.warm_up()
        corpus = service.for_you.source.corpus()
        out = {
            "papers": len(corpus), "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "before_mb": before, "after_mb": rss_mb(),
        }  # fmt: skip
    print(json.dumps(out))


def for_you(data_dir: Path, uncapped: bool, trees: list[Path]) -> None:
    from paperwire.config import Settings as Defaults

    cap = Defaults.model_fields["recommend_corpus_papers"].default
    print("\nthe recommender's corpus build (a child process each; RSS before and after it,")
    print("and the process's peak)")
    print(f"  {'corpus':<24}{'tree':<16}{'papers':>9}{'wall s':>8}{'CPU s':>8}"
          f"{'RSS before':>11}{'after':>7}{'peak':>7}")  # fmt: skip
    sizes = [(f"capped at {cap:,}", cap), *([("whole store", 0)] if uncapped else [])]
    for (label, papers), tree in itertools.product(sizes, trees):
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(ROOT / "benchmarks")]),
        }
        done = subprocess.run(
            [sys.executable, __file__, "--data-dir", str(data_dir), "--child", str(papers)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        got = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {label:<24}{tree.name[:15]:<16}{got['papers']:>9,}{got['wall_s']:>8.1f}"
              f"{got['cpu_s']:>8.1f}{got['before_mb']:>11,.0f}{got['after_mb']:>7,.0f}"
              f"{got['rss_mb']:>7,.0f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="papers and vectors")
    parser.add_argument("--for-you", action="store_true", help="also time the recommender's corpus")
    parser.add_argument(
        "--uncapped", action="store_true", help="with --for-you: the whole store too"
    )
    parser.add_argument(
        "--serve-idle",
        type=float,
        metavar="S",
        help="also measure an idle `paperwire serve` over S seconds",
    )
    parser.add_argument(
        "--serve-warm",
        type=float,
        default=200.0,
        metavar="S",
        help="seconds of searches before --serve-idle's window (warm-up)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="with --serve-idle: also serve DIR/src (e.g. git archive)",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        for_you_child(args.data_dir, args.child)
        return
    with Service(settings_for(args.data_dir)) as service:
        fingerprint(service)
        sync(service)
        nothing_new(service)
    first_refresh(args.data_dir)
    if args.for_you:
        for_you(args.data_dir, args.uncapped, [ROOT, *([args.against] if args.against else [])])
    if args.serve_idle:
        print(f"\n`paperwire serve`, defaults, one lexical search every 5 s "
              f"(after {args.serve_warm:.0f} s of them)")  # fmt: skip
        print(f"  {'tree':<40}{'window s':>10}{'CPU s':>10}{'% of a core':>14}"
              f"{'peak MB':>10}{'RSS MB':>10}")  # fmt: skip
        for tree in [ROOT, *([args.against] if args.against else [])]:
            serve_idle(args.data_dir, tree, args.serve_warm, args.serve_idle)


if __name__ == "__main__":
    main()
