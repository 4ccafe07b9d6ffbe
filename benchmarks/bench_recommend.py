"""Recommendation quality and latency on the 74,728 real arXiv papers; prints tables.

    PYTHONPATH=src python benchmarks/bench_recommend.py [--authors 100] [--sizes 1,5,20,100]
        [--split test] [--cutoff 2026-04-01] [--skip-latency] [--data FILE]

The task: an author with many papers reads the site. Their `size` most recent papers
listed before the cut-off are their library; every paper listed on or after it is a
candidate (~20k); the relevant papers are that author's own later papers (all of them
co-authored, with anyone). Authors are matched by folded name (recommend.corpus.name_key).
Development authors (name hash % 3 == 0) chose paperwire's weights; the table reports the
other authors (--split test) unless asked otherwise.

Leakage: no system sees author names, except the row "paperwire + follows co-authors",
which follows the library's five most frequent co-authors (never the author themself), as
a reader who follows their collaborators would. It is favourable to us (co-authors'
papers are often the author's own), so the fair comparison is the text-only row.

Vectors: the MiniLM cache of benchmarks/cache_vectors.py (load_cached). While that cache
is incomplete the run keeps only papers that have a vector (a uniform sample) and says so.
Metrics: ranx (nDCG@10, Recall@50). Corpus features are cached under
$PAPERWIRE_BENCH_DATA/recommend (default /work/bench-data).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import pickle
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import bm25s
import numpy as np
from cache_vectors import ARXIV, BENCH_DATA, load_cached
from ranx import Qrels, Run, evaluate
from scipy.stats import ttest_rel
from sklearn.svm import LinearSVC

from paperwire.models import LibraryItem, ReaderSignals
from paperwire.recommend.corpus import (
    CorpusDoc,
    CorpusFeatures,
    IntArray,
    build_corpus,
    name_key,
    vector_matrix,
)
from paperwire.recommend.model import DEFAULT_CONFIG, ModelConfig, score, train
from paperwire.recommend.ranker import Recommender

Scorer = Callable[[CorpusFeatures, "Task", IntArray], np.ndarray]
DEPTH = 100  # results kept per run


class Task:
    def __init__(self, author: str, library: list[int], relevant: list[int]) -> None:
        self.author = author
        self.library = np.asarray(library, dtype=np.int64)
        self.relevant = relevant

    def signals(self, corpus: CorpusFeatures, follows: tuple[str, ...] = ()) -> ReaderSignals:
        when = datetime(2026, 1, 1, tzinfo=UTC)
        items = tuple(LibraryItem(corpus.ids[r], "Saved", when) for r in self.library.tolist())
        return ReaderSignals(user_id=hash(self.author), positives=items, followed_authors=follows)

    def co_authors(self, corpus: CorpusFeatures, top: int = 5) -> tuple[str, ...]:
        counts = Counter(
            a
            for r in self.library.tolist()
            for a in corpus.authors[r]
            if name_key(a) != self.author
        )
        return tuple(a for a, _ in counts.most_common(top))


# -- data ------------------------------------------------------------------------------


def read_docs(path: Path) -> list[CorpusDoc]:
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [
        CorpusDoc(
            arxiv_id=r["id"],
            title=" ".join(r["title"].split()),
            abstract=" ".join(r["summary"].split()),
            authors=tuple(r["authors"]),
            categories=tuple(r["categories"]),
            day=date.fromisoformat(r["listing_date"]),
        )
        for r in rows
    ]


def load_corpus(path: Path, cache: Path) -> CorpusFeatures:
    """Corpus features of the file, with every cached vector; tf-idf cached on disk."""
    stat = path.stat()
    key = hashlib.md5(f"{path}:{stat.st_size}:{stat.st_mtime}:v2".encode()).hexdigest()[:12]
    cached = cache / f"corpus-{key}.pkl"
    if cached.exists():
        with cached.open("rb") as handle:
            corpus: CorpusFeatures = pickle.load(handle)
    else:
        started = time.perf_counter()
        corpus = build_corpus(read_docs(path), {}, version=key)
        print(f"built tf-idf features in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        cache.mkdir(parents=True, exist_ok=True)
        with cached.open("wb") as handle:
            pickle.dump(corpus, handle, protocol=5)
    ids, vectors = load_cached("arxiv")
    corpus.vectors, corpus.has_vector = vector_matrix(
        corpus.ids, dict(zip(ids, vectors, strict=True))
    )
    corpus.version = f"{key}:{len(ids)}"
    return corpus


def make_tasks(
    corpus: CorpusFeatures, cutoff: date, size: int, count: int, split: str, rows: IntArray
) -> list[Task]:
    """Authors with >= size papers before the cut-off and >= 3 after, among `rows`."""
    line = cutoff.toordinal()
    before: dict[str, list[int]] = {}
    after: dict[str, list[int]] = {}
    for r in rows.tolist():
        for name in corpus.authors[r]:
            side = before if corpus.days[r] < line else after
            side.setdefault(name_key(name), []).append(r)
    tasks = []
    for author in sorted(before):
        digest = int(hashlib.md5(author.encode()).hexdigest(), 16)
        if (digest % 3 == 0) != (split == "dev"):
            continue
        if len(before[author]) >= size and len(after.get(author, ())) >= 3:
            library = sorted(before[author], key=lambda r: (corpus.days[r], corpus.ids[r]))
            tasks.append(Task(author, library[-size:], after[author]))
    random.Random(size).shuffle(tasks)
    return tasks[:count]


# -- systems -----------------------------------------------------------------------------


def ours(follows: bool, config: ModelConfig = DEFAULT_CONFIG) -> Scorer:
    def run(corpus: CorpusFeatures, task: Task, cand: IntArray) -> np.ndarray:
        names = task.co_authors(corpus) if follows else ()
        model = train(corpus, task.signals(corpus, names), config)
        return score(corpus, model, cand)

    return run


def centroid(corpus: CorpusFeatures, task: Task, cand: IntArray) -> np.ndarray:
    """zotero-arxiv-daily: cosine to the library's embeddings, averaged (= to the centroid)."""
    library = task.library[corpus.has_vector[task.library]]
    return corpus.vectors[cand] @ corpus.vectors[library].mean(0)


