"""Text shortened for display keeps whole grapheme clusters: snippets, digest abstracts,
previews, recommendation titles and diagnostics never end (or begin) inside 👩‍💻, 🇩🇪, é
(e + combining accent) or 👍🏽."""

from __future__ import annotations

import ast
import html
import re
import unicodedata
from datetime import date

import httpx
import regex
from hypothesis import given
from hypothesis import strategies as st

from paperwire.digest.render import Links, render_digest
from paperwire.graphemes import clip, cut_index, grapheme_floor, shorten
from paperwire.models import Author, Digest, DigestSection, Paper, Subscriber
from paperwire.recommend.explain import short_title
from paperwire.search.engine import _unsearchable
from paperwire.search.highlight import highlight
from paperwire.search.lexical import text_analyzer
from paperwire.sources.http import _snippet
from paperwire.web.render import preview

# four clusters of 3, 2, 2 and 2 code points: a ZWJ sequence, a flag, a letter and its
# combining accent, an emoji and its skin tone
UNIT = "👩\u200d💻" + "🇩🇪" + "e\u0301" + "👍🏽"
LONG = UNIT * 80  # 720 code points, no space: every cut must find a cluster boundary


def clusters(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def assert_whole(shown: str, original: str) -> None:
    """`shown` (less ellipses and tags) is made of clusters of `original` only (in either
    normal form: search snippets are marked in NFC)."""
    piece = html.unescape(re.sub(r"</?mark>", "", shown)).strip("… ")
    assert piece, shown
    whole = set(clusters(original)) | set(clusters(unicodedata.normalize("NFC", original)))
    assert set(clusters(piece)) <= whole, [c for c in clusters(piece) if c not in whole]


_PIECES = st.sampled_from(
    ["a", " ", "\r", "\n", "\u200d", "\u0301", "🇩", "🇪", "👩", "💻", "🏽", "\u0600", "\u0903",
     "\u1100", "\u1161", "\u11a8", "क", "\u094d", "é", "\ufe0f", "1", "\u20e3"]
)  # fmt: skip


@given(st.lists(_PIECES, max_size=40).map("".join), st.integers(min_value=-2, max_value=45))
def test_floor_is_the_last_boundary_of_a_full_segmentation(text: str, at: int) -> None:
    """The ASCII shortcut of grapheme_floor agrees with segmenting the whole text."""
    bounds = [0] + [m.end() for m in regex.finditer(r"\X", text)]
    assert grapheme_floor(text, at) == max(b for b in bounds if b <= max(at, 0))


def test_shortening_cuts_at_spaces_else_between_clusters() -> None:
    assert shorten("deep graph networks", 12) == "deep graph…"
    assert shorten("deep graph networks", 100) == "deep graph networks"
    assert shorten("supercalifragilistic", 6, words=False) == "super…"
    assert shorten("🇩🇪🇫🇷🇮🇹", 4, words=False) == "🇩🇪…"  # not 🇩🇪 and half of 🇫🇷
    assert clip("a👍🏽b", 2) == "a" and clip("a👍🏽b", 3) == "a👍🏽"
    assert cut_index("e\u0301" * 3, 3, words=False) == 2
    zalgo = "a" + "\u0301" * 50 + " b"  # one cluster longer than the limit: kept whole
    assert shorten(zalgo, 10, words=False) == "a" + "\u0301" * 50 + "…"
    assert shorten("x\r\nyz", 3, words=False) == "x…"  # CR LF is one cluster


def test_search_snippets_keep_whole_clusters() -> None:
    analyze = text_analyzer().analyze
    for shift in range(len(UNIT)):  # the window's ends fall at every place in a UNIT
        text = LONG[: len(LONG) - shift] + "💻graph" + LONG
        snippet = highlight(text, {"graph"}, analyze, max_chars=100 + shift)
        assert "<mark>graph</mark>" in snippet
        assert snippet.startswith("…") and snippet.endswith("…")
        assert_whole(snippet, text)


def test_digest_abstracts_keep_whole_clusters() -> None:
    for shift in range(len(UNIT)):
        abstract = UNIT[shift:] + LONG
        paper = Paper("2607.00001", "T", abstract, authors=[Author("A")], categories=["cs.CL"])
        section = DigestSection("trending", "cs.CL", "trending in cs.CL", [paper])
        day = date(2026, 7, 1)
        digest = Digest(Subscriber(1, "a@example.org"), "daily:2026-07-01", day, day, [section])
        out = render_digest(digest, Links("http://127.0.0.1:9/", "http://m/m", "http://m/u"))
        text_line = next(line for line in out.text.splitlines() if "…" in line)
        html_div = re.search(r"line-height:1.4\">([^<]*)</div>", out.html)
        assert html_div is not None
        for shown in (text_line, html_div.group(1)):
            assert_whole(shown, abstract)


def test_previews_titles_and_messages_keep_whole_clusters() -> None:
    for shift in range(len(UNIT)):
        text = UNIT[shift:] + LONG
        assert_whole(preview(text), text)
        assert_whole(short_title(text), text)
        message = _unsearchable([text])  # the word is shown as its repr
        assert_whole(ast.literal_eval(message.split(" has no searchable")[0]), text)
        assert_whole(_snippet(httpx.Response(503, text=text)), text)
        assert_whole(clip(text, 40), text)
