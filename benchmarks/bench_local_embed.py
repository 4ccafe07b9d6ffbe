"""`paperwire embed` on one host: one process with every CPU as ONNX threads (the default)
against N model processes of one thread each (`--processes N`), on real papers through the
store, as docs/s; and the projected time for all of arXiv on one such host.

    PAPERWIRE_MODEL_DIR=… PYTHONPATH=src python benchmarks/bench_local_embed.py --papers 640

Each run imports the first --papers shared papers into a fresh SQLite store and embeds them
all; "steady" counts from the first saved batch to the last (processes started, models
loaded), "total" includes the start. Runs alternate (--rounds), medians are printed.
"""

from __future__ import annotations

import argparse
import itertools
import lzma
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from paperwire.config import Settings
from paperwire.search.embed import usable_cpus
from paperwire.service import Service

SHARED = Path(os.environ.get("PAPERWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ARXIV = SHARED / "data" / "arxiv_metadata" / "arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
ARXIV_SIZE = 2_700_000
Embed = Callable[[Service, Callable[[int], None]], int]


def run_once(subset: Path, batch: int, embed: Embed) -> tuple[int, float, float]:
    """(papers embedded, total s, steady docs/s) in a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=folder, embed_in_background=False, recommend_warm_up=False)
        with Service(settings) as service:
            service.import_snapshot(subset)
            saved: list[tuple[float, int]] = []
            done = 0

            def progress(count: int) -> None:
                nonlocal done
                done += count
                saved.append((time.perf_counter(), done))

            start = time.perf_counter()
            embedded = embed(service, progress)
            total = time.perf_counter() - start
    (first, at_first), (last, at_last) = saved[0], saved[-1]
    steady = (at_last - at_first) / (last - first) if last > first else 0.0
    return embedded, total, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=640, help="real papers per run")
    parser.add_argument("--batch", type=int, default=64, help="papers per saved batch")
    parser.add_argument("--processes", default="2", help="model process counts, comma list")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each (alternating)")
    args = parser.parse_args()
    cpus = usable_cpus()
    kinds: dict[str, Embed] = {
        f"1 process x {cpus} threads": lambda svc, p: svc.embed_pending(
            progress=p, batch=args.batch, threads=cpus
        ),
    }
    for n in (int(v) for v in args.processes.split(",")):
        kinds[f"{n} processes x 1 thread"] = lambda svc, p, n=n: svc.embed_in_processes(
            n, p, batch=args.batch
        )
    with tempfile.TemporaryDirectory() as folder:
        subset = Path(folder) / "subset.jsonl"
        with lzma.open(ARXIV, "rt", encoding="utf-8") as src, subset.open("w") as out:
            out.writelines(itertools.islice(src, args.papers))
        runs: dict[str, list[tuple[int, float, float]]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for name, embed in kinds.items():
                runs[name].append(run_once(subset, args.batch, embed))
    print(f"{args.papers} real papers, batch {args.batch}, {cpus} usable CPUs, "
          f"medians of {args.rounds} (load {os.getloadavg()[0]:.2f})")  # fmt: skip
    print(f"{'how':<26}{'embedded':>9}{'total s':>9}{'steady docs/s':>15}")
    best = 0.0
    for name, results in runs.items():
        steady = statistics.median(r[2] for r in results)
        best = max(best, steady)
        total = statistics.median(r[1] for r in results)
        print(f"{name:<26}{results[0][0]:>9}{total:>9.1f}{steady:>15.1f}")
    print(f"best: {ARXIV_SIZE:,} papers in {ARXIV_SIZE / best / 3600:.1f} h on one such host")


if __name__ == "__main__":
    main()
