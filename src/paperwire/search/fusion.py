"""Rank fusion: pure functions over ranked ``(id, score)`` lists, best first.

Hybrid search, similar papers and digests all combine lists through :func:`fuse`.
The defaults in :data:`DEFAULT_FUSION` are the ones the engine uses; they are tuned on
SciFact *train* qrels (benchmarks/bench_quality.py) and may be changed there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Ranked = Sequence[tuple[str, float]]

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
