"""Embed a corpus into a resumable on-disk cache of .npy chunks (for the benchmarks).

    python benchmarks/cache_vectors.py arxiv  # 74,728 arXiv abstracts, shuffled order (seed 0)
    python benchmarks/cache_vectors.py scifact

Vectors live under $PAPERWIRE_BENCH_DATA/semantic/<model id>/ (default /work/bench-data).

Each chunk is written atomically, so a killed run resumes at the next missing chunk; because
the order is a fixed shuffle, any finished prefix is a uniform random sample of the corpus.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import time
from pathlib import Path

import numpy as np

from paperwire.search.embed import MODEL_ID, Embedder, document_text

SHARED = Path(os.environ.get("PAPERWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATA = SHARED / "data"
BENCH_DATA = Path(os.environ.get("PAPERWIRE_BENCH_DATA", "/work/bench-data"))
CACHE = BENCH_DATA / "semantic" / MODEL_ID  # vectors of one model never mix with another's
MODELS = BENCH_DATA / "models"  # the prepared ONNX model
ARXIV = DATA / "arxiv_metadata" / "arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
SCIFACT = DATA / "beir_scifact" / "corpus.jsonl"
CHUNK = 512


def arxiv_docs() -> list[tuple[str, str]]:
    with lzma.open(ARXIV, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    docs = [(r["id"], document_text(r["title"], r["summary"])) for r in rows]
    random.Random(0).shuffle(docs)
    return docs


def scifact_docs() -> list[tuple[str, str]]:
    with SCIFACT.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [(r["_id"], document_text(r["title"], r["text"])) for r in rows]


def cache_dir(name: str) -> Path:
    return CACHE / name


def load_cached(name: str) -> tuple[list[str], np.ndarray]:
    """Ids and vectors of every finished chunk, in corpus order."""
    folder = cache_dir(name)
    ids: list[str] = []
    parts: list[np.ndarray] = []
    for path in sorted(folder.glob("chunk_*.npy")):
        parts.append(np.load(path))
        ids.extend(path.with_suffix(".ids").read_text().split("\n"))
    if not parts:
        return [], np.zeros((0, 384), dtype=np.float32)
    return ids, np.vstack(parts)


def build(name: str, docs: list[tuple[str, str]]) -> None:
    folder = cache_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(cache_dir=MODELS)
    done = 0
    started = time.perf_counter()
    for start in range(0, len(docs), CHUNK):
        path = folder / f"chunk_{start // CHUNK:05d}.npy"
        if path.exists():
            continue
        part = docs[start : start + CHUNK]
        vectors = embedder.embed([text for _, text in part])
        path.with_suffix(".ids").write_text("\n".join(doc_id for doc_id, _ in part))
        tmp = folder / f".tmp_{path.name}"
        with tmp.open("wb") as handle:
            np.save(handle, vectors)
        os.replace(tmp, path)
        done += len(part)
        rate = done / (time.perf_counter() - started)
        print(f"{name}: chunk {start // CHUNK} done, {rate:.1f} docs/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Embed a benchmark corpus once into a resumable cache of vector chunks "
        f"under {CACHE} (set PAPERWIRE_BENCH_DATA to move it).",
    )
    parser.add_argument(
        "corpus",
        choices=("arxiv", "scifact"),
        help="arxiv: the 74,728 shared arXiv papers (about half an hour on 2 cores); "
        "scifact: the BEIR SciFact corpus (5,183 abstracts)",
    )
    which = parser.parse_args().corpus
    build(which, arxiv_docs() if which == "arxiv" else scifact_docs())


if __name__ == "__main__":
    main()
