"""Highlighted snippets: escaped HTML, stem-aware marks, best window."""

from __future__ import annotations

import re

from paperwire.search.highlight import highlight
from paperwire.search.lexical import text_analyzer

ANALYZE = text_analyzer().analyze


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
        "<mark>Schrödinger</mark> $\\<mark>alpha</mark>$-divergence <mark>für</mark> Graphen"
    )


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