def make_svm(background: IntArray) -> Scorer:
    def run(corpus: CorpusFeatures, task: Task, cand: IntArray) -> np.ndarray:
        """arxiv-sanity-lite: LinearSVC (C=0.01, balanced) on tf-idf, everything else negative
        (here: 5,000 random papers from before the cut-off)."""
        negatives = np.setdiff1d(background, task.library)
        rows = np.concatenate([task.library, negatives])
        labels = np.r_[np.ones(len(task.library)), np.zeros(len(negatives))]
        svm = LinearSVC(C=0.01, class_weight="balanced", tol=1e-6, max_iter=10000)
        svm.fit(corpus.text[rows], labels)
        return np.asarray(svm.decision_function(corpus.text[cand]))

    return run


def make_bm25(corpus: CorpusFeatures, cand: IntArray, abstracts: dict[str, str]) -> Scorer:
    texts = [f"{corpus.titles[r]} {abstracts[corpus.ids[r]]}" for r in cand.tolist()]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def run(corpus: CorpusFeatures, task: Task, cand_: IntArray) -> np.ndarray:
        query = " ".join(corpus.titles[r] for r in task.library.tolist())
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
        return np.asarray(retriever.get_scores(tokens[0]))

    return run


def recency(corpus: CorpusFeatures, task: Task, cand: IntArray) -> np.ndarray:
    """Trending = (votes + 1) * 2^(-age / half-life): the corpus has no votes (no HF
    upvotes either), so this is newest first, ties by arXiv id newest first."""
    order = np.lexsort(([corpus.ids[r] for r in cand.tolist()], corpus.days[cand]))
    ranks = np.empty(len(cand))
    ranks[order] = np.arange(len(cand))
    return ranks


def randomly(corpus: CorpusFeatures, task: Task, cand: IntArray) -> np.ndarray:
    return np.random.default_rng(int(hashlib.md5(task.author.encode()).hexdigest()[:8], 16)).random(
        len(cand)
    )


# -- evaluation --------------------------------------------------------------------------


