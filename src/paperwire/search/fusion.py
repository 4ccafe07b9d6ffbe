"""Rank fusion: pure functions over ranked ``(id, score)`` lists, best first.

Similar papers and digests combine lists through :func:`fuse`; hybrid search through
:func:`adaptive_fuse`, which first looks at the query and the lexical list (how many words,
how far the best word match leads, whether the best word match contains the query nearly
word for word) and then fuses as :data:`DEFAULT_FUSION` says, or with more weight on words
for short queries, keeping a clearly leading or near-exact word match first. The
defaults are tuned on SciFact *train* qrels and the "tune" half of a known-item set from
the arXiv corpus (benchmarks/bench_quality.py) and may be changed there.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from paperwire.latex import latex_to_text

Ranked = Sequence[tuple[str, float]]
Vector = npt.NDArray[np.float32]

RRF_K = 60  # the constant from Cormack et al. (2009); damps the head of each list


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How hybrid search combines its lexical and semantic lists.

    method: "rrf" (reciprocal rank), "minmax" or "zscore" (normalised score sum).
    weights: (lexical, semantic).
    depth: how many results each list contributes before fusing.
    """

    method: str = "rrf"
    k: int = RRF_K
    weights: tuple[float, float] = (1.0, 1.0)
    depth: int = 100


# Tuned on SciFact train qrels (benchmarks/bench_quality.py): train nDCG@10 0.734; on the
# test split 0.731, against 0.711 for RRF k=60 1:1 and 0.689 / 0.649 for either list alone.
DEFAULT_FUSION = FusionConfig(method="zscore", weights=(0.55, 0.45), depth=100)


def _sorted(scores: dict[str, float], first_seen: dict[str, int]) -> list[tuple[str, float]]:
    # Ties: the id seen earlier (best rank in the earliest list) wins, so output is stable.
    return sorted(scores.items(), key=lambda item: (-item[1], first_seen[item[0]]))


