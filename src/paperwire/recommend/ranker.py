"""Rank candidate papers for one reader: the model, its cache, the cold-start paths.

Pure over its inputs (the corpus features, the reader's signals, candidate rows and, for
readers without a library, a trending ranking as (id, score) pairs); the only state is the
cache of trained models, keyed by a fingerprint of the signals and the corpus, so a reader
whose library did not change is never retrained.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from paperwire.models import ReaderSignals, Recommendation
from paperwire.names import author_key
from paperwire.recommend.corpus import CorpusFeatures, FloatArray, IntArray
from paperwire.recommend.explain import explain, library_verb
from paperwire.recommend.model import (
    DEFAULT_CONFIG,
    ModelConfig,
    ReaderModel,
    fingerprint,
    followed_rows,
    score,
    train,
)

CACHE_SIZE = 512  # readers whose models are kept


def in_categories(paper_categories: Sequence[str], wanted: Sequence[str]) -> bool:
    """True when a class matches: 'cs.CL' matches itself, 'cs' matches any 'cs.*'."""
    return any(c == w or c.startswith(w + ".") for c in paper_categories for w in wanted)


@dataclass(slots=True)
class Ranking:
    key: str
    rows: IntArray
    scores: FloatArray
    reasons: dict[int, tuple[str, ...]]  # explanations, filled in as rows are shown


class Recommender:
    def __init__(self, config: ModelConfig = DEFAULT_CONFIG, cache_size: int = CACHE_SIZE):
        self.config = config
        self.cache_size = cache_size
        self._models: OrderedDict[int, ReaderModel] = OrderedDict()
        self._rankings: OrderedDict[int, Ranking] = OrderedDict()
        self._lock = threading.Lock()
        self._threads = ThreadpoolController()  # scans the loaded libraries once (~60 ms)
        self.trained = 0  # how many models were (re)trained: tests and benchmarks read it

    def model_for(self, corpus: CorpusFeatures, signals: ReaderSignals) -> ReaderModel:
        """The reader's cached model, retrained when their signals or the corpus changed."""
        key = fingerprint(signals, corpus.version, self.config)
        with self._lock:
            model = self._models.get(signals.user_id)
            if model is not None and model.fingerprint == key:
                self._models.move_to_end(signals.user_id)
                return model
        model = train(corpus, signals, self.config)
        with self._lock:
            self.trained += 1
            self._models[signals.user_id] = model
            self._models.move_to_end(signals.user_id)
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)
        return model

    def recommend(
        self,
        corpus: CorpusFeatures,
        signals: ReaderSignals,
        candidates: IntArray,
        limit: int = 20,
        trending: Sequence[tuple[str, float]] = (),
    ) -> list[Recommendation]:
        """The best `limit` candidate rows for the reader, each with its reasons.

        Never returns a paper in signals.exclude, signals.negatives or the library."""
        with self._threads.limit(limits=1):  # BLAS threads thrash on busy hosts (4x, measured)
            return self._recommend(corpus, signals, candidates, limit, trending)

    def _recommend(
        self,
        corpus: CorpusFeatures,
        signals: ReaderSignals,
        candidates: IntArray,
        limit: int,
        trending: Sequence[tuple[str, float]],
    ) -> list[Recommendation]:
        model = self.model_for(corpus, signals)
        if not len(model.positives):
            blocked = set(signals.exclude) | set(signals.negatives)
            rows = np.asarray([r for r in candidates.tolist() if corpus.ids[r] not in blocked])
            return self._cold_start(corpus, model, signals, rows.astype(np.int64), limit, trending)
        ranking = self._ranking(corpus, model, candidates, signals.user_id)
        sources = {p.arxiv_id: p.source for p in signals.positives}
        verb = library_verb(signals.positives)
        out: list[Recommendation] = []
        for row, value in zip(ranking.rows.tolist(), ranking.scores.tolist(), strict=True):
            if len(out) >= limit:
                break
            if corpus.ids[row] in signals.exclude:
                continue
            reasons = ranking.reasons.get(row)
            if reasons is None:
                reasons = ranking.reasons[row] = explain(corpus, model, row, sources, verb)
            out.append(Recommendation(corpus.ids[row], value, reasons))
        return out

    def _ranking(
        self, corpus: CorpusFeatures, model: ReaderModel, candidates: IntArray, user_id: int
    ) -> Ranking:
        """Candidates (less the reader's positives and negatives) best first: cached per
        reader while the model, the corpus and the candidate rows stay the same."""
        key = f"{model.fingerprint}:{hashlib.blake2b(candidates.tobytes()).hexdigest()}"
        with self._lock:
            cached = self._rankings.get(user_id)
        if cached is not None and cached.key == key:
            return cached
        rows = np.setdiff1d(candidates, np.concatenate([model.positives, model.negatives]))
        scores = score(corpus, model, rows)
        order = np.argsort(-scores, kind="stable")
        ranking = Ranking(key, rows[order], scores[order], {})
        with self._lock:
            self._rankings[user_id] = ranking
            while len(self._rankings) > self.cache_size:
                self._rankings.popitem(last=False)
        return ranking

    def _cold_start(
        self,
        corpus: CorpusFeatures,
        model: ReaderModel,
        signals: ReaderSignals,
        rows: IntArray,
        limit: int,
        trending: Sequence[tuple[str, float]],
    ) -> list[Recommendation]:
        """No library yet: followed authors' papers, then trending in the reader's classes."""
        wanted = signals.categories
        if wanted:
            rows = np.asarray(
                [r for r in rows.tolist() if in_categories(corpus.categories[r], wanted)],
                dtype=np.int64,
            )
        allowed = {corpus.ids[r]: r for r in rows.tolist()}
        followed = followed_rows(corpus, model.followed, rows)
        out: list[Recommendation] = []
        for r in rows[followed].tolist():
            names = [a for a in corpus.authors[r] if author_key(a) in model.followed]
            reasons = tuple(f"by followed author {a} (name match)" for a in names[:2])
            out.append(Recommendation(corpus.ids[r], 1.0, reasons))
        taken = {rec.arxiv_id for rec in out}
        where = f"in {', '.join(wanted)}" if wanted else "across the site"
        for arxiv_id, value in trending:
            if len(out) >= limit:
                break
            if arxiv_id in allowed and arxiv_id not in taken:
                reason = f"trending {where}; save or like papers to get picks of your own"
                out.append(Recommendation(arxiv_id, float(value), (reason,)))
        return out[:limit]
