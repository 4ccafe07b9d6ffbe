"""Lexical search on a real corpus (first 2,000 records of the daily arXiv file).

Expected result sets are computed here from the raw JSON records with plain Python
(tokens from the same analyzer, so stemming agrees), never from the index itself.
"""

from __future__ import annotations

import itertools
import json
import lzma
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import DAILY_FILE, imported_service
from paperwire.search.lexical import name_analyzer, text_analyzer
from paperwire.search.query import QueryError
from paperwire.service import Service

N_RECORDS = 2000
TEXT = text_analyzer()
NAMES = name_analyzer()
Record = dict[str, Any]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in itertools.islice(handle, N_RECORDS)]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, records: list[Record]) -> Iterator[Service]:
    assert len(records) == N_RECORDS
    with imported_service(tmp_path_factory.mktemp("lexical"), records) as svc:
        yield svc


def all_ids(service: Service, query: str, **kw: Any) -> list[str]:
    """Every result id of `query`, walking all pages."""
    out: list[str] = []
    page = 1
    while True:
        result = service.search(query, page=page, per_page=200, mode="lexical", **kw)
        out += [h.paper.arxiv_id for h in result.hits]
        if len(out) >= result.total or not result.hits:
            assert len(out) == result.total
            return out
        page += 1


def tokens(text: str) -> list[str]:
    return list(TEXT.analyze(" ".join(text.split())))


def has_phrase(text: str, phrase: str) -> bool:
    doc, want = tokens(text), tokens(phrase)
    return any(doc[i : i + len(want)] == want for i in range(len(doc) - len(want) + 1))


def in_text(record: Record, phrase: str, fields: tuple[str, ...] = ("title", "summary")) -> bool:
    return any(has_phrase(record[f], phrase) for f in fields)


def author_prefix(record: Record, prefix: str) -> bool:
    return any(t.startswith(prefix) for name in record["authors"] for t in NAMES.analyze(name))


def author_words(record: Record, words: list[str]) -> bool:
    for name in record["authors"]:
        toks = list(NAMES.analyze(name))
        if any(toks[i : i + len(words)] == words for i in range(len(toks))):
            return True
    return False


def day(record: Record) -> date:
    return date.fromisoformat(record["listing_date"])


def expect(records: list[Record], keep: Any) -> set[str]:
    return {r["id"] for r in records if keep(r)}


# -- exact sets -------------------------------------------------------------------------


def test_phrase_matches_exactly(service: Service, records: list[Record]) -> None:
    got = all_ids(service, '"large language models"')
    assert set(got) == expect(records, lambda r: in_text(r, "large language models"))
    assert len(got) > 50


def test_title_and_abstract_fields(service: Service, records: list[Record]) -> None:
    got = set(all_ids(service, 'ti:diffusion abs:"image editing"'))
    want = expect(
        records,
        lambda r: in_text(r, "diffusion", ("title",)) and in_text(r, "image editing", ("summary",)),
    )
    assert got == want and got


def test_author_prefix_and_phrase_prefix(service: Service, records: list[Record]) -> None:
    assert set(all_ids(service, "au:zha")) == expect(records, lambda r: author_prefix(r, "zha"))
    assert set(all_ids(service, "au:l")) == expect(records, lambda r: author_prefix(r, "l"))
    got = set(all_ids(service, 'au:"wei li"'))
    assert got == expect(records, lambda r: author_words(r, ["wei", "li"])) and got
    # a quoted one-word name is that whole word, not a prefix (and never a 1-term phrase,
    # which tantivy refuses with a panic: a followed author "Li" once made a 500)
    got = set(all_ids(service, 'au:"li"'))
    assert got == expect(records, lambda r: author_words(r, ["li"])) and got
    assert got < set(all_ids(service, "au:l"))


