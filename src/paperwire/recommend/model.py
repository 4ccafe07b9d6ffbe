"""One reader's model: trained on their positives against their dismissals and background.

The score of a candidate paper is a weighted sum of signals, each z-normalised over the
candidates so that none dominates by scale:

* ``classifier``: a linear SVM (scikit-learn LinearSVC, class-balanced, C=0.1) on the tf-idf
  of title + abstract; positives weighted by LibraryItem.weight, a thumbs-down counts
  NEGATIVE_WEIGHT times a background paper (background: a seeded random sample of the
  corpus, arxiv-sanity-lite's "everything else is a negative", made cheap);
* ``nearest``: the mean of the paper's NEAREST_K highest embedding cosines to single
  positives, so a reader with several distinct interests is served on each;
* ``centroid`` (weight 0 by default): cosine to the positives' mean embedding
  (zotero-arxiv-daily's signal).

Papers by followed authors come first, in the order of their own scores: each is lifted
by the candidates' score range plus ``follow_bonus``, so the lowest of them still beats the
best other paper by that margin (a flat bonus did not: a tight library's best z-scores pass
10). The weights and the learner were chosen on the development authors of
benchmarks/bench_recommend.py (``--tune``): the classifier carries most of the quality;
adding ``nearest`` helped a little, ``centroid`` on top did not; logistic regression scored
the same as the SVM at ~10x the training time.
With a single positive there is nothing to classify against: the score is then the
"similar papers" recipe (tf-idf cosine plus embedding cosine). Everything here is pure:
rows in, scores out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from paperwire.models import ReaderSignals
from paperwire.names import author_key
from paperwire.recommend.corpus import CorpusFeatures, FloatArray, IntArray

NEGATIVE_WEIGHT = 5.0
NEAREST_BUDGET = 500_000  # cosines (candidates x library) computed for `nearest`
RERANK_MIN = 300


@dataclass(frozen=True, slots=True)
class ModelConfig:
    classifier: float = 1.0
    centroid: float = 0.0  # off by default: no gain on the dev authors (bench --tune)
    nearest: float = 1.0
    text_centroid: float = 0.0
    learner: str = "svm"  # svm (LinearSVC) | logreg (LogisticRegression, liblinear)
    svm_c: float = 0.1
    background: int = 2000
    nearest_k: int = 3
    follow_bonus: float = 1.0  # margin of the lowest followed paper over the best other
    use_follows: bool = True
    seed: int = 0


DEFAULT_CONFIG = ModelConfig()


@dataclass(slots=True)
class ReaderModel:
    """What scoring needs, computed once per (signals, corpus) fingerprint."""

    fingerprint: str
    config: ModelConfig
    positives: IntArray  # corpus rows, in signals order
    weights: FloatArray
    negatives: IntArray
    text_coef: FloatArray | None  # classifier weights over tf-idf columns
    text_centroid: FloatArray  # weighted mean tf-idf row of the positives
    centroid: FloatArray | None  # weighted mean embedding, None without vectors
    followed: frozenset[str]  # author_key of followed authors
    term_counts: FloatArray  # per tf-idf column: how many positives contain it
    library_rows: IntArray  # the positives that have a vector …
    library_vectors: FloatArray  # … and those vectors (one row each)

    @property
    def similar_only(self) -> bool:
        return self.text_coef is None


def fingerprint(signals: ReaderSignals, corpus_version: str, config: ModelConfig) -> str:
    """Changes whenever anything the model is trained on changes."""
    parts = [corpus_version, repr(config)]
    parts += sorted(f"{p.arxiv_id}:{p.weight}:{p.source}" for p in signals.positives)
    parts += sorted(f"-{n}" for n in signals.negatives)
    parts += sorted(f"@{author_key(a)}" for a in signals.followed_authors)
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _weighted_mean(matrix: FloatArray, weights: FloatArray) -> FloatArray:
    mean = (weights[:, None] * matrix).sum(0) / max(float(weights.sum()), 1e-9)
    norm = float(np.linalg.norm(mean))
    return np.asarray(mean / norm if norm > 0 else mean, dtype=np.float32)


def background_rows(corpus: CorpusFeatures, avoid: IntArray, size: int, seed: int) -> IntArray:
    """A seeded random sample of corpus rows, none of them in `avoid`."""
    rng = np.random.default_rng(seed)
    blocked = np.zeros(len(corpus), dtype=bool)
    blocked[avoid] = True
    draw = (
        rng.permutation(len(corpus))
        if len(corpus) < 4 * size
        else rng.choice(len(corpus), size=min(len(corpus), 2 * size + len(avoid)), replace=False)
    )
    return np.asarray(draw[~blocked[draw]][:size], dtype=np.int64)


def train_classifier(
    corpus: CorpusFeatures,
    positives: IntArray,
    weights: FloatArray,
    negatives: IntArray,
    config: ModelConfig,
) -> FloatArray | None:
    """Linear classifier weights over the tf-idf columns (positives vs dismissals +
    background); None when there is nothing to tell the positives from (the library holds
    every paper of the corpus and nothing was dismissed): a classifier needs two classes."""
    avoid = np.concatenate([positives, negatives])
    background = background_rows(corpus, avoid, config.background, config.seed)
    if not len(negatives) + len(background):
        return None
    rows = np.concatenate([positives, negatives, background])
    labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives) + len(background))]
    sample = np.r_[weights, np.full(len(negatives), NEGATIVE_WEIGHT), np.ones(len(background))]
    svm: LinearSVC | LogisticRegression
    if config.learner == "logreg":
        svm = LogisticRegression(C=config.svm_c, class_weight="balanced", solver="liblinear")
    else:
        svm = LinearSVC(C=config.svm_c, class_weight="balanced", tol=1e-4, max_iter=5000)
    features = corpus.text[rows].astype(np.float64)  # liblinear's type: converted once, here
    features.has_sorted_indices = True  # row slices of a sorted CSR matrix stay sorted
    svm.fit(features, labels, sample_weight=sample)
    return np.asarray(svm.coef_[0], dtype=np.float32)


def train(
    corpus: CorpusFeatures, signals: ReaderSignals, config: ModelConfig = DEFAULT_CONFIG
) -> ReaderModel:
    """The reader's model; positives missing from the corpus are ignored."""
    weight_of: dict[str, float] = {}
    for item in signals.positives:
        if item.arxiv_id in corpus.row:
            weight_of[item.arxiv_id] = max(weight_of.get(item.arxiv_id, 0.0), item.weight)
    positives = corpus.rows(weight_of)
    weights = np.asarray(list(weight_of.values()), dtype=np.float32)
    negatives = np.setdiff1d(corpus.rows(signals.negatives), positives).astype(np.int64)
    with_vectors = corpus.has_vector[positives] if len(positives) else np.zeros(0, dtype=bool)
    centroid = None
    if with_vectors.any():
        centroid = _weighted_mean(corpus.vectors[positives[with_vectors]], weights[with_vectors])
    text_centroid = np.zeros(corpus.text.shape[1], dtype=np.float32)
    term_counts = np.zeros(corpus.text.shape[1], dtype=np.float32)
    if len(positives):
        library = corpus.text[positives]
        text_centroid = np.asarray(library.T @ weights, dtype=np.float32).ravel()
        term_counts = np.bincount(library.indices, minlength=library.shape[1]).astype(np.float32)
    coef = None
    if len(positives) >= 2 or (len(positives) and len(negatives)):
        coef = train_classifier(corpus, positives, weights, negatives, config)
    followed = frozenset(author_key(a) for a in signals.followed_authors if config.use_follows)
    return ReaderModel(
        fingerprint=fingerprint(signals, corpus.version, config),
        config=config,
        positives=positives,
        weights=weights,
        negatives=negatives,
        text_coef=coef,
        text_centroid=text_centroid,
        centroid=centroid,
        followed=followed,
        term_counts=term_counts,
        library_rows=positives[with_vectors],
        library_vectors=np.ascontiguousarray(corpus.vectors[positives[with_vectors]]),
    )


