"""Highlighted math on the search page, in real headless Chromium: a formula holding a
matching word is marked whole and typeset by KaTeX, and no card shows a stray $."""

from __future__ import annotations

import lzma
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from conftest import DAILY_FILE
from webkit import Live, desktop_page, imported_settings, live_server, shot, write_subset

pytestmark = pytest.mark.browser
# Papers past the web subset whose math the QA pass saw broken by a highlight.
EXTRA = {"2503.18652", "2504.04482"}  # "$\ell_1$ regularization", "risk level $\alpha$"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("math")
    subset = write_subset(DAILY_FILE, folder / "subset.jsonl", 1200)
    with lzma.open(DAILY_FILE, "rt", encoding="utf-8") as source, subset.open("a") as out:
        wanted = set(EXTRA)
        for line in source:
            if any(f'"id": "{i}"' in line[:40] for i in wanted):
                out.write(line)
                wanted = {i for i in wanted if f'"id": "{i}"' not in line[:40]}
                if not wanted:
                    break
    with live_server(imported_settings(folder, subset)) as server:
        yield server


@pytest.mark.parametrize(
    ("query", "arxiv_id", "formulas"),
    [
        ("alpha", "2504.04482", 1),  # abstract: "risk level $\alpha$"
        ("GSBAK top K geometric score-based black-box attack", "2503.12827", 3),  # title
        ("wing loss ell_1 regularization face recognition", "2503.18652", 1),  # title
        ('"sliced 2-Wasserstein" log', "2503.13756", 2),  # abstract cut near $O(L^2 \log L)$
    ],
    ids=["alpha", "gsbak", "ell_1", "cut"],
)
def test_highlighted_math_is_typeset(
    live: Live, browser: object, query: str, arxiv_id: str, formulas: int
) -> None:
    context, page, errors = desktop_page(browser)
    page.goto(f"{live.url}/search?{urlencode({'q': query})}")
    card = page.locator(f'article.card[data-paper="{arxiv_id}"]')
    assert card.count() == 1, f"{arxiv_id} is not on the first page for {query!r}"
    page.wait_for_selector(f'article.card[data-paper="{arxiv_id}"] .katex')
    shown = card.locator(".title, .abstract")
    assert card.locator(".katex").count() >= formulas
    assert card.locator(".katex-error").count() == 0
    for text in shown.all_inner_texts():
        assert "$" not in text, text  # every formula typeset, none cut in half
    assert card.locator("mark .katex").count() >= 1  # the matching formula is marked whole
    assert not errors
    shot(page, f"search-math-{arxiv_id}")
    context.close()
