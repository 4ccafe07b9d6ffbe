"""Rank fusion on hand-computed inputs."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from paperwire.search.fusion import (
    DEFAULT_ADAPTIVE,
    STATIC_FUSION,
    AdaptiveFusion,
    FusionConfig,
    HitVectors,
    QueryFeatures,
    adaptive_fuse,
    fuse,
    fusion_weights,
    keeps_top_hit,
    lexical_margin,
    match_words,
    min_max,
    needs_overlap,
    neighbour_smoothing,
    phrase_overlap,
    query_features,
    rrf,
    score_combination,
    wants_overlap,
    wants_smoothing,
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


# -- query-adaptive fusion -------------------------------------------------------------

MINMAX = FusionConfig(method="minmax", weights=(0.5, 0.5), depth=10)
ADAPT = AdaptiveFusion(
    base=MINMAX, short_terms=3, short_weights=(0.9, 0.1), pin_terms=5, pin_margin=0.4
)


def test_lexical_margin_is_the_lead_of_the_best_hit_over_the_second() -> None:
    assert lexical_margin([("a", 10.0), ("b", 4.0), ("c", 1.0)]) == pytest.approx(0.6)
    assert lexical_margin([("a", 5.0), ("b", 5.0)]) == 0.0
    assert lexical_margin([("a", 2.0)]) == 1.0
    assert lexical_margin([]) == 0.0
    assert lexical_margin([("a", 0.0), ("b", 0.0)]) == 0.0
    assert query_features(LEX, 7) == QueryFeatures(terms=7, lexical_margin=0.5)


def test_short_queries_weigh_words_more_and_long_ones_use_the_base_weights() -> None:
    for terms, weights in ((0, (0.5, 0.5)), (1, (0.9, 0.1)), (3, (0.9, 0.1)), (4, (0.5, 0.5))):
        assert fusion_weights(QueryFeatures(terms, 0.0), ADAPT) == weights
    assert fusion_weights(QueryFeatures(2, 0.0), STATIC_FUSION) == STATIC_FUSION.base.weights


def test_the_top_hit_is_kept_only_past_the_margin() -> None:
    assert keeps_top_hit(QueryFeatures(10, 0.4), ADAPT)
    assert keeps_top_hit(QueryFeatures(5, 1.0), ADAPT)
    assert not keeps_top_hit(QueryFeatures(10, 0.39), ADAPT)
    assert not keeps_top_hit(QueryFeatures(4, 1.0), ADAPT)  # too short to be pasted text
    assert not keeps_top_hit(QueryFeatures(10, 1.0), STATIC_FUSION)


# A pasted title: its paper "t" leads the word matches by far, but semantic search puts two
# look-alikes first, so plain fusion would rank it third.
PASTED_LEX = [("t", 30.0), ("x", 12.0), ("y", 11.0), ("z", 10.0)]
PASTED_SEM = [("x", 0.9), ("y", 0.88), ("z", 0.5), ("t", 0.1)]


def test_a_clearly_leading_word_match_stays_first() -> None:
    plain = fuse(PASTED_LEX, PASTED_SEM, MINMAX)
    # min-max: t = .5 * 1 + .5 * 0; x = .5 * .1 + .5 * 1; y = .5 * .05 + .5 * .975
    assert plain == approx([("x", 0.55), ("y", 0.5125), ("t", 0.5), ("z", 0.25)])
    kept = adaptive_fuse(PASTED_LEX, PASTED_SEM, 8, ADAPT)
    assert adaptive_fuse(PASTED_LEX, PASTED_SEM, 4, ADAPT)[0][0] != "t"  # a typed query
    assert kept[0] == ("t", plain[0][1])  # takes the head's score
    assert kept[1:] == [item for item in plain if item[0] != "t"]
    scores = [s for _, s in kept]
    assert scores == sorted(scores, reverse=True)


def test_without_a_clear_lead_it_fuses_as_configured() -> None:
    close = [("t", 13.0), ("x", 12.0), ("y", 11.0), ("z", 10.0)]  # margin 1/13
    assert adaptive_fuse(close, PASTED_SEM, 8, ADAPT) == fuse(close, PASTED_SEM, MINMAX)
    short = fuse(close, PASTED_SEM, FusionConfig(method="minmax", weights=(0.9, 0.1), depth=10))
    assert adaptive_fuse(close, PASTED_SEM, 2, ADAPT) == short
    assert short != fuse(close, PASTED_SEM, MINMAX)
    # The static config is the old behaviour, whatever the query.
    assert adaptive_fuse(PASTED_LEX, PASTED_SEM, 2, STATIC_FUSION) == fuse(
        PASTED_LEX, PASTED_SEM, STATIC_FUSION.base
    )


def test_adaptive_fuse_with_an_empty_half() -> None:
    assert adaptive_fuse([], PASTED_SEM, 5, ADAPT) == fuse([], PASTED_SEM, MINMAX)
    assert adaptive_fuse(PASTED_LEX, [], 5, ADAPT) == fuse(PASTED_LEX, [], MINMAX)
    assert adaptive_fuse([], [], 5, DEFAULT_ADAPTIVE) == []


# -- near-exact word matches ------------------------------------------------------------


def test_match_words_render_latex_fold_case_and_accents_and_drop_punctuation() -> None:
    assert match_words(r"Schr\"odinger's \emph{Équation}, re-visited: 3D!") == [
        "schrodinger",
        "s",
        "equation",
        "re",
        "visited",
        "3d",
    ]
    assert match_words("--- ; ") == []


ABSTRACT = (
    "We study sparse attention. Our method, Sparse-K, cuts the cost of long-context "
    "inference by 40% without retraining. Code is released."
)


def test_phrase_overlap_of_a_pasted_sentence_is_one() -> None:
    sentence = "our METHOD sparse k cuts the cost of long-context inference"
    assert phrase_overlap(sentence, ("A title", ABSTRACT)) == 1.0
    assert phrase_overlap("Sparse attention", ("On Sparse Attention", "")) == 1.0
    # the same words out of order are not one run: only the word pairs count
    shuffled = "cuts the cost of our method sparse k"
    assert phrase_overlap(shuffled, ("", ABSTRACT)) == pytest.approx(6 / 7)


def test_phrase_overlap_is_the_best_field_share_of_word_pairs() -> None:
    # one word changed in a pasted sentence: 8 of its 10 word pairs are still in the abstract
    edited = "our method sparse k cuts the price of long context inference"
    assert phrase_overlap(edited, ("", ABSTRACT)) == pytest.approx(8 / 10)
    assert phrase_overlap("sparse attention for graphs", (ABSTRACT, "")) == pytest.approx(1 / 3)
    assert phrase_overlap("unrelated words here", ("title", ABSTRACT)) == 0.0
    assert phrase_overlap("attention", ("", ABSTRACT)) == 1.0  # one word: in it or not
    assert phrase_overlap("retrieval", ("", ABSTRACT)) == 0.0
    assert phrase_overlap("?!", ("", ABSTRACT)) == 0.0


def test_a_near_exact_top_hit_is_kept_for_long_enough_queries() -> None:
    near = AdaptiveFusion(base=MINMAX, pin_margin=math.inf, match_terms=5, match_overlap=0.8)
    assert wants_overlap(5, near) and not wants_overlap(4, near)
    assert not wants_overlap(20, STATIC_FUSION)
    assert keeps_top_hit(QueryFeatures(5, 0.0, 0.8), near)
    assert not keeps_top_hit(QueryFeatures(5, 0.0, 0.79), near)
    assert not keeps_top_hit(QueryFeatures(4, 0.0, 1.0), near)  # a typed topic
    assert not keeps_top_hit(QueryFeatures(30, 1.0, 1.0), STATIC_FUSION)
    assert query_features(LEX, 6, 0.9) == QueryFeatures(6, 0.5, 0.9)


def test_overlap_is_needed_only_where_the_margin_does_not_already_keep_the_top_hit() -> None:
    """Hybrid search skips loading the best hit's text when phrase_overlap cannot change
    the result: a short query, or a long one whose best hit leads by the pin margin."""
    both = AdaptiveFusion(base=MINMAX, pin_terms=8, pin_margin=0.3, match_terms=5)
    leading = [("t", 10.0), ("x", 6.0)]  # margin 0.4
    close = [("t", 10.0), ("x", 9.0)]  # margin 0.1
    assert needs_overlap(close, 9, both) and needs_overlap(leading, 7, both)  # 7 < pin_terms
    assert not needs_overlap(leading, 8, both) and not needs_overlap(close, 4, both)
    assert not needs_overlap([], 9, both) and not needs_overlap(close, 9, STATIC_FUSION)
    for lexical, terms in ((leading, 8), (leading, 9)):  # skipped: kept whatever the overlap
        features = query_features(lexical, terms)
        assert keeps_top_hit(features, both)


def test_a_pasted_sentence_hit_stays_first_without_a_bm25_lead() -> None:
    """Sentences pasted from an abstract often share many words with other papers, so BM25
    barely separates them; holding the sentence word for word keeps the hit first."""
    close = [("t", 13.0), ("x", 12.0), ("y", 11.0), ("z", 10.0)]  # margin 1/13: no pin
    near = AdaptiveFusion(
        base=MINMAX, short_terms=0, pin_margin=math.inf, match_terms=5, match_overlap=0.8
    )
    plain = fuse(close, PASTED_SEM, MINMAX)
    assert plain[0][0] != "t"
    assert adaptive_fuse(close, PASTED_SEM, 9, near, top_overlap=0.7) == plain
    assert adaptive_fuse(close, PASTED_SEM, 4, near, top_overlap=1.0) == plain
    kept = adaptive_fuse(close, PASTED_SEM, 9, near, top_overlap=1.0)
    assert kept == [("t", plain[0][1])] + [item for item in plain if item[0] != "t"]


# -- neighbour smoothing ------------------------------------------------------------------

SMOOTH_FUSED = [("a", 3.0), ("b", 2.9), ("c", 2.8), ("d", 0.0)]
# b has no vector; cosines: a-c 0.8, a-d 0.0, c-d 0.6
SMOOTH_VECTORS = {
    "a": np.array([1.0, 0.0], dtype=np.float32),
    "c": np.array([0.8, 0.6], dtype=np.float32),
    "d": np.array([0.0, 1.0], dtype=np.float32),
}


def test_neighbour_smoothing_adds_the_mean_score_of_the_nearest_hits() -> None:
    # a's nearest is c: 3 + .5 * 2.8; c's is a: 2.8 + .5 * 3; d's is c: 0 + .5 * 2.8
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 1, 0.5) == approx(
        [("a", 4.4), ("c", 4.3), ("b", 2.9), ("d", 1.4)]
    )
    # two neighbours each: a (c, d) 3 + .5 * 1.4; c (a, d) 2.8 + .5 * 1.5; d (c, a) 0 + .5 * 2.9
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 2, 0.5) == approx(
        [("a", 3.7), ("c", 3.55), ("b", 2.9), ("d", 1.45)]
    )


def test_neighbour_smoothing_over_a_matrix_of_hits_equals_it_over_a_mapping() -> None:
    """Hybrid search hands smoothing one matrix (HitVectors), in its own row order and
    with rows of papers that are not hits; that must not change the result."""
    extra = np.array([0.6, 0.8], dtype=np.float32)  # near d, but not a hit
    rows = {
        "d": SMOOTH_VECTORS["d"],
        "x": extra,
        "c": SMOOTH_VECTORS["c"],
        "a": SMOOTH_VECTORS["a"],
    }
    table = HitVectors(list(rows), np.stack(list(rows.values())))
    for neighbours in (1, 2):
        assert neighbour_smoothing(SMOOTH_FUSED, table, neighbours, 0.5) == approx(
            neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, neighbours, 0.5)
        )
    assert table.rows(["a", "b", "x"]) == [3, -1, 1]
    assert len(table) == 4 and all(np.array_equal(table[i], v) for i, v in rows.items())
    assert list(HitVectors.of(SMOOTH_VECTORS, ["c", "b", "a", "c"])) == ["c", "a"]
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        HitVectors(["a", "b"], np.zeros((1, 2), dtype=np.float32))


def test_hit_vectors_plus_appends_only_new_ids() -> None:
    """Hybrid search gathers the word matches' vectors while the query embeds, then the
    rest: the second gather adds only ids the first lacks, after them."""
    first = HitVectors.of(SMOOTH_VECTORS, ["c", "a"])
    both = first.plus({"d": SMOOTH_VECTORS["d"], "a": np.zeros(2, dtype=np.float32)})
    assert list(both) == ["c", "a", "d"] and "d" in both and "b" not in both
    assert np.array_equal(both["a"], SMOOTH_VECTORS["a"])  # the first gather's vector
    assert first.plus({}) is first and list(HitVectors.of({}, ()).plus(first)) == ["c", "a"]
    more = HitVectors.of(SMOOTH_VECTORS, ["d"])
    assert list(first.plus(more)) == ["c", "a", "d"] and np.array_equal(
        both.matrix, first.plus(more).matrix
    )


def test_neighbour_smoothing_of_the_head_only_raises_the_first_hits() -> None:
    # head 1: only a (the best hit with a vector) gains: 3 + .5 * 2.8 (its nearest, c)
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 1, 0.5, head=1) == approx(
        [("a", 4.4), ("b", 2.9), ("c", 2.8), ("d", 0.0)]
    )
    # head 2: a and c (b has no vector); d, outside it, keeps its score
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 1, 0.5, head=2) == approx(
        [("a", 4.4), ("c", 4.3), ("b", 2.9), ("d", 0.0)]
    )
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 1, 0.5, head=9) == approx(
        neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 1, 0.5)
    )


def test_neighbour_smoothing_needs_more_vectors_than_neighbours() -> None:
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 3, 0.5) == SMOOTH_FUSED
    assert neighbour_smoothing(SMOOTH_FUSED, SMOOTH_VECTORS, 0, 0.5) == SMOOTH_FUSED
    assert neighbour_smoothing(SMOOTH_FUSED, {}, 1, 0.5) == SMOOTH_FUSED
    assert neighbour_smoothing([], SMOOTH_VECTORS, 1, 0.5) == []


def test_adaptive_fuse_smooths_only_queries_longer_than_short_ones() -> None:
    smooth = AdaptiveFusion(
        base=MINMAX, short_terms=3, pin_margin=math.inf, smooth_neighbours=1, smooth_weight=0.5
    )
    lexical = [("a", 9.0), ("b", 8.0), ("c", 7.0), ("d", 1.0)]
    semantic = [("c", 0.9), ("a", 0.85), ("d", 0.5), ("b", 0.1)]
    assert wants_smoothing(4, smooth) and not wants_smoothing(3, smooth)
    assert not wants_smoothing(20, STATIC_FUSION)
    plain = fuse(lexical, semantic, MINMAX)
    smoothed = adaptive_fuse(lexical, semantic, 4, smooth, vectors=SMOOTH_VECTORS)
    assert smoothed == neighbour_smoothing(plain, SMOOTH_VECTORS, 1, 0.5)
    assert [i for i, _ in plain] == ["a", "c", "b", "d"]
    assert [i for i, _ in smoothed] == ["a", "c", "d", "b"]  # d is near c; b has no vector
    assert adaptive_fuse(lexical, semantic, 4, smooth) == plain  # no vectors given
    short = fuse(lexical, semantic, replace(MINMAX, weights=smooth.short_weights))
    assert adaptive_fuse(lexical, semantic, 3, smooth, vectors=SMOOTH_VECTORS) == short