def evaluate_size(
    corpus: CorpusFeatures, systems: dict[str, Scorer], tasks: list[Task], cand: IntArray
) -> dict[str, tuple[float, float, float]]:
    qrels = {t.author: {corpus.ids[r]: 1 for r in t.relevant} for t in tasks}
    out = {}
    for name, system in systems.items():
        started = time.perf_counter()
        run: dict[str, dict[str, float]] = {}
        for task in tasks:
            scores = system(corpus, task, cand)
            top = np.argpartition(-scores, DEPTH)[:DEPTH]
            run[task.author] = {corpus.ids[cand[i]]: float(scores[i]) for i in top.tolist()}
        metrics = evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@50"], return_mean=False)
        per_task = (time.perf_counter() - started) / max(1, len(tasks)) * 1000
        PER_QUERY[name] = np.asarray(metrics["ndcg@10"])  # same query order for every system
        ndcg, recall = float(np.mean(metrics["ndcg@10"])), float(np.mean(metrics["recall@50"]))
        out[name] = (ndcg, recall, per_task)
    return out


PER_QUERY: dict[str, np.ndarray] = {}  # nDCG@10 per author of the last evaluate_size


def significance(results: dict[str, tuple[float, float, float]]) -> str:
    """Ours (text only) against the best baseline: difference and paired t-test p."""
    baselines = {k: v for k, v in results.items() if not k.startswith("paperwire")}
    best = max(baselines, key=lambda k: baselines[k][0])
    ours_row = "paperwire (text + vectors)"
    diff = results[ours_row][0] - results[best][0]
    p = float(ttest_rel(PER_QUERY[ours_row], PER_QUERY[best]).pvalue)
    return f"      ours - {best}: nDCG@10 {diff:+.4f}, paired t-test p = {p:.2f}"


TUNING = {  # the variants --tune compares on the development authors
    "classifier only": ModelConfig(centroid=0.0, nearest=0.0),
    "classifier + centroid": ModelConfig(centroid=1.0, nearest=0.0),
    "classifier + nearest (default)": ModelConfig(),
    "classifier + centroid + nearest": ModelConfig(centroid=1.0),
    "2 x classifier + centroid + nearest": ModelConfig(classifier=2.0, centroid=1.0),
    "... + tf-idf centroid": ModelConfig(centroid=1.0, text_centroid=1.0),
    "... with logistic regression (C=1)": ModelConfig(centroid=1.0, learner="logreg", svm_c=1.0),
    "... with LinearSVC C=1": ModelConfig(centroid=1.0, svm_c=1.0),
    "centroid + nearest (no classifier)": ModelConfig(classifier=0.0, centroid=1.0),
}


def tune(args: argparse.Namespace, corpus: CorpusFeatures) -> None:
    usable = np.flatnonzero(corpus.has_vector) if args.embedded_only else np.arange(len(corpus))
    cand = usable[corpus.days[usable] >= args.cutoff.toordinal()]
    systems = {name: ours(False, config) for name, config in TUNING.items()}
    print(f"tuning on dev authors; candidates: {len(cand):,}")
    for size in args.sizes:
        tasks = make_tasks(corpus, args.cutoff, size, args.authors, "dev", usable)
        for name, (ndcg, recall, ms) in evaluate_size(corpus, systems, tasks, cand).items():
            print(f"{size:>4}  {len(tasks):>7}  {name:<40} {ndcg:>8.4f} {recall:>7.4f} {ms:>9.1f}")
        sys.stdout.flush()


def quality(args: argparse.Namespace, corpus: CorpusFeatures, abstracts: dict[str, str]) -> None:
    usable = np.flatnonzero(corpus.has_vector) if args.embedded_only else np.arange(len(corpus))
    line = args.cutoff.toordinal()
    cand = usable[corpus.days[usable] >= line]
    before = usable[corpus.days[usable] < line]
    background = np.random.default_rng(0).choice(before, min(5000, len(before)), replace=False)
    systems: dict[str, Scorer] = {
        "paperwire (text + vectors)": ours(follows=False),
        "paperwire + follows co-authors": ours(follows=True),
        "embedding centroid (zotero-arxiv-daily)": centroid,
        "tf-idf + LinearSVC (arxiv-sanity-lite)": make_svm(background),
        "BM25 of library titles": make_bm25(corpus, cand, abstracts),
        "trending (= recency, no votes)": recency,
        "random": randomly,
    }
    print(f"candidates: {len(cand):,} papers listed from {args.cutoff}; split: {args.split}")
    print(
        f"{'size':>4}  {'authors':>7}  {'system':<40} {'nDCG@10':>8} {'R@50':>7} {'ms/reader':>9}"
    )
    for size in args.sizes:
        tasks = make_tasks(corpus, args.cutoff, size, args.authors, args.split, usable)
        results = evaluate_size(corpus, systems, tasks, cand)
        best_other = max(v[0] for k, v in results.items() if not k.startswith("paperwire"))
        for name, (ndcg, recall, ms) in results.items():
            mark = " *" if name.startswith("paperwire") and ndcg > best_other else ""
            print(
                f"{size:>4}  {len(tasks):>7}  {name:<40} {ndcg:>8.4f} {recall:>7.4f} {ms:>9.1f}{mark}"
            )
        print(significance(results))
        sys.stdout.flush()
    print("* = nDCG@10 above every baseline at that size")


