"""Importing a library and subscribing to a collection's feed in real headless Chromium
(Debian's chromium via Playwright): sign in through the emailed link, upload a BibTeX file
with good, duplicate and broken entries from the library page, read the report, open the
collection, take its secret feed URL from the feed page and parse it as a feed reader
would (feedparser, no session). Then "For you": save a paper, read the explanation on a
card, "Not interested" removes the card (and it stays gone), switch the window.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re

import feedparser
import httpx
import pytest
from playwright.sync_api import expect

from paperwire.models import Paper
from webkit import Live, Mailbox, desktop_page, shot, sign_in

pytestmark = pytest.mark.browser
PLAIN_TITLE = re.compile(r"^[A-Za-z][A-Za-z ,:-]{15,150}$")


def _two_papers(live: Live) -> tuple[Paper, Paper]:
    """Two stored papers; the second with a title plain enough to write into BibTeX."""
    day = live.service.latest_day()
    assert day is not None
    papers = live.service.store.papers_listed(day, day, 200)
    plain = [p for p in papers if PLAIN_TITLE.match(p.title)]
    assert len(plain) >= 2
    return plain[0], plain[1]


def _bibtex(by_id: Paper, by_title: Paper) -> bytes:
    return f"""@article{{first,
  title = {{{by_id.title}}},
  eprint = {{{by_id.arxiv_id}v1}}, archivePrefix = {{arXiv}}
}}
@misc{{second, title = {{{by_title.title.upper()}}}, year = 2099}}
@misc{{copy, url = {{https://arxiv.org/abs/{by_id.arxiv_id}}}}}
@misc{{broken,
  title = {{Never closed,
}}
@misc{{missing, title = {{A paper that is not here}}, eprint = {{0704.99999}}}}
""".encode()


def test_import_a_bibtex_file_and_subscribe_to_the_collection(
    site: tuple[Live, Mailbox],
    browser: object,
) -> None:
    live, box = site
    first, second = _two_papers(live)
    context, page, errors = desktop_page(browser)
    sign_in(page, live, box, "importer@example.org", "/library")

    # upload from the library page into a new collection
    page.set_input_files(
        "#import-file",
        files=[{"name": "zotero.bib", "mimeType": "text/plain", "buffer": _bibtex(first, second)}],
    )
    page.select_option("#import-into", "new")
    page.fill("#import-new", "From my bib")
    page.click("#import-form button[type=submit]")
    page.wait_for_url("**/library/import")
    expect(page.locator("#sum-matched")).to_contain_text("2 matched")
    expect(page.locator("#sum-duplicates")).to_contain_text("1 duplicate")
    expect(page.locator("#sum-malformed")).to_contain_text("1 malformed")
    expect(page.locator("#sum-unmatched")).to_contain_text("1 not found")
    expect(page.locator("#unmatched")).to_contain_text("0704.99999")
    expect(page.locator("#malformed")).to_contain_text("broken")
    expect(page.locator("#matched")).to_contain_text("by title")
    shot(page, "30-library-import-report")

    # the collection holds the two papers
    page.click("#import-collection")
    page.wait_for_url(re.compile(r".*/library/\d+$"))
    expect(page.locator("h1")).to_have_text("From my bib")
    shown = {page.locator("li.item").nth(n).get_attribute("data-paper") for n in range(2)}
    assert shown == {first.arxiv_id, second.arxiv_id}
    assert page.locator("li.item").count() == 2

    # subscribe: the feed page gives a secret URL a feed reader can read without signing in
    page.click("#collection-feed")
    page.wait_for_url("**/feed")
    url = page.locator("#feed-atom").input_value()
    assert "token=" in url
    shot(page, "31-library-feed")
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "paperwire · collection From my bib"
    assert {e.link.rsplit("/", 1)[-1] for e in parsed.entries} == {first.arxiv_id, second.arxiv_id}
    assert not errors
    context.close()


def test_for_you_explains_and_not_interested_removes_a_card(
    site: tuple[Live, Mailbox],
    browser: object,
) -> None:
    live, box = site
    context, page, errors = desktop_page(browser)
    sign_in(page, live, box, "foryou@example.org", "/for-you")
    # save one paper from the daily list: the recommender now has a library
    page.goto(live.url + "/")
    saved = page.locator("article.card").first.get_attribute("data-paper")
    page.locator("article.card").first.locator("button.save").click()
    expect(page.locator(f"article.card[data-paper='{saved}'] button.save")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.click("nav[aria-label=Main] >> text=For you")
    page.wait_for_url("**/for-you")
    cards = page.locator("#for-you article.card")
    expect(cards.first).to_be_visible()
    expect(cards.first.locator("p.why")).to_contain_text("Why:")
    assert page.locator(f"#for-you article.card[data-paper='{saved}']").count() == 0
    shot(page, "32-for-you")
    before = cards.count()
    victim = cards.first.get_attribute("data-paper")
    cards.first.locator("button.dismiss").click()
    expect(page.locator(f"article.card[data-paper='{victim}']")).to_have_count(0)
    assert cards.count() == before - 1
    page.reload()
    expect(page.locator(f"article.card[data-paper='{victim}']")).to_have_count(0)
    page.click("a[aria-current=true] >> xpath=following-sibling::a[1]")  # the 90-day window
    page.wait_for_url("**/for-you?days=90")
    expect(page.locator("#for-you article.card p.why").first).to_contain_text("Why:")
    assert not errors
    context.close()
