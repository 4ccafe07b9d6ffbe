"""Search pages are honest about how deep they go: the page count that the API, the search
page and the CLI show is the pages that can be fetched (none deeper than the engine's
MAX_RESULTS), each of those pages is served, and a note says when results are more."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import DAILY_FILE
from paperwire.cli import cli
from paperwire.search.engine import MAX_RESULTS
from webkit import Live, imported_settings, live_server, write_subset

PAPERS = MAX_RESULTS + 100  # more matches for cat:cs than pages reach


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("paging")
    snapshot = write_subset(DAILY_FILE, folder / "subset.jsonl", PAPERS)
    with live_server(imported_settings(folder, snapshot)) as running:
        yield running


def api(live: Live, **params: object) -> dict[str, Any]:
    r = httpx.get(f"{live.url}/api/v1/search", params={"category": "cs", **params})
    assert r.status_code == 200, (params, r.text)
    body: dict[str, Any] = r.json()
    return body


def test_api_pages_are_the_pages_it_serves(live: Live) -> None:
    first = api(live, per_page=5)
    total = first["total"]
    assert isinstance(total, int) and total > MAX_RESULTS
    assert first["pages"] == MAX_RESULTS // 5
    limit = f"only the first {MAX_RESULTS:,} of {total:,} results can be paged"
    assert any(limit in n for n in first["notes"]), first["notes"]
    for page in (1001, MAX_RESULTS // 5):  # past the old cap of 1,000 pages; the last one
        assert len(api(live, per_page=5, page=page)["results"]) == 5, page
    past = api(live, per_page=5, page=MAX_RESULTS // 5 + 1)
    assert past["results"] == [] and past["pages"] == MAX_RESULTS // 5
    assert any("is past the results" in n for n in past["notes"])
    odd = api(live, per_page=30)  # 30 does not divide 10,000: 333 whole pages
    assert odd["pages"] == MAX_RESULTS // 30
    assert len(api(live, per_page=30, page=MAX_RESULTS // 30)["results"]) == 30
    small = api(live, q="cat:cs.CL", per_page=100, until="2025-03-19")
    assert small["pages"] == max(1, -(-small["total"] // 100))
    assert not any("can be paged" in n for n in small["notes"])


def test_search_page_pager_links_only_to_pages_it_serves(live: Live) -> None:
    r = httpx.get(f"{live.url}/search", params={"category": "cs"})
    assert r.status_code == 200
    shown = re.search(r"Page 1 of ([\d,]+)", r.text)
    assert shown and int(shown.group(1).replace(",", "")) == MAX_RESULTS // 20
    assert "can be paged" in r.text
    last = httpx.get(f"{live.url}/search", params={"category": "cs", "page": MAX_RESULTS // 20})
    assert last.status_code == 200 and 'rel="prev"' in last.text and 'rel="next"' not in last.text
    past = httpx.get(f"{live.url}/search", params={"category": "cs", "page": 1001})
    assert past.status_code == 200 and "is past the end" in past.text
    assert f"page={MAX_RESULTS // 20}" in past.text  # its "last page" link is the last served


def test_cli_counts_and_serves_the_same_pages(live: Live) -> None:
    settings = live.settings
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url or ""]
    args = [*base, "search", "cat:cs", "--per-page", "5", "--mode", "lexical"]
    shown = CliRunner().invoke(cli, [*args, "--page", "1001", "--json"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert len(body["hits"]) == 5 and body["pages"] == MAX_RESULTS // 5
    text = CliRunner().invoke(cli, [*args, "--page", str(MAX_RESULTS // 5)])
    assert text.exit_code == 0 and "more: --page" not in text.output, text.output
    assert "can be paged" in text.output
