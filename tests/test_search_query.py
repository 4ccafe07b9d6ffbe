"""The query language parser (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from paperwire.search.query import (
    Clause,
    QueryError,
    format_query,
    parse_date_bound,
    parse_query,
    with_filters,
)

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
        ("since:3m", date(2026, 4, 1), None),  # calendar months: was Apr 2 (90 days)
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
        ("since:2025-13-01", "not a real date"),
        ("since:yesterday", "cannot read date"),
        ("since:2025-06-01 since:2025-07-01", "given twice"),
        ("since:2026-01-01 until:2025-01-01", "nothing can match"),
        ("cat:cs.CL!", "not an arXiv category"),
        ("diffusion cat:bogus", "'bogus' is not an arXiv category: write a class like cs.CL"),
        ("-cat:bogus.XY", "'bogus.XY' is not an arXiv category: write a class like cs.CL"),
        ("cat:,", "needs a category"),
        ("ti: graph", "needs a value"),
        ("au:", "needs a value"),
        ("graph neural networks au:", "needs a value"),
        ("ti:", "needs a value"),
        ("-since:7d", "cannot be negated"),
        ("x" * 2_001, "too long: 2,001 characters, at most 2,000"),
    ],
)
def test_malformed_queries_say_why(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_text_that_only_looks_like_syntax() -> None:
    q = parse('ratio 3:1 "foo:bar" (a OR b) * $\\alpha$ Note:')
    # math delimiters mean nothing to the index: a query has none (see NOT_MATH)
    assert q.free_words == ("ratio", "3:1", "(a", "OR", "b)", "*", "·\\alpha·", "Note:")
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


def test_query_of_the_length_cap_parses() -> None:
    q = parse(("neural " * 300)[:2000])
    assert len(q.free_words) == 286 and len(q.raw) == 2000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("since:２０２５-04-24", "cannot read date '２０２５-04-24': use YYYY-MM-DD"),
        ("until:2025-0４", "cannot read date '2025-0４'"),
        ("since:７d", "cannot read date '７d'"),
        ("since:2025-13-01", "'2025-13-01' is not a real date: month 13 is not 01-12"),
        ("until:2025-02-30", "'2025-02-30' is not a real date: February 2025 has 28 days"),
        ("since:0000", "'0000' is not a real date: years begin at 0001"),
    ],
)
def test_dates_are_ascii_and_their_messages_our_own(text: str, message: str) -> None:
    with pytest.raises(QueryError) as err:
        parse(text)
    assert str(err.value) == message or str(err.value).startswith(message), str(err.value)
    assert "isoformat" not in str(err.value) and "out of range" not in str(err.value)


def test_the_last_month_and_year_end_on_their_last_day() -> None:
    assert parse("until:9999-12").until == date(9999, 12, 31)
    assert parse("until:9999").until == date(9999, 12, 31)
    assert parse("since:9999-12").since == date(9999, 12, 1)


@pytest.mark.parametrize(
    ("text", "today", "bound"),
    [
        ("1m", date(2026, 3, 1), date(2026, 2, 1)),  # was 2026-01-30 (30-day months)
        ("3m", date(2026, 3, 1), date(2025, 12, 1)),
        ("1m", date(2026, 3, 31), date(2026, 2, 28)),  # a shorter month: its last day
        ("1m", date(2024, 3, 31), date(2024, 2, 29)),
        ("12m", date(2026, 3, 15), date(2025, 3, 15)),
        ("1y", date(2026, 3, 15), date(2025, 3, 15)),  # 1y == 12m (was 365 days)
        ("1y", date(2024, 2, 29), date(2023, 2, 28)),
        ("4y", date(2024, 2, 29), date(2020, 2, 29)),
        ("13m", date(2026, 1, 31), date(2024, 12, 31)),
        ("300y", date(2026, 7, 1), date(1726, 7, 1)),
    ],
)
def test_relative_months_and_years_are_calendar_ones(text: str, today: date, bound: date) -> None:
    assert parse_date_bound(text, today=today, upper=False) == bound
    assert parse_date_bound(text, today=today, upper=True) == bound


def test_relative_date_must_be_sane() -> None:
    with pytest.raises(QueryError):
        parse_date_bound("999999d", today=TODAY, upper=False)
    for too_far in ("301y", "3601m"):
        with pytest.raises(QueryError, match="reaches too far back"):
            parse_date_bound(too_far, today=TODAY, upper=False)


@pytest.mark.parametrize(
    ("text", "words", "note"),
    [
        # LaTeX quotes in a pasted sentence: the lone closing " is left out
        (
            'this ``self-refine" loop improves',
            ("this", "“self-refine", "loop", "improves"),
            "quote",
        ),
        ('ti:"unclosed', (), "quote"),
        (
            "BERT:pre-training of deep",
            ("BERT:pre-training", "of", "deep"),
            "'bert:' is not a field",
        ),
        ("Abstract: we study graphs", ("Abstract:", "we", "study", "graphs"), "abstract:word"),
    ],
)
def test_prose_with_syntax_errors_is_searched_with_a_note(
    text: str, words: tuple[str, ...], note: str
) -> None:
    q = parse(text)
    assert q.free_words == words
    assert len(q.notes) == 1 and note in q.notes[0]


def test_dashes_and_punctuation_are_not_operators() -> None:
    q = parse('Scaling laws -- revisited - again -. "..." -"--"')
    assert q.free_words == ("Scaling", "laws", "–", "revisited", "-", "again", ".", "...", "–")
    assert q.excluded == () and q.required == () and q.notes == ()
    assert parse("-- x").free_words == ("–", "x")


def test_latex_in_the_query_is_read_as_characters() -> None:
    assert parse('T\\"ornberg {\\o}rsted').free_words == ("Törnberg", "ørsted")
    assert parse('au:"Petter T\\"ornberg"').required == (
        Clause("authors", "Petter Törnberg", phrase=True),
    )


def test_structured_filters_are_values_anded_with_the_query() -> None:
    q = with_filters(parse("quantum cat:cs.CL since:2025"), category="cs.CV,math")
    assert q.categories == ("cs.cl",) and q.category_filter == ("cs.cv", "math")
    assert q.free_words == ("quantum",) and q.since == date(2025, 1, 1)
    narrowed = with_filters(q, since=date(2025, 6, 1), until=date(2025, 7, 1))
    assert (narrowed.since, narrowed.until) == (date(2025, 6, 1), date(2025, 7, 1))
    for bad in ("x OR au:smith", '"', "cs.CL)", "bogus", "cs.CL,bogus"):
        with pytest.raises(QueryError, match="not an arXiv category"):
            with_filters(parse("quantum"), category=bad)
    with pytest.raises(QueryError, match="nothing can match"):
        with_filters(parse("since:2026-01-01"), until=date(2025, 1, 1))


def test_format_query_round_trips() -> None:
    text = 'llm "exact phrase" ti:diffusion abs:"score matching" au:smi -video -ti:x cat:cs.CL,cs -cat:cs.RO since:7d until:2026'
    q = parse(text)
    assert format_query(q) == (
        'llm "exact phrase" ti:diffusion abs:"score matching" au:smi -"video" -ti:x '
        "cat:cs.cl,cs -cat:cs.ro since:2026-06-24 until:2026-12-31"
    )
    assert parse(format_query(q)) == q


def test_an_arxiv_id_with_category_and_date_items_is_a_lookup() -> None:
    q = parse("2503.11731 cat:cs.CL -cat:cs.RO since:2025")
    assert q.arxiv_id == "2503.11731" and q.categories == ("cs.cl",)
    assert q.excluded_categories == ("cs.ro",) and q.since == date(2025, 1, 1)
    assert parse("until:2026 https://arxiv.org/abs/2503.11731v2").arxiv_id == "2503.11731"
    assert parse(format_query(q)) == q
    for text in ("2503.11731 graphs", "2503.11731 -x", '2503.11731 "a b"', "2503.11731 au:smi"):
        assert parse(text).arxiv_id is None, text