def zscore(values: FloatArray) -> FloatArray:
    spread = float(values.std())
    if spread == 0.0:
        return np.zeros_like(values)
    return np.asarray((values - values.mean()) / spread, dtype=np.float32)


def nearest_similarity(
    corpus: CorpusFeatures, model: ReaderModel, rows: IntArray, k: int
) -> FloatArray:
    """Mean of each row's k highest embedding cosines to single positives."""
    if not len(model.library_rows) or not len(rows):
        return np.zeros(len(rows), dtype=np.float32)
    sims = corpus.vectors[rows] @ model.library_vectors.T
    best = sims.max(1)
    total = best.copy()
    for _ in range(min(k, sims.shape[1]) - 1):  # k passes of max beat np.partition here
        sims[sims >= best[:, None]] = -2.0  # below any cosine
        best = sims.max(1)
        total += best
    return np.asarray(total / min(k, sims.shape[1]), dtype=np.float32)


def _nearest_part(
    corpus: CorpusFeatures, model: ReaderModel, rows: IntArray, so_far: FloatArray
) -> FloatArray:
    """z-scored nearest similarity; past NEAREST_BUDGET cosines it is computed for the
    rows that score best so far only (the rest get the lowest computed value)."""
    width = max(1, len(model.positives))
    if len(rows) * width <= NEAREST_BUDGET:
        return zscore(nearest_similarity(corpus, model, rows, model.config.nearest_k))
    keep = max(RERANK_MIN, NEAREST_BUDGET // width)
    if keep >= len(rows):
        return zscore(nearest_similarity(corpus, model, rows, model.config.nearest_k))
    best = np.argpartition(-so_far, keep - 1)[:keep]
    part = nearest_similarity(corpus, model, rows[best], model.config.nearest_k)
    full = np.full(len(rows), float(part.min()), dtype=np.float32)
    full[best] = part
    return zscore(full)


def followed_rows(
    corpus: CorpusFeatures, followed: frozenset[str], rows: IntArray
) -> npt.NDArray[np.bool_]:
    """Which rows have a followed author."""
    if not followed:
        return np.zeros(len(rows), dtype=bool)
    hits: set[int] = set()
    index = corpus.author_rows()
    for key in followed:
        hits.update(index.get(key, ()))
    return np.isin(rows, np.fromiter(hits, dtype=np.int64, count=len(hits)))


def score(corpus: CorpusFeatures, model: ReaderModel, rows: IntArray) -> FloatArray:
    """The model's score of each row (higher is better); see the module docstring."""
    config = model.config
    total = np.zeros(len(rows), dtype=np.float32)
    if not len(rows) or not len(model.positives):
        return total
    text: sp.csr_matrix = corpus.text[rows]
    if model.similar_only:  # one positive: tf-idf cosine + embedding cosine
        total += zscore(np.asarray(text @ model.text_centroid, dtype=np.float32))
        if model.centroid is not None:
            total += zscore(corpus.vectors[rows] @ model.centroid)
    else:
        assert model.text_coef is not None
        total += config.classifier * zscore(np.asarray(text @ model.text_coef, np.float32))
        if config.text_centroid:
            total += config.text_centroid * zscore(np.asarray(text @ model.text_centroid))
        if model.centroid is not None and config.centroid:
            total += config.centroid * zscore(corpus.vectors[rows] @ model.centroid)
        if model.centroid is not None and config.nearest:
            total += config.nearest * _nearest_part(corpus, model, rows, total)
    followed = followed_rows(corpus, model.followed, rows)
    if followed.any():  # followed authors' papers first: see the module docstring
        total[followed] += float(total.max() - total.min()) + config.follow_bonus
    return total
