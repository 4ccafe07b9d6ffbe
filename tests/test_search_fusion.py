"""Rank fusion on hand-computed inputs."""

from __future__ import annotations

import math

import pytest

from paperwire.search.fusion import (
    FusionConfig,
    fuse,
    min_max,
    rrf,
    score_combination,
    z_score,
)

LEX = [("a", 10.0), ("b", 5.0), ("c", 0.0)]
SEM = [("b", 0.9), ("d", 0.5), ("e", 0.1)]


def approx(pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(i, pytest.approx(s)) for i, s in pairs]  # type: ignore[misc]


def test_rrf_k60() -> None:
    fused = rrf([[("a", 9.0), ("b", 8.0), ("c", 7.0)], [("b", 1.0), ("d", 0.5)]], k=60)
    assert fused == approx([("b", 1 / 62 + 1 / 61), ("a", 1 / 61), ("d", 1 / 62), ("c", 1 / 63)])


def test_rrf_weights_and_ties_keep_first_seen_order() -> None:
    fused = rrf([[("a", 0), ("b", 0), ("c", 0)], [("b", 0), ("d", 0)]], k=0, weights=[2, 1])
    # a: 2/1 = 2; b: 2/2 + 1/1 = 2 (tie: a was seen first); c: 2/3; d: 1/2
    assert fused == approx([("a", 2.0), ("b", 2.0), ("c", 2 / 3), ("d", 0.5)])


def test_rrf_counts_a_repeated_id_once_at_its_best_rank() -> None:
    assert rrf([[("a", 3), ("a", 2), ("b", 1)]]) == approx([("a", 1 / 61), ("b", 1 / 63)])


def test_rrf_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="2 weights for 1 lists"):
        rrf([LEX], weights=[1, 2])
    with pytest.raises(ValueError):
        rrf([LEX], k=-1)
    assert rrf([]) == []
    assert rrf([[], []]) == []


def test_min_max_and_z_score() -> None:
    assert min_max(LEX) == approx([("a", 1.0), ("b", 0.5), ("c", 0.0)])
    assert min_max([("x", 3.0), ("y", 3.0)]) == [("x", 1.0), ("y", 1.0)]
    assert z_score([("x", 3.0), ("y", 1.0)]) == approx([("x", 1.0), ("y", -1.0)])
    assert z_score([("x", 2.0)]) == [("x", 0.0)]
    assert min_max([]) == [] and z_score([]) == []


def test_min_max_combination() -> None:
    # lexical: a=1, b=.5, c=0; semantic: b=1, d=.5, e=0; absent ids get the list floor 0.
    assert score_combination([LEX, SEM]) == approx(
        [("b", 1.5), ("a", 1.0), ("d", 0.5), ("c", 0.0), ("e", 0.0)]
    )
    weighted = score_combination([LEX, SEM], weights=[1.0, 3.0])
    assert weighted == approx([("b", 3.5), ("d", 1.5), ("a", 1.0), ("c", 0.0), ("e", 0.0)])


def test_z_score_combination() -> None:
    z = math.sqrt(1.5)  # (10-5)/sqrt(50/3) == (0.9-0.5)/sqrt(0.32/3) == 1.2247…
    assert score_combination([LEX, SEM], normalise="zscore") == approx(
        [("b", z), ("a", 0.0), ("d", -z), ("c", -2 * z), ("e", -2 * z)]
    )
    with pytest.raises(ValueError, match="unknown normalisation"):
        score_combination([LEX], normalise="softmax")


def test_fuse_cuts_each_list_to_depth_and_dispatches() -> None:
    config = FusionConfig(method="rrf", k=0, weights=(1.0, 1.0), depth=2)
    assert fuse(LEX, SEM, config) == approx([("b", 1 / 2 + 1), ("a", 1.0), ("d", 0.5)])
    minmax = fuse(LEX, SEM, FusionConfig(method="minmax", depth=2))
    # lexical cut to a=1, b=0; semantic to b=1, d=0
    assert minmax == approx([("a", 1.0), ("b", 1.0), ("d", 0.0)])