def test_categories_are_ored_and_archives_match(service: Service, records: list[Record]) -> None:
    got = set(all_ids(service, "cat:cs.RO cat:eess.IV"))
    assert got == expect(records, lambda r: {"cs.RO", "eess.IV"} & set(r["categories"]))
    archive = set(all_ids(service, "cat:eess"))
    assert archive == expect(records, lambda r: any(c.startswith("eess.") for c in r["categories"]))
    assert archive > set(all_ids(service, "cat:eess.IV"))


def test_date_range_and_category_filter(service: Service, records: list[Record]) -> None:
    got = set(all_ids(service, "cat:cs.CL since:2025-03-20 until:2025-03-24"))
    want = expect(
        records,
        lambda r: "cs.CL" in r["categories"] and date(2025, 3, 20) <= day(r) <= date(2025, 3, 24),
    )
    assert got == want and got


def test_free_words_are_ored(service: Service, records: list[Record]) -> None:
    got = set(all_ids(service, "quantum hyperspectral"))
    want = expect(
        records,
        lambda r: any(
            in_text(r, w) or author_prefix_exact(r, w) for w in ("quantum", "hyperspectral")
        ),
    )
    assert got == want and got


def test_stopwords_are_not_ranked_by(service: Service, records: list[Record]) -> None:
    # "why" stems to "whi": it is still a stopword, so only "robots" is searched for
    got = set(all_ids(service, "why robots"))
    assert got == expect(
        records, lambda r: in_text(r, "robots") or author_prefix_exact(r, "robots")
    )
    assert expect(records, lambda r: in_text(r, "why")) - got  # papers saying "why" stay out
    hits = service.search("why robots", mode="lexical", per_page=200).hits
    marked = " ".join(h.highlights["title"] + h.highlights["abstract"] for h in hits)
    assert "<mark>robot" in marked.lower() and "<mark>why</mark>" not in marked.lower()
    # a query of stopwords alone searches them
    assert set(all_ids(service, "why")) == expect(records, lambda r: in_text(r, "why"))


def author_prefix_exact(record: Record, word: str) -> bool:
    return any(word in NAMES.analyze(name) for name in record["authors"])


def test_exclusions(service: Service, records: list[Record]) -> None:
    got = set(all_ids(service, 'ti:segmentation -video -"medical image" -cat:eess.IV'))
    want = expect(
        records,
        lambda r: (
            in_text(r, "segmentation", ("title",))
            and not in_text(r, "video")
            and not in_text(r, "medical image")
            and "eess.IV" not in r["categories"]
        ),
    )
    assert got == want and got


def test_filter_only_query_lists_newest_first(service: Service, records: list[Record]) -> None:
    result = service.search("cat:cs.CL", per_page=50, mode="lexical")
    assert result.sort == "date" and any("newest first" in n for n in result.notes)
    days = [h.paper.listing_date for h in result.hits]
    assert days == sorted(days, reverse=True)  # type: ignore[type-var]
    assert result.total == len(expect(records, lambda r: "cs.CL" in r["categories"]))


# -- ordering and pages -------------------------------------------------------------------


