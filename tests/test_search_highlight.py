"""Highlighted snippets: escaped HTML, stem-aware marks, best window."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from paperwire.latex import latex_to_text, math_spans
from paperwire.search.highlight import highlight
from paperwire.search.lexical import text_analyzer

ANALYZE = text_analyzer().analyze

# Real titles and abstracts (arXiv 2503.12827, 2503.18652, 2504.04482, 2503.13756).
GSBAK = "GSBAK$^K$: $top$-$K$ Geometric Score-based Black-box Attack"
WING = "Robust face recognition based on the wing loss and the $\\ell_1$ regularization"
ALPHA = (
    "that dynamically tunes the segmentation threshold based on a user-defined risk\n"
    "level $\\alpha$. Utilizing exchangeable calibration data, this method ensures\n"
    "that the expected FNR or FDR on test data remains below $\\alpha$ with high\n"
    "probability."
)
ALIGNMENT = (
    "Many applications of computer vision rely on the alignment of similar but\n"
    "non-identical images. We present a fast algorithm for aligning heterogeneous\n"
    "images based on optimal transport. Our approach combines the speed of fast\n"
    "Fourier methods with the robustness of sliced probability metrics and allows us\n"
    "to efficiently compute the alignment between two $L \\times L$ images using the\n"
    "sliced 2-Wasserstein distance in $O(L^2 \\log L)$ operations. We show that our\n"
    "method is robust to translations, rotations and deformations in the images."
)


def terms_of(query: str) -> set[str]:
    return {t for word in re.findall(r"\w+", query) for t in ANALYZE(word)}


def assert_math_intact(snippet: str) -> None:
    """Every $ of `snippet` belongs to a formula, and no formula holds a tag."""
    formulas = [m.group(0) for m in math_spans(snippet)]
    assert snippet.count("$") == sum(f.count("$") for f in formulas), snippet
    assert not any("<" in f for f in formulas), snippet


def test_marks_stemmed_matches_and_escapes_everything() -> None:
    text = 'Agents & <b>agent</b> "modelling" of LLM-based agents'
    html = highlight(text, {"agent", "model"}, ANALYZE)
    assert html == (
        "<mark>Agents</mark> &amp; &lt;b&gt;<mark>agent</mark>&lt;/b&gt; "
        "&quot;<mark>modelling</mark>&quot; of LLM-based <mark>agents</mark>"
    )


def test_only_mark_tags_are_added() -> None:
    text = "<script>alert('x')</script> attention <img src=x onerror=alert(1)>"
    html = highlight(text, {"attent", "script", "alert"}, ANALYZE)
    assert "<script" not in html and "<img" not in html
    assert set(re.findall(r"</?[a-z]+", html)) == {"<mark", "</mark"}


def test_no_terms_gives_escaped_text() -> None:
    assert highlight("a < b", set(), ANALYZE) == "a &lt; b"
    assert highlight("", {"x"}, ANALYZE) == ""


def test_window_centres_on_the_matches() -> None:
    words = [f"filler{i}" for i in range(200)]
    words[150] = "diffusion"
    words[152] = "diffusion"
    html = highlight(" ".join(words), {"diffus"}, ANALYZE, max_chars=120)
    assert html.startswith("…") and html.endswith("…")
    assert html.count("<mark>diffusion</mark>") == 2
    assert len(html.replace("<mark>", "").replace("</mark>", "")) <= 122


def test_short_text_is_not_cut() -> None:
    assert highlight("graph nets", {"graph"}, ANALYZE, max_chars=300) == "<mark>graph</mark> nets"


def test_unicode_and_latex() -> None:
    # terms are analysed query words: the index folds accents, "für" and "fur" are "fur"
    terms = {t for w in ("alpha", "für", "schrodinger") for t in ANALYZE(w)}
    html = highlight("Schrödinger $\\alpha$-divergence für Graphen", terms, ANALYZE)
    assert html == (
        "<mark>Schrödinger</mark> <mark>$\\alpha$</mark>-divergence <mark>für</mark> Graphen"
    )


@pytest.mark.parametrize(
    ("text", "query", "marked"),
    [
        (ALPHA, "alpha", "level <mark>$\\alpha$</mark>. Utilizing"),
        (GSBAK, "GSBAK top K geometric", "<mark>GSBAK</mark><mark>$^K$</mark>: <mark>$top$</mark>"),
        (WING, "wing loss ell_1", "the <mark>$\\ell_1$</mark> regularization"),
    ],
)
def test_a_formula_holding_a_match_is_marked_whole(text: str, query: str, marked: str) -> None:
    # A <mark> inside $…$ splits the formula: KaTeX then pairs the wrong $ signs.
    html = highlight(text, terms_of(query), ANALYZE)
    assert marked in html
    assert_math_intact(html)


@pytest.mark.parametrize("max_chars", [30, 60, 120, 200, 320])
def test_a_snippet_never_cuts_a_formula(max_chars: int) -> None:
    html = highlight(ALIGNMENT, terms_of("log"), ANALYZE, max_chars=max_chars)
    assert "<mark>$O(L^2 \\log L)$</mark>" in html
    assert_math_intact(html)
    assert len(re.sub("</?mark>", "", html)) <= max_chars + max_chars // 5 + 2


def test_snippets_of_real_abstracts_keep_their_math(web_subset: Path) -> None:
    # Every abstract with math in the web subset, highlighted on a word inside each of
    # its formulas and on a word outside, at several widths.
    checked = 0
    with web_subset.open() as lines:
        for line in lines:
            text = latex_to_text(json.loads(line)["summary"])
            formulas = math_spans(text)
            if not formulas or text.count("$") != sum(f.group(0).count("$") for f in formulas):
                continue  # no math, or a $ that is no formula's (a price): nothing to keep
            inside = " ".join(re.findall(r"[a-z]{2,}", " ".join(f.group(0) for f in formulas)))
            for query in (inside, "model", f"{inside} model"):
                for max_chars in (80, 160, 320):
                    assert_math_intact(highlight(text, terms_of(query), ANALYZE, max_chars))
            checked += 1
    assert checked > 50


def test_text_holding_the_tag_placeholders_is_escaped_piece_by_piece() -> None:
    # The fast path escapes the window once with private-use placeholders for the tags;
    # a text that already holds those characters must keep them as text, not as tags.
    text = "graph \ue000 \ue001graph <b> \ue000"
    html = highlight(text, {"graph"}, ANALYZE)
    assert html == "<mark>graph</mark> \ue000 \ue001<mark>graph</mark> &lt;b&gt; \ue000"
    assert highlight("x \ue001", {"graph"}, ANALYZE) == "x \ue001"


def test_words_whose_stem_rewrites_their_end_are_marked() -> None:
    # Candidates are found by the stem less its last letter ("safeti" <- "safety"), and
    # by first letter + "y" for the "-ying" words whose stem ends "ie" ("lie" <- "lying").
    text = "Lying and dying: studies of safety while driving, vying for AI"
    terms = {
        t for w in ("lying", "dying", "study", "safety", "drive", "vie", "ai") for t in ANALYZE(w)
    }
    assert terms == {"lie", "die", "studi", "safeti", "drive", "vie", "ai"}
    html = highlight(text, terms, ANALYZE)
    assert re.findall(r"<mark>(\w+)</mark>", html) == [
        "Lying",
        "dying",
        "studies",
        "safety",
        "driving",
        "vying",
        "AI",
    ]
