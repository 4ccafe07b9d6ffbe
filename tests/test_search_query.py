"""The query language parser (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from paperwire.search.query import Clause, QueryError, parse_date_bound, parse_query

TODAY = date(2026, 7, 1)


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_query(text, today=TODAY)


def test_free_words_phrases_and_fields() -> None:
    q = parse('llm agents "exact phrase" ti:diffusion abs:"score matching" au:smith')
    assert q.free_words == ("llm", "agents")
    assert q.required == (
        Clause("any", "exact phrase", phrase=True),
        Clause("title", "diffusion"),
        Clause("abstract", "score matching", phrase=True),
        Clause("authors", "smith"),
    )
    assert q.semantic_text == "llm agents exact phrase diffusion score matching"
    assert q.has_text and q.has_filters and not q.is_empty


def test_long_field_names_and_case() -> None:
    q = parse('TITLE:Graph Author:"Yann LeC" Category:CS.cl')
    assert q.required == (Clause("title", "Graph"), Clause("authors", "Yann LeC", phrase=True))
    assert q.categories == ("cs.cl",)


def test_categories_are_ored_and_deduplicated() -> None:
    q = parse("cat:cs.CL cat:cs.CV,cs.cl -cat:cs.RO")
    assert q.categories == ("cs.cl", "cs.cv")
    assert q.excluded_categories == ("cs.ro",)


def test_exclusions() -> None:
    q = parse('transformers -video -"image generation" -ti:survey')
    assert q.free_words == ("transformers",)
    assert q.excluded == (
        Clause("any", "video", phrase=True),
        Clause("any", "image generation", phrase=True),
        Clause("title", "survey"),
    )


@pytest.mark.parametrize(
    ("text", "since", "until"),
    [
        ("since:2025-06-01", date(2025, 6, 1), None),
        ("until:2025-06-01", None, date(2025, 6, 1)),
        ("since:2025-02 until:2025-02", date(2025, 2, 1), date(2025, 2, 28)),
        ("since:2024 until:2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("since:7d", date(2026, 6, 24), None),
        ("since:2w", date(2026, 6, 17), None),
        ("since:3m", date(2026, 4, 2), None),
        ("since:1y", date(2025, 7, 1), None),
        ("until:2025-12", None, date(2025, 12, 31)),
    ],
)
def test_dates(text: str, since: date | None, until: date | None) -> None:
    q = parse(text)
    assert (q.since, q.until) == (since, until)
    assert not q.has_text and q.has_filters


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"unclosed phrase', "unbalanced quote"),
        ('ti:"unclosed', "unbalanced quote"),
        ("since:2025-13-01", "not a real date"),
        ("since:yesterday", "cannot read date"),
        ("since:2025-06-01 since:2025-07-01", "given twice"),
        ("since:2026-01-01 until:2025-01-01", "nothing can match"),
        ("foo:bar", "unknown field 'foo:'"),
        ("cat:cs.CL!", "not an arXiv category"),
        ("cat:,", "needs a category"),
        ("ti: graph", "needs a value"),
        ("-since:7d", "cannot be negated"),
        ("x" * 20_001, "too long"),
    ],
)
def test_malformed_queries_say_why(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_text_that_only_looks_like_syntax() -> None:
    q = parse('ratio 3:1 "foo:bar" (a OR b) * $\\alpha$ Note:')
    assert q.free_words == ("ratio", "3:1", "(a", "OR", "b)", "*", "$\\alpha$", "Note:")
    assert q.required == (Clause("any", "foo:bar", phrase=True),)


def test_urls_and_identifiers_are_text() -> None:
    q = parse("code at https://github.com/x/y arXiv:2401.00001 doi:10.1/abc ftp://h/f")
    assert q.free_words == (
        "code",
        "at",
        "https://github.com/x/y",
        "arXiv:2401.00001",
        "doi:10.1/abc",
        "ftp://h/f",
    )


def test_empty_and_blank() -> None:
    for text in ("", "   ", '""'):
        q = parse(text)
        assert q.is_empty and q.semantic_text == ""


def test_ten_kilobyte_query_parses() -> None:
    q = parse("neural " * 1500)
    assert len(q.free_words) == 1500


def test_relative_date_must_be_sane() -> None:
    with pytest.raises(QueryError):
        parse_date_bound("999999d", today=TODAY, upper=False)
