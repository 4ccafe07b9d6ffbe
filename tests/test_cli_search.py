"""`paperwire search` on the command line: the query syntax as written (`-word`, `-cat:x`)
beside the command's own options wherever they stand, and pages past the results."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner, Result

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.models import Author, Paper
from paperwire.search.engine import past_the_results
from paperwire.service import Service

DAY = date(2025, 6, 2)


def paper(arxiv_id: str, title: str, category: str) -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=f"We study {title.lower()}.",
        authors=[Author("Ada Lovelace")],
        categories=[category],
        submitted=DAY,
        listing_date=DAY,
        sources=["test"],
    )


PAPERS = [
    paper("2506.00001", "Gaussian splatting of scenes", "cs.CV"),
    paper("2506.00002", "Splatting radiance fields", "cs.GR"),
    paper("2506.00003", "Splatting for robots", "cs.RO"),
]


@pytest.fixture
def filled(settings: Settings) -> Settings:
    with Service(settings) as service:
        _report, changed = service.store.upsert_papers(PAPERS)
        service.search_engine.index_changed(changed)
    return settings


def search(settings: Settings, *args: str) -> Result:
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url or ""]
    return CliRunner().invoke(cli, [*base, "search", *args])


def found(settings: Settings, *args: str) -> list[str]:
    result = search(settings, *args)
    assert result.exit_code == 0, result.output
    return [hit["arxiv_id"] for hit in json.loads(result.output)["hits"]]


def test_exclusions_work_as_written_beside_options_anywhere(filled: Settings) -> None:
    everything = {"2506.00001", "2506.00002", "2506.00003"}
    assert set(found(filled, "splatting", "--json", "--mode", "lexical")) == everything
    assert set(found(filled, "splatting", "-gaussian", "--json", "--mode=lexical")) == {
        "2506.00002",
        "2506.00003",
    }
    assert found(filled, "--json", "-cat:cs.CV -cat:cs.RO splatting", "--mode", "lexical") == [
        "2506.00002"
    ]
    assert found(filled, "-cat:cs.GR", "--mode", "lexical", "splatting", "-gaussian", "--json") == [
        "2506.00003"
    ]
    # the command's options keep working wherever they stand, also between words
    paged = ["splatting", "--per-page", "1", "--sort", "date", "--mode", "lexical", "-robots"]
    first = found(filled, *paged, "--json")
    second = found(filled, "--page=2", *paged, "--json")
    assert len(first) == len(second) == 1 and set(first + second) == {"2506.00001", "2506.00002"}
    # after `--` every token is text, also one spelled like an option
    table = search(filled, "--mode", "lexical", "--", "splatting", "--json")
    assert table.exit_code == 0 and "result(s) for 'splatting --json'" in table.output


def test_help_typos_and_query_errors_stay_apart(filled: Settings) -> None:
    assert "Syntax:" in search(filled, "-h").output
    word = search(filled, "--mode", "lexical", "-hallucination", "splatting")
    assert word.exit_code == 0 and "Syntax:" not in word.output
    assert "3 result(s)" in word.output
    typo = search(filled, "splatting", "--jsno")
    assert typo.exit_code == 2 and "No such option '--jsno'" in typo.output
    negated = search(filled, "--mode", "lexical", "-since:2025")
    assert negated.exit_code == 1 and "since: cannot be negated" in negated.output
    unknown = search(filled, "--mode", "lexical", "splatting", "cat:bogus")
    assert unknown.exit_code == 1 and "'bogus' is not an arXiv category" in unknown.output


def test_pagespast_the_results_say_so_in_the_core_and_the_cli(filled: Settings) -> None:
    with Service(filled) as service:
        for page in (2, 51, 99_999):  # past the 3 results; 51 * 200 and beyond: past 10,000
            found = service.search("splatting", page=page, per_page=200, mode="lexical")
            assert (found.hits, found.total) == ([], 3)
            assert f"page {page:,} is past the results: 3 result(s) make 1 page(s) of 200" in (
                found.notes
            )
        first = service.search("splatting", page=1, per_page=2, mode="lexical")
        assert len(first.hits) == 2 and not any("past the" in n for n in first.notes)
        last = service.search("splatting", page=2, per_page=2, mode="lexical")
        assert len(last.hits) == 1 and not any("past the" in n for n in last.notes)
    for page in ("10", "99999"):
        shown = search(filled, "splatting", "--mode", "lexical", "--page", page)
        assert shown.exit_code == 0, shown.output
        assert "past the results: 3 result(s) make 1 page(s) of 20" in shown.output
        assert "bad query" not in shown.output


def test_the_note_on_a_page_deeper_than_results_go() -> None:
    assert past_the_results(600, 20, 74_728) == (
        "page 600 is past the results: 74,728 result(s) make 500 page(s) of 20 "
        "(pages go no deeper than result 10,000; refine the query)"
    )
    assert (
        past_the_results(3, 20, 0) == "page 3 is past the results: 0 result(s) make 0 page(s) of 20"
    )
