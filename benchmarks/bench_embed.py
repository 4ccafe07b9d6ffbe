"""Embedding throughput: docs/s by ONNX threads, batch size and length bucketing.

    python benchmarks/bench_embed.py                      # CPU, 256 real arXiv abstracts
    python benchmarks/bench_embed.py --device cuda        # on a GPU host (paperwire[gpu])
    python benchmarks/bench_embed.py --docs 2000 --threads 1,4,16 --batches 1,32,128

Batches are padded to their own longest text (dynamic padding); "bucketed" sorts texts by
token length first so a batch holds similar lengths (the way `paperwire embed` runs).
Every row is checked against CPU vectors computed one text per run (the stored vectors):
the int8 model quantises each run's activations together, so batching moves vectors a
little; `min cos` says how far. The last line projects the best rate to all of arXiv.
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import os
import statistics
import time
from pathlib import Path

import numpy as np

from paperwire.search.embed import Embedder, document_text, usable_cpus

SHARED = Path(os.environ.get("PAPERWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ARXIV = SHARED / "data" / "arxiv_metadata" / "arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
MODELS = Path(os.environ.get("PAPERWIRE_BENCH_DATA", "/work/bench-data")) / "models"
ARXIV_SIZE = 2_700_000


def first_docs(count: int) -> list[str]:
    """The first `count` real abstracts (title + abstract), streamed from the shared file."""
    docs: list[str] = []
    with lzma.open(ARXIV, "rt", encoding="utf-8") as handle:
        for line in itertools.islice(handle, count):
            record = json.loads(line)
            docs.append(document_text(record["title"], record["summary"]))
    return docs


def ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def timed(
    embedder: Embedder, docs: list[str], bucketed: bool, repeats: int
) -> tuple[float, np.ndarray]:
    """Median docs/s over `repeats` runs, and the vectors of the last run."""
    embedder.embed(docs[:8], sort_by_length=bucketed)  # warm up (allocations, kernels)
    rates = []
    vectors = np.zeros(0)
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = embedder.embed(docs, sort_by_length=bucketed)
        rates.append(len(docs) / (time.perf_counter() - start))
    return statistics.median(rates), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--docs", type=int, default=256, help="abstracts per run")
    parser.add_argument(
        "--threads", default=f"1,{usable_cpus()}", help="ONNX intra-op threads, comma-separated"
    )
    parser.add_argument("--batches", default="1,16,64", help="texts per model run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per row (median)")
    args = parser.parse_args()

    docs = first_docs(args.docs)
    reference = Embedder(cache_dir=MODELS, threads=usable_cpus(), device="cpu").embed(docs)
    print(f"{len(docs)} docs, device {args.device}, {usable_cpus()} usable CPUs")
    print(f"{'device':>6} {'threads':>7} {'batch':>5} {'bucketed':>8} {'docs/s':>8} {'min cos':>8}")
    best = 0.0
    for threads in sorted(set(ints(args.threads))):
        embedder = Embedder(cache_dir=MODELS, threads=threads, device=args.device)
        for batch in ints(args.batches):
            embedder.batch_size = batch
            for bucketed in [True] if batch == 1 else [True, False]:
                rate, vectors = timed(embedder, docs, bucketed, args.repeats)
                cosine = float(np.einsum("ij,ij->i", vectors, reference).min())
                best = max(best, rate)
                print(
                    f"{embedder.device:>6} {threads:>7} {batch:>5} {'yes' if bucketed else 'no':>8} "
                    f"{rate:>8.1f} {cosine:>8.5f}"
                )
    hours = ARXIV_SIZE / best / 3600 if best else float("inf")
    print(f"best {best:.1f} docs/s: {ARXIV_SIZE:,} papers in {hours:.1f} h on one such host")


if __name__ == "__main__":
    main()
