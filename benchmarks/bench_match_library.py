"""Matching library files at corpus scale: Service.match_library over the 74,728-paper
arXiv corpus, for libraries of real papers exported as BibTeX (with ids, and with every
id removed so only titles match), CSL-JSON and a plain id list.

The corpus is imported once into --data-dir (kept between runs). Libraries are random
papers of the corpus (fixed --seed), in random order, plus 5% references to papers that
are not stored. Each row: median of --runs runs, wall clock, of the whole call (parse +
key refresh + lookups), and the share spent parsing. Also timed: building the title/DOI
keys of the whole corpus from scratch (`--rebuild-keys` empties paper_keys first: done
once after a migration), a refresh with nothing new, and, for comparison, what the
no-migration alternative costs per call (read every title and normalise it).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_match_library.py \\
        --data-dir /tmp/pw-bench [--rebuild-keys] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from paperwire.bibliography import parse_library, to_bibtex, to_csl_json
from paperwire.bibliography.entries import normalise_doi
from paperwire.bibliography.latex import title_key
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.service import Service
from paperwire.store.bibliography_tables import paper_keys
from paperwire.store.paper_keys import REFRESH_MARGIN, PaperKeys
from paperwire.store.schema import papers as papers_table

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared/data/arxiv_metadata/arxiv_daily_cs_2025-03-18_2026-07-01.jsonl.xz"
SIZES = (10, 100, 1000, 5000)


def median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def libraries(sample: list[Paper], missing: int) -> dict[str, tuple[bytes, str]]:
    ids = [p.arxiv_id for p in sample] + [f"2901.{n:05d}" for n in range(missing)]
    no_ids = re.sub(r"\n  (eprint|url|archivePrefix)\s*=.*", "", to_bibtex(sample))
    return {
        "BibTeX, ids": (to_bibtex(sample).encode(), "library.bib"),
        "BibTeX, titles only": (no_ids.encode(), "library.bib"),
        "CSL-JSON": (to_csl_json(sample), "library.json"),
        "id list": ("\n".join(f"arXiv:{i}" for i in ids).encode(), "ids.txt"),
    }


def settle(service: Service) -> None:
    """A refresh compares papers modified within REFRESH_MARGIN of the previous one: wait
    until a fresh import is older than that, as it is in steady use."""
    with service.store.engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(papers_table.c.modified_at))).scalar()
    if newest is None:
        return
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    wait = (REFRESH_MARGIN - (datetime.now(UTC) - newest)).total_seconds()
    if wait > 0:
        print(f"(waiting {wait:.0f} s: papers were imported less than {REFRESH_MARGIN} ago)")
        time.sleep(wait + 1)


def key_timings(service: Service, rebuild: bool, runs: int) -> list[tuple[str, float]]:
    keys = PaperKeys(service.store.engine)
    rows: list[tuple[str, float]] = []
    settle(service)
    if rebuild:
        with service.store.engine.begin() as conn:
            conn.execute(paper_keys.delete())
        start = time.perf_counter()
        built = keys.refresh(title_key, normalise_doi)
        rows.append((f"build keys of {built:,} papers (once)", time.perf_counter() - start))
    else:
        keys.refresh(title_key, normalise_doi)
    keys.refresh(title_key, normalise_doi)  # the first after `settle` moves the checkpoint
    rows.append(
        (
            "refresh, nothing new",
            median_seconds(lambda: keys.refresh(title_key, normalise_doi), runs),
        )
    )

    def scan() -> None:
        with service.store.engine.connect() as conn:
            titles = conn.execute(sa.select(papers_table.c.arxiv_id, papers_table.c.title)).all()
        {title_key(t): i for i, t in titles}

    rows.append(
        ("no-migration alternative: scan + key all titles", median_seconds(scan, max(1, runs // 2)))
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rebuild-keys", action="store_true")
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway embedded PostgreSQL"
    )
    args = parser.parse_args()
    url = None
    if args.postgres:
        from throwaway_postgres import new_database, start_server

        work = Path(tempfile.mkdtemp(prefix="bench-match-"))
        work.chmod(0o755)
        url = new_database(start_server(work), "bench_match")
    settings = Settings(
        data_dir=args.data_dir, database_url=url, index_on_ingest=False, library_max_bytes=10**9
    )
    with Service(settings) as service:
        if service.store.count_papers() == 0:
            service.import_snapshot(CORPUS)
        corpus = [p for batch in service.store.iter_papers() for p in batch if not p.deleted]
        print(f"corpus: {len(corpus):,} papers ({service.store.dialect})\n")
        print(f"{'keys':<52} {'seconds':>9}")
        for name, seconds in key_timings(service, args.rebuild_keys, args.runs):
            print(f"{name:<52} {seconds:>9.3f}")
        rng = random.Random(args.seed)
        print(
            f"\n{'library':<22} {'entries':>7} {'matched':>7} {'median s':>9} {'parse %':>8} {'ms/entry':>9}"
        )
        for size in SIZES:
            sample = rng.sample(corpus, size)
            for name, (data, filename) in libraries(sample, max(1, size // 20)).items():
                result = service.match_library(data, filename)
                assert (
                    result.matched == [p.arxiv_id for p in sample][: len(result.matched)]
                    or name == "BibTeX, titles only"
                )
                total = median_seconds(
                    lambda d=data, f=filename: service.match_library(d, f), args.runs
                )
                parse = median_seconds(
                    lambda d=data, f=filename: parse_library(d, f, 10**9), args.runs
                )
                print(
                    f"{name:<22} {result.entries:>7} {len(result.matched):>7} {total:>9.3f} "
                    f"{100 * parse / total:>7.0f}% {1000 * total / result.entries:>9.2f}"
                )
        print(json.dumps({"runs": args.runs, "seed": args.seed}))


if __name__ == "__main__":
    main()
