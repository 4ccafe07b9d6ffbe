"""Tune the BM25 title boost on BEIR SciFact *train* qrels; report test for each value.

Builds a paperwire LexicalIndex over the 5,183 SciFact abstracts (title -> title field,
text -> abstract field) and runs each claim as free text. Metrics by ir-measures.

    PYTHONPATH=src .venv/bin/python benchmarks/tune_lexical.py [--boosts 1,1.5,2,3] \
        [--arxiv-index DATA_DIR/index/lexical]

With --arxiv-index (an index of the 74,728-paper corpus, e.g. the one
bench_search_speed.py builds), also a known-item check: 300 titles and 300 abstract
sentences (seed 3) as queries, MRR@10 of the paper they came from.
"""

from __future__ import annotations

import argparse
import csv
import json
import lzma
import random
import re
import tempfile
from pathlib import Path

import ir_measures
from ir_measures import R, nDCG

from paperwire.models import Paper
from paperwire.search.lexical import LexicalIndex

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared/data/beir_scifact"


def load_qrels(split: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return qrels


def build_index(path: Path) -> LexicalIndex:
    index = LexicalIndex(path)
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    index.upsert([Paper(arxiv_id=d["_id"], title=d["title"], abstract=d["text"]) for d in docs])
    return index


def run(index: LexicalIndex, queries: dict[str, str], ids: set[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for qid in ids:
        query = index.free_text_query([queries[qid]])
        hits = index.search(query, limit=100).ids if query is not None else []
        out[qid] = dict(hits)
    return out


def known_item_queries(n: int = 300, seed: int = 3) -> dict[str, list[tuple[str, str]]]:
    path = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    rng = random.Random(seed)
    titles = [(r["id"], r["title"]) for r in rng.sample(records, n)]
    sentences = []
    for r in rng.sample(records, n):
        parts = [
            p for p in re.split(r"(?<=[.!?])\s+", " ".join(r["summary"].split())) if len(p) > 40
        ]
        sentences.append((r["id"], rng.choice(parts) if parts else r["summary"][:200]))
    return {"title": titles, "sentence": sentences}


def mrr_at_10(index: LexicalIndex, pairs: list[tuple[str, str]]) -> float:
    total = 0.0
    for wanted, text in pairs:
        query = index.free_text_query([text])
        ranked = [i for i, _ in index.search(query, limit=10).ids] if query is not None else []
        total += 1 / (ranked.index(wanted) + 1) if wanted in ranked else 0.0
    return total / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boosts", default="0.25,0.5,0.75,1,1.5,2,3")
    parser.add_argument("--arxiv-index", type=Path)
    args = parser.parse_args()
    boosts = [float(b) for b in args.boosts.split(",")]
    if args.arxiv_index:
        arxiv = LexicalIndex(args.arxiv_index)
        pairs = known_item_queries()
        print(f"arXiv known item ({arxiv.num_docs:,} papers): MRR@10")
        print(f"{'title boost':>11} {'title query':>12} {'abstract sentence':>18}")
        for boost in boosts:
            arxiv.title_boost = boost
            cells = [mrr_at_10(arxiv, pairs[kind]) for kind in ("title", "sentence")]
            print(f"{boost:11.2f} {cells[0]:12.4f} {cells[1]:18.4f}")
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = {q["_id"]: q["text"] for q in map(json.loads, handle)}
    splits = {name: load_qrels(name) for name in ("train", "test")}
    with tempfile.TemporaryDirectory() as tmp:
        index = build_index(Path(tmp) / "lexical")
        print(
            f"{'title boost':>11} {'train nDCG@10':>14} {'train R@100':>12} "
            f"{'test nDCG@10':>13} {'test R@100':>11}"
        )
        for boost in boosts:
            index.title_boost = boost
            cells = []
            for qrels in splits.values():
                scores = ir_measures.calc_aggregate(
                    [nDCG @ 10, R @ 100], qrels, run(index, queries, set(qrels))
                )
                cells += [scores[nDCG @ 10], scores[R @ 100]]
            print(
                f"{boost:11.2f} {cells[0]:14.4f} {cells[1]:12.4f} {cells[2]:13.4f} {cells[3]:11.4f}"
            )


if __name__ == "__main__":
    main()