# -- latency -----------------------------------------------------------------------------


def latency(args: argparse.Namespace, corpus: CorpusFeatures) -> None:
    """p50 of Recommender.recommend with a 1,000-paper library, trained or cached: wall
    time and this process' CPU time (the host is shared; CPU time is what the code costs)."""
    rng = np.random.default_rng(1)
    library = rng.choice(np.flatnonzero(corpus.has_vector), 1000, replace=False)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    last = int(corpus.days.max())
    windows = {
        "7-day window": corpus.listed(date.fromordinal(last - 6), date.fromordinal(last)),
        "whole corpus": np.arange(len(corpus), dtype=np.int64),
    }
    print(
        f"\nlatency, 1,000-paper library, {len(corpus):,} papers in the corpus "
        f"({int(corpus.has_vector.sum()):,} with vectors); {args.repeats} calls each"
    )
    print(
        f"{'candidates':<26} {'retrained p50':>14} {'cached p50':>11}"
        f" {'retrained CPU':>14} {'cached CPU':>11}"
    )
    for label, cand in windows.items():
        recommender = Recommender()
        retrained: list[float] = []
        cached: list[float] = []
        cpu: dict[int, list[float]] = {id(retrained): [], id(cached): []}
        for n in range(args.repeats):
            items = [LibraryItem(corpus.ids[r], "Saved", when) for r in library.tolist()]
            items[n % 1000] = LibraryItem(corpus.ids[int(library[(n + 1) % 1000])], "liked", when)
            signals = ReaderSignals(user_id=7, positives=tuple(items))
            for bucket in (retrained, cached):  # first call trains, the second reuses
                started, processor = time.perf_counter(), time.process_time()
                recommender.recommend(corpus, signals, cand, 20)
                bucket.append((time.perf_counter() - started) * 1000)
                cpu[id(bucket)].append((time.process_time() - processor) * 1000)
        name = f"{label} ({len(cand):,})"
        walls = [statistics.median(retrained), statistics.median(cached)]
        cpus = [statistics.median(cpu[id(retrained)]), statistics.median(cpu[id(cached)])]
        print(
            f"{name:<26} {walls[0]:>11.1f} ms {walls[1]:>8.1f} ms"
            f" {cpus[0]:>11.1f} ms {cpus[1]:>8.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("PAPERWIRE_RECOMMEND_DATA", ARXIV)),
        help="daily-listing JSONL(.xz) (env PAPERWIRE_RECOMMEND_DATA)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=BENCH_DATA / "recommend",
        help="where corpus features are cached (default $PAPERWIRE_BENCH_DATA/recommend)",
    )
    parser.add_argument(
        "--cutoff",
        type=date.fromisoformat,
        default=date(2026, 4, 1),
        help="library: papers listed before; candidates: on or after",
    )
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 20, 100]
    )
    parser.add_argument("--authors", type=int, default=100, help="authors per library size")
    parser.add_argument(
        "--split",
        choices=("test", "dev"),
        default="test",
        help="authors to report on (dev authors chose the weights)",
    )
    parser.add_argument("--repeats", type=int, default=15, help="calls per latency figure")
    parser.add_argument("--tune", action="store_true", help="compare model variants on dev authors")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()  # fmt: skip
    corpus = load_corpus(args.data, args.cache)
    covered = int(corpus.has_vector.sum())
    args.embedded_only = covered < len(corpus)
    print(
        f"corpus: {len(corpus):,} papers, {covered:,} with cached vectors"
        + (" (cache incomplete: evaluating only those)" if args.embedded_only else "")
    )
    if args.tune:
        tune(args, corpus)
        return
    abstracts = {d.arxiv_id: d.abstract for d in read_docs(args.data)}
    if not args.skip_quality:
        quality(args, corpus, abstracts)
    if not args.skip_latency:
        latency(args, corpus)


if __name__ == "__main__":
    main()
