"""The reader's library in real headless Chromium (Debian's chromium via Playwright): sign
in through the emailed link, save a paper to a new collection, thumbs-down a paper and see
it vanish from the list (and stay gone after a reload), follow an author and read the
followed-authors page. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from webkit import Live, Mailbox, desktop_page, shot, sign_in

pytestmark = pytest.mark.browser


def test_save_dismiss_and_follow_in_a_browser(site: tuple[Live, Mailbox], browser: object) -> None:
    live, box = site
    context, page, errors = desktop_page(browser)

    # sign in through the emailed link
    sign_in(page, live, box, "library@example.org", "/")
    assert "library@example.org" in page.locator(".account").inner_text()

    # save the first paper of the day to a new collection, from its page
    first = page.locator("article.card").first.get_attribute("data-paper")
    assert first
    page.goto(f"{live.url}/papers/{first}")
    page.fill("#new-collection", "Reading group")
    page.click("form.save-to button[type=submit]")
    expect(page.locator(".lib-status")).to_contain_text("Reading group")
    expect(page.locator(".mine form.lib .save")).to_have_attribute("aria-pressed", "true")
    # the menu now holds the new collection, ticked and chosen; the name field is empty
    chosen = page.locator("#save-collection option:checked")
    expect(chosen).to_have_text("Reading group ✓")
    expect(page.locator("#new-collection")).to_have_value("")
    page.click("form.save-to button[type=submit]")  # again: into it, no second collection
    expect(page.locator(".lib-status")).to_contain_text("Reading group")
    reader = live.service.accounts.get_or_create_user("library@example.org")
    names = [c.name for c in live.service.library.store.list_collections(reader.id)]
    assert names.count("Reading group") == 1 and not any("(2)" in n for n in names), names
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


def test_keyboard_actions_keep_focus_and_say_what_they_did(
    site: tuple[Live, Mailbox], browser: object
) -> None:
    """Each in-place action disabled its button while the request ran, and Chromium takes
    focus away from a disabled button: after Enter on Save or follow, focus was on <body>
    and a second Enter (to undo) went nowhere. "Not interested" removed the card in
    silence, focus lost too."""
    live, box = site
    context, page, errors = desktop_page(browser)
    sign_in(page, live, box, "keyboard@example.org", "/")
    card = page.locator("article.card").first
    save = card.locator("form.lib button.save")
    save.focus()
    page.keyboard.press("Enter")
    expect(save).to_have_attribute("aria-pressed", "true")
    expect(save).to_be_focused()
    page.keyboard.press("Enter")  # the same key again undoes it
    expect(save).to_have_attribute("aria-pressed", "false")
    expect(save).to_be_focused()
    follow = card.locator("button.follow").first
    follow.focus()
    page.keyboard.press("Enter")
    expect(follow).to_have_attribute("aria-pressed", "true")
    expect(follow).to_be_focused()
    page.keyboard.press("Enter")
    expect(follow).to_have_attribute("aria-pressed", "false")

    cards = page.locator("article.card")
    title = cards.nth(1).locator(".title").inner_text().strip()
    after = cards.nth(2).get_attribute("data-paper")
    cards.nth(1).locator("button.dismiss").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#announce")).to_have_text(f"Hidden: {title}")
    focused_card = page.evaluate("document.activeElement.closest('article.card')?.dataset.paper")
    assert focused_card == after
    assert not errors, errors
    context.close()