def _check_weights(lists: Sequence[Ranked], weights: Sequence[float] | None) -> Sequence[float]:
    if weights is None:
        return [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError(f"{len(weights)} weights for {len(lists)} lists")
    return weights


def rrf(
    ranked_lists: Sequence[Ranked], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1.

    Input scores are ignored (only order matters); an id repeated inside one list counts
    at its first (best) rank. Returns every id, best first.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    weights = _check_weights(ranked_lists, weights)
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    for ranked, weight in zip(ranked_lists, weights, strict=True):
        seen: set[str] = set()
        for rank, (doc_id, _score) in enumerate(ranked, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
            first_seen.setdefault(doc_id, len(first_seen))
    return _sorted(scores, first_seen)


def min_max(ranked: Ranked) -> list[tuple[str, float]]:
    """Scale scores to [0, 1] (best 1, worst 0); a list of equal scores becomes all 1."""
    if not ranked:
        return []
    values = [s for _, s in ranked]
    low, high = min(values), max(values)
    if high == low:
        return [(doc_id, 1.0) for doc_id, _ in ranked]
    return [(doc_id, (s - low) / (high - low)) for doc_id, s in ranked]


def z_score(ranked: Ranked) -> list[tuple[str, float]]:
    """Standardise scores: (s - mean) / population std; equal scores become all 0."""
    if not ranked:
        return []
    values = [s for _, s in ranked]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if std == 0:
        return [(doc_id, 0.0) for doc_id, _ in ranked]
    return [(doc_id, (s - mean) / std) for doc_id, s in ranked]


def score_combination(
    ranked_lists: Sequence[Ranked],
    weights: Sequence[float] | None = None,
    normalise: str = "minmax",
) -> list[tuple[str, float]]:
    """Normalise each list ("minmax" or "zscore"), then sum weighted scores per id.

    An id absent from a list gets that list's lowest normalised score (it ranked no
    better than the worst retrieved one), so one-list ids are not over-rewarded.
    """
    if normalise not in ("minmax", "zscore"):
        raise ValueError(f"unknown normalisation {normalise!r}; use minmax or zscore")
    weights = _check_weights(ranked_lists, weights)
    norm = min_max if normalise == "minmax" else z_score
    normalised = [dict(reversed(norm(ranked))) for ranked in ranked_lists]  # best rank wins
    first_seen: dict[str, int] = {}
    for ranked in ranked_lists:
        for doc_id, _ in ranked:
            first_seen.setdefault(doc_id, len(first_seen))
    # Every id starts from each list's floor; a list it is in adds what it scored above
    # that floor. (One pass per list, not a lookup per list per id: hybrid search runs
    # this on every query.)
    floors = [min(table.values()) if table else 0.0 for table in normalised]
    base = sum(weight * floor for weight, floor in zip(weights, floors, strict=True))
    scores = dict.fromkeys(first_seen, base)
    for table, weight, floor in zip(normalised, weights, floors, strict=True):
        for doc_id, value in table.items():
            scores[doc_id] += weight * (value - floor)
    return _sorted(scores, first_seen)


def fuse(
    lexical: Ranked, semantic: Ranked, config: FusionConfig = DEFAULT_FUSION
) -> list[tuple[str, float]]:
    """Combine a lexical and a semantic list as `config` says (each cut to config.depth)."""
    lists = [list(lexical[: config.depth]), list(semantic[: config.depth])]
    if config.method == "rrf":
        return rrf(lists, k=config.k, weights=config.weights)
    return score_combination(lists, weights=config.weights, normalise=config.method)


# -- query-adaptive fusion (hybrid search) ------------------------------------------


@dataclass(frozen=True, slots=True)
class AdaptiveFusion:
    """How hybrid search adapts `base` to the query.

    short_terms / short_weights: a query of 1..short_terms content words (a typed topic,
    a remembered title fragment) is fused with short_weights (lexical, semantic) instead.
    pin_terms / pin_margin: when a query of at least pin_terms content words (pasted text)
    has a best lexical hit whose BM25 score leads the second's by at least pin_margin of
    its own, that hit stays first.
    match_terms / match_overlap: so does the best lexical hit of a query of at least
    match_terms content words whose title or abstract holds the query nearly word for word
    (phrase_overlap at least match_overlap): a pasted sentence or title.
    smooth_neighbours / smooth_weight / smooth_head: queries longer than short_terms then
    have each of the first smooth_head fused hits' scores raised by smooth_weight times the
    mean score of its smooth_neighbours nearest hits by vector (neighbour_smoothing); a
    weight of 0 turns it off.
    """

    base: FusionConfig = DEFAULT_FUSION
    short_terms: int = 4
    short_weights: tuple[float, float] = (0.9, 0.1)
    pin_terms: int = 8
    pin_margin: float = 0.12
    match_terms: int = 5
    match_overlap: float = 0.8
    smooth_neighbours: int = 3
    smooth_head: int = 30
    # 0.25, 0.3 and 0.35 tie on SciFact train (0.741); 0.25 leads the known-item tune half
    # (bench_quality.py's tuning rows). SciFact test 0.7314 (0.7246 without smoothing).
    smooth_weight: float = 0.25


# Tuned on SciFact train and the known-item "tune" half; figures in bench_quality.py's
# table and in the README of issue 16's closing note. Measured against it on SciFact train
# (.7406) and dropped, none above .7420 (a query or so of 809): each list completed with
# the other's hits' real scores (cosine, BM25), base weight by top-10 agreement of the
# lists, log/sqrt/power transforms of either score, per-term max of title and abstract
# BM25, hubness-corrected cosine (CSLS), the query embedded without stopwords or negations.
DEFAULT_ADAPTIVE = AdaptiveFusion()
# The same base without adapting: what hybrid search did before (bench_quality.py's "old").
STATIC_FUSION = AdaptiveFusion(
    short_terms=0, pin_margin=math.inf, match_overlap=math.inf, smooth_weight=0.0
)


@dataclass(frozen=True, slots=True)
class QueryFeatures:
    terms: int  # distinct content words the lexical query ranks by
    lexical_margin: float  # (best - second) / best BM25 score; 1 for a lone hit, 0 for none
    top_overlap: float = 0.0  # phrase_overlap of the query with the best lexical hit


def lexical_margin(lexical: Ranked) -> float:
    """How far the best hit leads: (s1 - s2) / s1; 1.0 for one hit, 0.0 for none (or when
    the best score is not positive)."""
    if not lexical:
        return 0.0
    best = lexical[0][1]
    if len(lexical) == 1:
        return 1.0
    if best <= 0:
        return 0.0
    return max(0.0, (best - lexical[1][1]) / best)


def query_features(lexical: Ranked, terms: int, top_overlap: float = 0.0) -> QueryFeatures:
    return QueryFeatures(terms, lexical_margin(lexical), top_overlap)


_MATCH_WORD = re.compile(r"[^\W_]+")


def match_words(text: str) -> list[str]:
    """The words of `text` as phrase_overlap compares them: LaTeX rendered as text,
    accents dropped, case folded, punctuation gone."""
    plain = unicodedata.normalize("NFKD", latex_to_text(text))
    if not plain.isascii():  # ASCII has no combining marks (the filter costs ~50 us)
        plain = "".join(c for c in plain if not unicodedata.combining(c))
    return _MATCH_WORD.findall(plain.casefold())


def phrase_overlap(query: str, fields: Sequence[str]) -> float:
    """How nearly one of `fields` (a paper's title, abstract) holds `query` word for word:
    1.0 when it holds the query's words as one run, else the largest share of the query's
    word pairs (consecutive words) that one field holds; 0.0 for a query without words."""
    words = match_words(query)
    if not words:
        return 0.0
    pairs = set(itertools.pairwise(words))
    phrase = f" {' '.join(words)} "
    best = 0.0
    for field in fields:
        field_words = match_words(field)
        if phrase in f" {' '.join(field_words)} ":
            return 1.0
        if pairs:
            held = pairs & set(itertools.pairwise(field_words))
            best = max(best, len(held) / len(pairs))
    return best


def wants_overlap(terms: int, adaptive: AdaptiveFusion) -> bool:
    """Whether a query of `terms` content words is long enough for phrase_overlap of its
    best lexical hit to matter (so the caller can skip loading that paper's text)."""
    return terms >= adaptive.match_terms and adaptive.match_overlap <= 1.0


def needs_overlap(lexical: Ranked, terms: int, adaptive: AdaptiveFusion) -> bool:
    """Whether phrase_overlap of the best of the `lexical` hits of a query of `terms`
    content words can change the result: wants_overlap, unless that hit already leads
    by the pin margin (and so stays first anyway)."""
    if not lexical or not wants_overlap(terms, adaptive):
        return False
    leads = terms >= adaptive.pin_terms and lexical_margin(lexical) >= adaptive.pin_margin
    return not leads


def fusion_weights(features: QueryFeatures, adaptive: AdaptiveFusion) -> tuple[float, float]:
    """(lexical, semantic) weights for a query with `features`."""
    if 1 <= features.terms <= adaptive.short_terms:
        return adaptive.short_weights
    return adaptive.base.weights


def keeps_top_hit(features: QueryFeatures, adaptive: AdaptiveFusion) -> bool:
    """Whether the best lexical hit of a long enough query leads by enough, or holds the
    query nearly word for word, so that it stays first whatever fusion says."""
    leads = features.terms >= adaptive.pin_terms and features.lexical_margin >= adaptive.pin_margin
    matches = wants_overlap(features.terms, adaptive) and (
        features.top_overlap >= adaptive.match_overlap
    )
    return leads or matches


def wants_smoothing(terms: int, adaptive: AdaptiveFusion) -> bool:
    """Whether a query of `terms` content words gets neighbour_smoothing (so the caller
    can skip loading the hits' vectors)."""
    return terms > adaptive.short_terms and adaptive.smooth_neighbours > 0 < adaptive.smooth_weight


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # scans the loaded libraries once (~60 ms)


class HitVectors(Mapping[str, Vector]):
    """Unit vectors of some hits as one matrix, row n being the vector of ids[n]: what a
    vector index hands hybrid search in one gather (a mapping of ids to vectors is
    stacked into one by :meth:`of`)."""

    __slots__ = ("_row", "ids", "matrix")

    def __init__(self, ids: Sequence[str], matrix: npt.NDArray[np.floating[Any]]) -> None:
        if len(ids) != len(matrix):
            raise ValueError(f"{len(ids)} ids for {len(matrix)} vectors")
        self.ids = list(ids)
        self.matrix: Vector = np.asarray(matrix, dtype=np.float32)
        self._row = {doc_id: n for n, doc_id in enumerate(self.ids)}

    @classmethod
    def of(cls, vectors: Mapping[str, Vector], wanted: Iterable[str]) -> HitVectors:
        """The vectors of those of `wanted` that `vectors` has, in that order."""
        ids = [doc_id for doc_id in dict.fromkeys(wanted) if doc_id in vectors]
        if not ids:
            return cls([], np.zeros((0, 0), dtype=np.float32))
        return cls(ids, np.stack([vectors[doc_id] for doc_id in ids]))

    def plus(self, more: Mapping[str, Vector]) -> HitVectors:
        """These vectors and, after them, those of `more` whose ids are not here."""
        if isinstance(more, HitVectors) and not any(i in self._row for i in more.ids):
            added = more  # the usual case: no need to copy its rows one by one
        else:
            added = HitVectors.of(more, (i for i in more if i not in self._row))
        if not added:
            return self
        if not self:
            return added
        return HitVectors(self.ids + added.ids, np.concatenate([self.matrix, added.matrix]))

    def rows(self, doc_ids: Iterable[str]) -> list[int]:
        """The row of each of `doc_ids`, -1 for one without a vector here."""
        row = self._row.get
        return [row(doc_id, -1) for doc_id in doc_ids]

    def __getitem__(self, doc_id: str) -> Vector:
        vector: Vector = self.matrix[self._row[doc_id]]
        return vector

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row

    def __len__(self) -> int:
        return len(self.ids)


def neighbour_smoothing(
    fused: Ranked,
    vectors: Mapping[str, Vector],
    neighbours: int,
    weight: float,
    head: int | None = None,
) -> list[tuple[str, float]]:
    """The cluster hypothesis (papers close in meaning are relevant together): each of the
    first `head` hits with a vector (all of them when None) gains `weight` times the mean
    score of its `neighbours` nearest other hits with vectors (cosine of unit vectors);
    then all are re-sorted, ties kept in order. Other hits keep their score; fewer than
    neighbours + 1 vectors change nothing."""
    fused = list(fused)
    if isinstance(vectors, HitVectors):
        table = vectors
    else:
        table = HitVectors.of(vectors, (doc_id for doc_id, _ in fused))
    ids = [doc_id for doc_id, _ in fused]
    rows = np.array(table.rows(ids), dtype=np.intp)
    places = np.flatnonzero(rows >= 0)  # the hits with a vector, best first
    if neighbours <= 0 or len(places) <= neighbours:
        return fused
    smoothed = np.array([score for _, score in fused], dtype=np.float64)
    # Neighbours come from every row of the table that is a hit (scored by its hit).
    row_score = np.zeros(len(table))
    row_score[rows[places]] = smoothed[places]
    gaining = places if head is None else places[:head]
    with _blas().limit(limits=1):  # BLAS threads on a busy host: 15 ms, one thread 0.3 ms
        similar = table.matrix[rows[gaining]] @ table.matrix.T
    similar[np.arange(len(gaining)), rows[gaining]] = -np.inf  # not its own neighbour
    if len(places) < len(table):
        others = np.ones(len(table), dtype=bool)
        others[rows[places]] = False
        similar[:, others] = -np.inf
    smoothed[gaining] += weight * row_score[_nearest(similar, neighbours)].mean(axis=1)
    values = smoothed.tolist()
    return [(ids[n], values[n]) for n in np.argsort(-smoothed, kind="stable").tolist()]


def _nearest(similar: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Columns of the `k` largest entries of each row of `similar` (which it overwrites),
    the first of equals first: k arg-maxima, cheaper than a partition for a few."""
    picked = np.empty((len(similar), k), dtype=np.intp)
    every = np.arange(len(similar))
    for j in range(k):
        picked[:, j] = best = similar.argmax(axis=1)
        similar[every, best] = -np.inf
    return picked


def adaptive_fuse(
    lexical: Ranked,
    semantic: Ranked,
    terms: int,
    adaptive: AdaptiveFusion = DEFAULT_ADAPTIVE,
    top_overlap: float = 0.0,
    vectors: Mapping[str, Vector] | None = None,
) -> list[tuple[str, float]]:
    """Fuse as `adaptive` says for a query of `terms` content words whose best lexical hit
    has `top_overlap` (phrase_overlap) and whose hits have `vectors` (for smoothing; see
    AdaptiveFusion). A kept lexical top hit takes the head's score, so scores stay
    non-increasing."""
    features = query_features(lexical, terms, top_overlap)
    config = replace(adaptive.base, weights=fusion_weights(features, adaptive))
    fused = fuse(lexical, semantic, config)
    if vectors and wants_smoothing(terms, adaptive):
        fused = neighbour_smoothing(
            fused, vectors, adaptive.smooth_neighbours, adaptive.smooth_weight, adaptive.smooth_head
        )
    if not (fused and lexical and keeps_top_hit(features, adaptive)):
        return fused
    top = lexical[0][0]
    if fused[0][0] == top:
        return fused
    return [(top, fused[0][1])] + [item for item in fused if item[0] != top]
