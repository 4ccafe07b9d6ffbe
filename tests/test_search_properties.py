"""Property-based tests (hypothesis) of the query parser and the analyzer, bounded to run
in seconds; benchmarks/fuzz_query.py runs the same properties for longer.

- parse_query never raises anything but QueryError, whatever it is given;
- printing a parsed query (format_query) and parsing it again gives the same query;
- a query of real words taken from a paper (as typed there: LaTeX, punctuation and all)
  finds that paper, as free words and as a quoted phrase.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from paperwire.models import Paper
from paperwire.search.lexical import LexicalIndex
from paperwire.search.query import QueryError, format_query, parse_query
from paperwire.sources.snapshot import parse_daily_listing
from query_pieces import QUERY_PIECES

TODAY = date(2026, 7, 1)
PAPERS = 300

# Pieces of queries (tests/query_pieces.py, shared with benchmarks/fuzz_query.py).
PIECES = st.sampled_from(QUERY_PIECES)
QUERIES = st.one_of(
    st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=12).map(" ".join),
    st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=12).map("".join),
    st.text(max_size=80),
)
BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(QUERIES)
def test_parser_raises_only_query_errors(text: str) -> None:
    try:
        parse_query(text, today=TODAY)
    except QueryError as exc:
        assert str(exc)


@BOUNDED
@given(QUERIES)
def test_printing_and_reparsing_is_stable(text: str) -> None:
    try:
        parsed = parse_query(text, today=TODAY)
    except QueryError:
        return
    printed = format_query(parsed)
    again = parse_query(printed, today=TODAY)
    assert again == parsed, printed
    assert format_query(again) == printed


# -- the analyzer: a paper's own words find it ---------------------------------------


@pytest.fixture(scope="module")
def corpus(web_subset: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Paper]:
    lines = web_subset.read_text().splitlines()[:PAPERS]
    return [parse_daily_listing(json.loads(line)) for line in lines]


@pytest.fixture(scope="module")
def index(corpus: list[Paper], tmp_path_factory: pytest.TempPathFactory) -> LexicalIndex:
    lexical = LexicalIndex(tmp_path_factory.mktemp("props") / "lexical")
    lexical.rebuild([corpus])
    return lexical


def _words(text: str) -> list[str]:
    """Words as written in a paper (quotes taken out: they would make phrases)."""
    return [w.replace('"', "") for w in text.split()]


def _operator(word: str) -> bool:
    """Words a search box reads as an operator (-word, ti:word)."""
    return word.startswith("-") or ":" in word


def _matches(index: LexicalIndex, text: str) -> set[str]:
    parsed = parse_query(text, today=TODAY)
    found = index.search(index.build_query(parsed), limit=PAPERS + 1, count=False)
    return {arxiv_id for arxiv_id, _ in found.ids}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_words_from_a_paper_find_it(
    corpus: list[Paper], index: LexicalIndex, data: st.DataObject
) -> None:
    paper = data.draw(st.sampled_from(corpus), label="paper")
    words = _words(data.draw(st.sampled_from([paper.title, paper.abstract]), label="field"))
    start = data.draw(st.integers(0, max(0, len(words) - 2)), label="start")
    size = data.draw(st.integers(1, 6), label="size")
    picked = [w for w in words[start : start + size] if w.strip()]
    assume(picked and any(ch.isalnum() for w in picked for ch in w))
    assume(not any(_operator(w) for w in picked))
    assert paper.arxiv_id in _matches(index, " ".join(picked)), picked
    phrase = '"' + " ".join(picked) + '"'
    assert paper.arxiv_id in _matches(index, phrase), phrase
