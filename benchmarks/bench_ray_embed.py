"""Embedding backfill on Ray: docs/s with 1 and 2 worker processes on this machine, and the
projected wall time for all of arXiv on k such nodes.

    python benchmarks/bench_ray_embed.py --papers 192 --workers 1,2

For each worker count a fresh local cluster is started (`ray start --head --num-cpus W`),
the first N shared real papers are imported into a fresh SQLite store, and
`Service.embed_on_ray` embeds them in batches of --batch. "steady" counts from the first
saved batch to the last (actors started and models prepared); "total" includes the start.
Stops the cluster (`ray stop`) after each run.
"""

from __future__ import annotations

import argparse
import itertools
import lzma
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from paperwire.config import Settings
from paperwire.service import Service

SHARED = Path(os.environ.get("PAPERWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ARXIV = SHARED / "data" / "arxiv_metadata" / "arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
ARXIV_SIZE = 2_700_000
RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_once(workers: int, subset: Path, batch: int) -> tuple[int, float, float]:
    """(papers embedded, total seconds, steady docs/s) on a fresh cluster of `workers` CPUs."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    subprocess.run(
        [RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", str(workers), "--include-dashboard", "false", "--disable-usage-stats",
         "--object-store-memory", str(100 * 2**20)],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as folder, Service(Settings(data_dir=folder)) as svc:
            svc.import_snapshot(subset)
            saved: list[float] = []
            start = time.perf_counter()
            report = svc.embed_on_ray(
                f"127.0.0.1:{port}",
                lambda n: saved.append(time.perf_counter()),
                batch=batch,
                workers=workers,
            )
            total = time.perf_counter() - start
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
    steady = (report.embedded - batch) / (saved[-1] - saved[0]) if len(saved) > 1 else 0.0
    return report.embedded, total, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=192)
    parser.add_argument("--workers", default="1,2", help="worker processes per run")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        subset = Path(folder) / "subset.jsonl"
        with lzma.open(ARXIV, "rt", encoding="utf-8") as src, subset.open("w") as out:
            out.writelines(itertools.islice(src, args.papers))
        print(f"{args.papers} real papers, batch {args.batch}, {os.cpu_count()} CPUs here")
        print(f"{'workers':>7} {'embedded':>8} {'total s':>8} {'steady docs/s':>13}")
        rates = {}
        for workers in [int(w) for w in args.workers.split(",")]:
            embedded, total, steady = run_once(workers, subset, args.batch)
            rates[workers] = steady
            print(f"{workers:>7} {embedded:>8} {total:>8.1f} {steady:>13.1f}")
    best = max(rates.values())
    for nodes in (1, 4, 16, 64):
        hours = ARXIV_SIZE / (best * nodes) / 3600
        print(f"projected: {ARXIV_SIZE:,} papers on {nodes:>2} such node(s): {hours:,.1f} h")


if __name__ == "__main__":
    main()
