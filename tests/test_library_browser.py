"""The reader's library in real headless Chromium (Debian's chromium via Playwright): sign
in through the emailed link, save a paper to a new collection, thumbs-down a paper and see
it vanish from the list (and stay gone after a reload), follow an author and read the
followed-authors page. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from paperwire.config import Settings
from paperwire.service import Service
from webkit import Live, Mailbox, live_server, smtp_server

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, web_subset: Path
) -> Iterator[tuple[Live, Mailbox]]:
    data = tmp_path_factory.mktemp("library-browser")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'pw.db'}")
    with Service(settings) as service:
        service.import_snapshot(web_subset)
    with (
        smtp_server() as box,
        live_server(settings, smtp_host=box.host, smtp_port=box.port) as live,
    ):
        yield live, box


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is not installed; `make system` should have done it")
        pytest.skip("Debian chromium is not installed (make system)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)  # type: ignore[attr-defined]


def test_save_dismiss_and_follow_in_a_browser(site: tuple[Live, Mailbox], browser: object) -> None:
    live, box = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # sign in through the emailed link
    page.goto(live.url + "/login?next=/")
    page.fill("#login-email", "library@example.org")
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    page.goto(box.login_link("library@example.org"))
    page.click("#confirm-login")
    page.wait_for_url(live.url + "/")
    assert "library@example.org" in page.locator(".account").inner_text()

    # save the first paper of the day to a new collection, from its page
    first = page.locator("article.card").first.get_attribute("data-paper")
    assert first
    page.goto(f"{live.url}/papers/{first}")
    page.fill("#new-collection", "Reading group")
    page.click("form.save-to button[type=submit]")
    expect(page.locator(".lib-status")).to_contain_text("Reading group")
    expect(page.locator(".mine form.lib .save")).to_have_attribute("aria-pressed", "true")
    shot(page, "20-library-saved")
    page.click("nav[aria-label=Main] >> text=Library")
    page.wait_for_url("**/library")
    page.click("ul.collections >> text=Reading group")
    title = live.service.paper(first).title  # type: ignore[union-attr]
    expect(page.locator(f"li.item[data-paper='{first}'] h2")).to_have_text(title)
    assert page.locator("li.item").count() == 1
    page.fill("li.item textarea", "for Tuesday")
    page.click("li.item form.note-form button")
    page.wait_for_load_state()
    expect(page.locator("li.item textarea")).to_have_value("for Tuesday")
    shot(page, "21-library-collection")

    # thumbs-down a paper on the daily list: its card vanishes, and stays gone
    page.goto(live.url + "/")
    cards = page.locator("article.card")
    before = cards.count()
    victim = cards.nth(1).get_attribute("data-paper")
    cards.nth(1).locator("button.dismiss").click()
    expect(page.locator(f"article.card[data-paper='{victim}']")).to_have_count(0)
    assert page.locator("article.card").count() == before - 1
    page.reload()
    expect(page.locator(f"article.card[data-paper='{victim}']")).to_have_count(0)
    expect(page.locator("p.note[role=status]")).to_contain_text("not interested")
    shot(page, "22-library-dismissed")

    # follow an author by the + next to the name, then read the followed-authors page
    card = page.locator("article.card").first
    button = card.locator("button.follow").first
    author = button.get_attribute("value")
    assert author
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    page.click("nav[aria-label=Main] >> text=Following")
    page.wait_for_url("**/following")
    assert page.locator("section.followed h2").first.inner_text() == author
    assert "exactly the name you follow" in page.locator(".heading .sub").inner_text()
    expect(page.locator("section.followed article.card").first).to_be_visible()
    followed = page.locator("section.followed article.card").first.get_attribute("data-paper")
    paper = live.service.paper(followed or "")
    assert paper is not None and author in [a.name for a in paper.authors]
    shot(page, "23-library-following")
    assert not errors, errors
    context.close()
