"""End to end in real headless Chromium (Debian's chromium via Playwright): browse days,
search with a phrase and a category, read a paper with rendered math, sign in through the
emailed link (real SMTP on loopback), upvote, reload, and the vote is kept.

Screenshots of every page go to test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from paperwire.service import Service
from webkit import (
    Live,
    Mailbox,
    desktop_page,
    hostile_paper,
    imported_settings,
    live_server_with_mail,
    shot,
)

pytestmark = pytest.mark.browser
MATH_ID = "2503.99998"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, web_subset: Path
) -> Iterator[tuple[Live, Mailbox]]:
    settings = imported_settings(tmp_path_factory.mktemp("browser"), web_subset)
    with Service(settings) as service:
        latest = service.store.latest_listing_date()
        assert latest is not None
        math = replace(
            hostile_paper(MATH_ID, latest),
            title="Bounds on $\\mathcal{O}(n \\log n)$ sorting & <merging>",
            abstract="We show that $\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$ and "
            "$$E = mc^2$$ with x < y & <b>not bold</b>.",
        )
        service.store.upsert_papers([math])
    with live_server_with_mail(settings) as pair:
        yield pair


def test_browse_search_read_sign_in_and_vote(site: tuple[Live, Mailbox], browser: object) -> None:
    live, box = site
    context, page, errors = desktop_page(browser)
    failed: list[str] = []
    page.on(
        "response", lambda r: failed.append(r.url.split("/", 3)[3]) if r.status >= 400 else None
    )

    # home: the latest day
    page.goto(live.url + "/")
    assert page.locator("h1").inner_text() == "Daily papers"
    day_label = page.locator(".heading .sub").inner_text()
    assert page.locator("article.card").count() > 0
    page.wait_for_selector("article.card .title .katex")  # math in card titles is rendered
    shot(page, "01-home")

    # change day
    page.click("a[data-nav=prev]")
    page.wait_for_load_state()
    assert page.locator(".heading .sub").inner_text() != day_label
    assert "date=" in page.url
    shot(page, "02-previous-day")

    # search with a phrase and a category filter
    page.click("nav[aria-label=Main] >> text=Search")
    page.fill("#q", '"language model"')
    page.fill("input[name=category]", "cs.CL")
    page.click("form.search button[type=submit]")
    page.wait_for_load_state()
    assert "result" in page.locator("p.count").inner_text()
    cards = page.locator("article.card")
    assert cards.count() > 0
    for n in range(min(cards.count(), 5)):
        card = cards.nth(n)
        assert "cs.CL" in card.locator(".meta").inner_text()
        arxiv_id = card.locator(".title a").get_attribute("href").rsplit("/", 1)[1]  # type: ignore[union-attr]
        paper = live.service.paper(arxiv_id)
        assert paper is not None
        assert "language model" in f"{paper.title} {paper.abstract}".lower()
    shot(page, "03-search")

    # open the paper with math: KaTeX renders it, hostile markup stays text
    page.goto(f"{live.url}/papers/{MATH_ID}")
    page.wait_for_selector(".abstract-full .katex")
    assert page.locator(".abstract-full .katex").count() >= 2
    assert page.locator(".abstract-full .katex-display").count() == 1
    assert "<b>not bold</b>" in page.locator(".abstract-full").inner_text()
    assert "<merging>" in page.locator("h1").inner_text()
    shot(page, "04-paper")

    # upvote while signed out -> sign-in page -> emailed link -> confirm
    page.click(".paper-head form.vote button")
    page.wait_for_url("**/login?next=*")
    page.fill("#login-email", "reader@example.org")
    shot(page, "05-login")
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    page.goto(box.login_link("reader@example.org"))
    shot(page, "06-login-confirm")
    page.click("#confirm-login")
    page.wait_for_url(f"**/papers/{MATH_ID}")
    assert "reader@example.org" in page.locator(".account").inner_text()

    vote = page.locator(".paper-head form.vote button")
    assert vote.get_attribute("aria-pressed") == "false"
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    assert vote.locator(".count").inner_text() == "1"
    page.reload()
    vote = page.locator(".paper-head form.vote button")
    assert vote.get_attribute("aria-pressed") == "true"
    assert vote.locator(".count").inner_text() == "1"
    shot(page, "07-paper-voted")
    assert live.service.accounts.vote_counts([MATH_ID]) == {MATH_ID: 1}

    page.goto(live.url + "/trending?window=week")
    shot(page, "08-trending")
    page.goto(live.url + "/no-such-page")
    shot(page, "09-not-found")
    page.goto(live.url + "/docs")
    assert page.locator("section.endpoint").count() >= 9
    shot(page, "13-api-docs")
    assert not errors, errors
    assert failed == ["vote", "no-such-page"], failed  # signed-out vote (401), the 404 page
    context.close()


def test_phone_layout_has_no_horizontal_scroll(site: tuple[Live, Mailbox], browser: object) -> None:
    live, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # type: ignore[attr-defined]
    page = context.new_page()
    for path, name in (
        ("/", "10-phone-home"),
        (f"/papers/{MATH_ID}", "11-phone-paper"),
        ("/search?q=vision", "12-phone-search"),
    ):
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
        shot(page, name)
    # keyboard: the first Tab reaches the skip link
    page.goto(live.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    context.close()
