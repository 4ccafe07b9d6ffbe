"""A reproducible synthetic arXiv corpus of N papers, built from the 74,728 shared real ones.

    python benchmarks/make_scale_corpus.py --papers 300000 --out /work/scratch-x/scale-300k.jsonl.xz
    paperwire import /work/scratch-x/scale-300k.jsonl.xz

Each paper gets a new id in the arXiv scheme (YYMM.NNNN before 2015, YYMM.NNNNN after), a
listing date spread over 2007-01 .. 2026-06 with a density growing linearly (as arXiv's
monthly submissions did), a title spliced from the two halves of two real titles, an
abstract whose sentences come from real abstracts at the same position (first sentence from
first sentences, ..., the number of sentences copied from a real abstract), the category
list of a real paper and as many real authors (drawn by how often each wrote) as a real
paper has. Term statistics so stay close to the real corpus'.

The output (daily-listing JSON lines, the format `paperwire import` reads) is written as it
is generated: memory holds the real pools (~0.3 GB), never the N papers. The same --seed
and source give the same file.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO

SHARED = Path(os.environ.get("PAPERWIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SOURCE = SHARED / "data" / "arxiv_metadata" / "arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
FIRST_DAY = date(2007, 1, 1)
LAST_DAY = date(2026, 6, 30)
POSITIONS = 4  # sentence pools: first, second, middle, last
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass
class Pools:
    """What synthetic papers are drawn from: pieces of the real ones."""

    ids: list[str] = field(default_factory=list)  # of the real papers, in file order
    title_heads: list[str] = field(default_factory=list)
    title_tails: list[str] = field(default_factory=list)
    sentences: list[list[str]] = field(default_factory=lambda: [[] for _ in range(POSITIONS)])
    # the real paper (index in file order) each pooled sentence came from
    sentence_sources: list[list[int]] = field(
        default_factory=lambda: [[] for _ in range(POSITIONS)]
    )
    sentence_counts: list[int] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    author_counts: list[int] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)  # one entry per authorship


def _position(index: int, count: int) -> int:
    if index == count - 1 and count > 1:
        return 3
    return min(index, 2)


def split_title(title: str) -> tuple[str, str]:
    """A title's head and tail: at a colon when it has one, else at its middle word."""
    if ": " in title:
        head, tail = title.split(": ", 1)
        return head + ":", tail
    words = title.split()
    middle = max(1, len(words) // 2)
    return " ".join(words[:middle]), " ".join(words[middle:])


def load_pools(source: Path) -> Pools:
    pools = Pools()
    with lzma.open(source, "rt", encoding="utf-8") as handle:
        for row, line in enumerate(handle):
            record = json.loads(line)
            pools.ids.append(record["id"])
            head, tail = split_title(" ".join(record["title"].split()))
            pools.title_heads.append(head)
            pools.title_tails.append(tail)
            sentences = SENTENCE.split(" ".join(record["summary"].split()))
            pools.sentence_counts.append(len(sentences))
            for n, sentence in enumerate(sentences):
                pools.sentences[_position(n, len(sentences))].append(sentence)
                pools.sentence_sources[_position(n, len(sentences))].append(row)
            pools.categories.append(list(record["categories"]))
            pools.author_counts.append(len(record["authors"]))
            pools.authors.extend(record["authors"])
    return pools


class IdMaker:
    """arXiv-scheme ids, numbered per month in the order papers are made; a month that is
    full (9,999 before 2015, 99,999 after) passes its papers to the next month."""

    def __init__(self) -> None:
        self.used: dict[tuple[int, int], int] = {}

    def make(self, day: date) -> str:
        year, month = day.year, day.month
        while True:
            width = 4 if year < 2015 else 5
            number = self.used.get((year, month), 0) + 1
            if number < 10**width:
                self.used[(year, month)] = number
                return f"{year % 100:02d}{month:02d}.{number:0{width}d}"
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def synthetic_papers_with_sources(
    pools: Pools, count: int, seed: int
) -> Iterator[tuple[dict[str, object], list[int]]]:
    """Each synthetic paper with its provenance: the real papers (indices in file order)
    its title head, title tail and abstract sentences were taken from, in that order.
    (randrange(n) draws exactly as choice() of n items does, so files written before
    provenance was recorded are the same files.)"""
    rng = random.Random(seed)
    span = (LAST_DAY - FIRST_DAY).days
    ids = IdMaker()
    titles = len(pools.title_heads)
    for _ in range(count):
        day = FIRST_DAY + timedelta(days=int(span * rng.random() ** 0.5))  # linear growth
        sentence_count = rng.choice(pools.sentence_counts)
        picks = []
        for n in range(sentence_count):
            position = _position(n, sentence_count)
            picks.append((position, rng.randrange(len(pools.sentences[position]))))
        abstract = " ".join(pools.sentences[position][k] for position, k in picks)
        head, tail = rng.randrange(titles), rng.randrange(titles)
        paper: dict[str, object] = {
            "id": ids.make(day),
            "title": f"{pools.title_heads[head]} {pools.title_tails[tail]}".strip(),
            "authors": [rng.choice(pools.authors) for _ in range(rng.choice(pools.author_counts))],
            "categories": rng.choice(pools.categories),
            "summary": abstract,
            "listing_date": day.isoformat(),
        }
        sources = [head, tail] + [pools.sentence_sources[p][k] for p, k in picks]
        yield paper, sources


def synthetic_papers(pools: Pools, count: int, seed: int) -> Iterator[dict[str, object]]:
    for paper, _ in synthetic_papers_with_sources(pools, count, seed):
        yield paper


@contextmanager
def xz_writer(path: Path, preset: int) -> Iterator[IO[bytes]]:
    """A binary stream compressed to `path`: by the xz tool on every core when it is
    installed (the lzma module compresses on one core, slower than generating), else lzma."""
    if shutil.which("xz") is None:
        with lzma.open(path, "wb", preset=preset) as out:
            yield out
        return
    with path.open("wb") as target:
        xz = subprocess.Popen(
            ["xz", f"-{preset}", "-T0", "-c"], stdin=subprocess.PIPE, stdout=target
        )
        assert xz.stdin is not None
        try:
            yield xz.stdin
        finally:
            xz.stdin.close()
            if xz.wait() != 0:
                raise SystemExit(f"xz failed with status {xz.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Write a reproducible synthetic corpus of N arXiv-like papers (.jsonl.xz) "
        "made from the shared real records."
    )
    parser.add_argument("--papers", type=int, default=2_700_000, help="how many (N)")
    parser.add_argument("--out", type=Path, required=True, help="output file (.jsonl.xz)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    parser.add_argument("--source", type=Path, default=SOURCE, help="real records (.jsonl.xz)")
    parser.add_argument("--preset", type=int, default=0, help="xz preset (0 fastest .. 9)")
    args = parser.parse_args()

    start = time.perf_counter()
    pools = load_pools(args.source)
    loaded = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial")
    with xz_writer(partial, args.preset) as out:
        lines: list[str] = []
        for n, paper in enumerate(synthetic_papers(pools, args.papers, args.seed), 1):
            lines.append(json.dumps(paper, ensure_ascii=False))
            if n % 2000 == 0:
                out.write(("\n".join(lines) + "\n").encode())
                lines = []
            if n % 100_000 == 0:
                print(f"{n:,} papers", file=sys.stderr)
        if lines:
            out.write(("\n".join(lines) + "\n").encode())
    partial.replace(args.out)  # a killed run leaves no truncated corpus behind
    seconds = time.perf_counter() - start
    size = args.out.stat().st_size
    print(
        f"{args.papers:,} papers from {len(pools.title_heads):,} real ones -> {args.out} "
        f"({size / 1e6:,.1f} MB) in {seconds:.1f}s (pools {loaded:.1f}s, "
        f"{args.papers / max(seconds - loaded, 1e-9):,.0f} papers/s)"
    )


if __name__ == "__main__":
    main()