def test_pagination_has_no_overlaps_and_right_totals(service: Service) -> None:
    seen: list[str] = []
    first = service.search("segmentation", per_page=7, mode="lexical")
    pages = -(-first.total // 7)
    for page in range(1, pages + 2):
        result = service.search("segmentation", page=page, per_page=7, mode="lexical")
        assert result.total == first.total
        assert len(result.hits) == (
            7 if page < pages else first.total - 7 * (pages - 1) if page == pages else 0
        )
        seen += [h.paper.arxiv_id for h in result.hits]
    assert len(seen) == len(set(seen)) == first.total
    scores = [h.score for p in (first,) for h in p.hits]
    assert scores == sorted(scores, reverse=True)


def test_date_sort(service: Service, records: list[Record]) -> None:
    ids = all_ids(service, "transformer", sort="date")
    by_id = {r["id"]: day(r) for r in records}
    days = [by_id[i] for i in ids]
    assert days == sorted(days, reverse=True)
    assert set(ids) == set(all_ids(service, "transformer"))


def test_title_match_ranks_first(service: Service) -> None:
    result = service.search("Safe Vision-Language Models via Unsafe Weights Manipulation")
    assert result.hits[0].paper.arxiv_id == "2503.11742"
    assert "<mark>Unsafe</mark>" in result.hits[0].highlights["title"]


# -- odd input ----------------------------------------------------------------------------

ODD_QUERIES = [
    '"',
    ":",
    "(",
    ")",
    "*",
    "?",
    "\\",
    "a:b",
    "*:*",
    "title:(a OR b)",
    "NOT AND OR",
    "-",
    "--",
    "- -",
    '""',
    '-""',
    "ti:",
    "cat:",
    "since:",
    "since:2025-13-01",
    "ti:$$",
    "$\\alpha$-divergence \\frac{1}{2} \\mathbb{R}^n",
    "深度学习 Schrödinger ñandú µ-law",
    "🙂 emoji",
    "'; DROP TABLE papers; --",
    "<script>alert(1)</script>",
    "%00 \x00 nul",
    "au:'",
    "cat:cs.CL OR cat:cs.CV",
    "+required ~fuzzy^2 field:[a TO b]",
]


@pytest.mark.parametrize("query", ODD_QUERIES)
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_odd_input_gives_results_or_a_clear_error(service: Service, query: str, mode: str) -> None:
    try:
        result = service.search(query, mode=mode)
    except QueryError as exc:
        assert str(exc) and len(str(exc)) < 400
        return
    assert result.total >= len(result.hits)


def test_query_at_the_length_cap(service: Service) -> None:
    text = " ".join(r for r in ["graph neural network segmentation"] * 300)[:2_000]
    result = service.search(text, mode="lexical")
    assert len(text) == 2_000 and result.total > 0
    with pytest.raises(QueryError, match="too long: 2,001 characters, at most 2,000"):
        service.search(text + "s", mode="lexical")


def test_nothing_matches(service: Service) -> None:
    result = service.search("zzqxjv qqxyzzy", mode="lexical")
    assert result.total == 0 and result.hits == []


def test_empty_query_lists_everything_newest_first(service: Service) -> None:
    result = service.search("", per_page=5)
    assert result.total == N_RECORDS and len(result.hits) == 5


def test_bad_paging_is_a_query_error(service: Service) -> None:
    for kwargs in ({"page": 0}, {"per_page": 0}, {"per_page": 1000}, {"sort": "x"}, {"mode": "x"}):
        with pytest.raises(QueryError):
            service.search("graph", **kwargs)


def test_similar_papers_share_the_topic(service: Service) -> None:
    hits = service.similar("2503.11731", k=5)  # Gaussian-splatting sensor simulation
    assert len(hits) == 5 and "2503.11731" not in [h.paper.arxiv_id for h in hits]
    assert sum("splat" in h.paper.title.lower() + h.paper.abstract.lower() for h in hits) >= 4


def test_similar_unknown_paper(service: Service) -> None:
    with pytest.raises(LookupError):
        service.similar("9999.99999")


def test_cli_search_table_and_json(service: Service, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PAPERWIRE_DATA_DIR": str(service.settings.data_dir)}
    run = [sys.executable, "-m", "paperwire", "search"]
    table = subprocess.run(
        [*run, "gaussian splatting", "--per-page", "3"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "result(s) for 'gaussian splatting'" in table.stdout and "2503." in table.stdout
    as_json = subprocess.run(
        [*run, "--json", "--sort", "date", "ti:splatting"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(as_json.stdout)
    assert data["sort"] == "date" and data["hits"]
    repaired = subprocess.run([*run, 'ti:"open'], env=env, capture_output=True, text=True)
    assert repaired.returncode == 0 and "without its closing partner" in repaired.stdout
    bad = subprocess.run([*run, "graph au:"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "au: needs a value" in bad.stderr
