"""Layout, contrast and focus in real headless Chromium, for the faults a browser QA pass
found: signed-in pages on a phone (menu, feed page, long collection names), the vote
count once voted, dark mode (errors, form fields, search highlights), the query-language
help on a phone, the focus ring of segmented links, the pager's disabled text.

Colours are read with getComputedStyle and their contrast computed as WCAG 2 does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paperwire.web.auth import SESSION_COOKIE, Auth
from webkit import Live, Mailbox

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 812}
READER = "layout@example.org"
LONG_NAME = ("Reading group <b>x</b> with a very long collection name that goes on and on " * 2)[
    :100
]

# [text colour, background] of an element as painted: the first ancestor (or itself) with
# a background, the text blended into it by the opacity of it and its ancestors
COLOURS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  let bg = [255, 255, 255];
  for (let n = el; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length < 4 || c[3] > 0) { bg = c.slice(0, 3); break; }
  }
  let opacity = 1;
  for (let n = el; n; n = n.parentElement) opacity *= parseFloat(getComputedStyle(n).opacity);
  const fg = rgb(getComputedStyle(el).color).slice(0, 3).map((v, i) => v * opacity + bg[i] * (1 - opacity));
  return [fg, bg];
}"""


def contrast(page_or_locator: Any, selector: str | None = None) -> float:
    locator = page_or_locator.locator(selector) if selector else page_or_locator
    fg, bg = locator.first.evaluate(COLOURS)

    def luminance(rgb: list[float]) -> float:
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture(scope="module")
def reader(site: tuple[Live, Mailbox]) -> dict[str, Any]:
    """A signed-in reader's session cookie, a paper they voted for and saved into a
    collection with a 100-character name, and that collection's id."""
    live, _ = site
    service = live.service
    user = service.accounts.get_or_create_user(READER)
    value, _ = Auth(live.settings, service.accounts).start_session(user)
    paper = service.listed(service.window("day")).papers[0]
    collection, _ = service.library.save(user.id, paper.arxiv_id, new_collection=LONG_NAME)
    service.set_vote(user.id, paper.arxiv_id, True)
    cookie = {"name": SESSION_COOKIE, "value": value, "url": live.url}
    return {"cookie": cookie, "paper": paper.arxiv_id, "collection": collection.id}


@pytest.fixture
def phone(browser: Any, reader: dict[str, Any]) -> Iterator[Any]:
    """A signed-in page in a 375x812 phone context."""
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    context.add_cookies([reader["cookie"]])
    yield context.new_page()
    context.close()


def overflow(page: Any) -> int:
    """How far the page scrolls sideways on the phone (a mobile viewport widens
    innerWidth to fit wide content, so this measures against the phone's width)."""
    return int(page.evaluate("document.documentElement.scrollWidth")) - PHONE["width"]


def test_signed_in_pages_fit_a_phone(
    site: tuple[Live, Mailbox], reader: dict[str, Any], phone: Any
) -> None:
    """The signed-in menu (six links) wraps instead of pushing every page 159 px sideways;
    the feed page's URL fields and a 100-character collection name fit too."""
    live, _ = site
    collection = reader["collection"]
    for path in (
        "/",
        "/search?q=model",
        f"/papers/{reader['paper']}",
        "/library",
        f"/library/{collection}",
        f"/library/{collection}/feed",
        "/following",
        "/account",
    ):
        phone.goto(live.url + path)
        assert READER in phone.locator(".account").inner_text(), path
        assert overflow(phone) <= 0, (path, overflow(phone))
        right = phone.eval_on_selector_all(
            "nav[aria-label=Main] a", "links => links.map(a => a.getBoundingClientRect().right)"
        )
        assert len(right) == 6 and max(right) <= PHONE["width"], (path, right)


def test_feed_addresses_are_labelled_fields(
    site: tuple[Live, Mailbox], reader: dict[str, Any], phone: Any
) -> None:
    live, _ = site
    phone.goto(f"{live.url}/library/{reader['collection']}/feed")
    assert "/feeds/" in phone.get_by_label("RSS", exact=True).input_value()
    assert "/feeds/" in phone.get_by_label("Atom", exact=True).input_value()


@pytest.fixture
def desktop(browser: Any, reader: dict[str, Any]) -> Iterator[Any]:
    """A signed-in page in a 1280x900 context."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([reader["cookie"]])
    yield context.new_page()
    context.close()


def test_the_vote_count_is_readable_and_in_place_once_voted(
    site: tuple[Live, Mailbox], reader: dict[str, Any], desktop: Any
) -> None:
    """The search page's `.count` rule (muted, 1rem margin) also painted the count in a
    voted button: grey on blue (1.3:1), pushed 16 px down."""
    live, _ = site
    desktop.goto(f"{live.url}/papers/{reader['paper']}")
    count = desktop.locator(".paper-head .vote button.voted .count")
    assert count.inner_text() == "1"
    assert contrast(count) >= 4.5
    assert count.evaluate("e => getComputedStyle(e).marginTop") == "0px"
    # its accessible name starts with the text it shows (axe label-content-name-mismatch)
    button = desktop.locator(".paper-head .vote button")
    assert button.get_attribute("aria-label") is None
    assert desktop.get_by_role("button", name="1 votes, upvote", pressed=True).count() == 1


def test_the_disabled_pager_text_is_readable(site: tuple[Live, Mailbox], desktop: Any) -> None:
    live, _ = site
    desktop.goto(f"{live.url}/search?q=model")
    assert desktop.locator(".pager .off").inner_text() == "← Previous"
    assert contrast(desktop, ".pager .off") >= 4.5


def test_dark_mode_errors_fields_and_highlights_are_readable(
    site: tuple[Live, Mailbox], browser: Any
) -> None:
    """Dark mode kept the light --warn and --ok (1.9:1), left number fields and textareas
    white under near-white text, and highlighted search words at 3.75:1."""
    live, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.goto(f"{live.url}/search?q=au:")
    assert contrast(page, ".alert") >= 4.5
    page.goto(f"{live.url}/search?q=model")
    assert contrast(page, ".abstract mark") >= 4.5
    sub = live.service.digest.add_subscriber("dark@example.org")
    page.goto(live.service.digest.manage_url(sub))
    fields = page.locator(
        "form.stack input:not([type=hidden]), form.stack select, form.stack textarea"
    )
    assert fields.count() == 8
    for n in range(fields.count()):
        field = fields.nth(n)
        name = field.get_attribute("name")
        assert contrast(field) >= 4.5, name
        _, background = field.evaluate(COLOURS)
        assert max(background) < 64, (name, background)  # a dark field, not a white one
    page.click("form.stack button[type=submit]")
    assert contrast(page, "p.ok") >= 4.5
    context.close()


def test_the_query_language_help_stacks_on_a_phone(site: tuple[Live, Mailbox], phone: Any) -> None:
    live, _ = site
    phone.goto(f"{live.url}/search")
    phone.click("#syntax summary")
    boxes = phone.eval_on_selector_all(
        "#syntax dt, #syntax dd",
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return [e.tagName, r.left, r.top, r.bottom, r.width]; })",
    )
    terms = [b for b in boxes if b[0] == "DT"]
    meanings = [b for b in boxes if b[0] == "DD"]
    assert len(terms) == len(meanings) == 7
    for term, meaning in zip(terms, meanings, strict=True):
        assert meaning[2] >= term[3] - 1, (term, meaning)  # under its term, not beside it
        assert meaning[4] >= 250, meaning  # the whole width, not a sliver
    assert overflow(phone) <= 0


def test_the_focus_ring_of_segmented_links_is_not_clipped(
    site: tuple[Live, Mailbox], browser: Any
) -> None:
    """`.seg { overflow: hidden }` (for its rounded corners) cut off the focus outline of
    Day/Week/Month, Newest/Trending and the trending window links."""
    live, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    for path in ("/", "/trending"):
        page.goto(live.url + path)
        reached = []
        for _ in range(60):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                """() => {
                  const el = document.activeElement;
                  if (!el.closest('.seg')) return null;
                  const style = getComputedStyle(el);
                  const clipping = [];
                  for (let n = el.parentElement; n && n !== document.body; n = n.parentElement) {
                    const o = getComputedStyle(n);
                    if (o.overflowX !== 'visible' || o.overflowY !== 'visible') clipping.push(n.className);
                  }
                  return [el.textContent, style.outlineStyle, parseFloat(style.outlineWidth),
                          parseFloat(style.outlineOffset), clipping];
                }"""
            )
            if focused:
                reached.append(focused[0])
                _text, style, width, offset, clipping = focused
                assert style != "none" and width >= 2, focused
                assert offset < 0 or not clipping, focused  # drawn inside, or nothing clips
            elif reached:
                break
        assert len(reached) >= 2, (path, reached)
    context.close()


@pytest.mark.parametrize("error", [False, True])
def test_the_stand_alone_subscription_layout_follows_dark_mode(browser: Any, error: bool) -> None:
    """The subscription pages' own layout (an app without the site around them) was
    light-only: a dark-mode reader got dark text settings on a white page."""
    from paperwire.web.subscriptions import templates

    page_html = templates.get_template("subscriptions/message.html").render(
        layout="subscriptions/_layout.html",
        title="Unsubscribed",
        error=error,
        message="You will get no more digests",
        manage_url="/subscribe/manage?token=x",
    )
    context = browser.new_context(viewport={"width": 800, "height": 600}, color_scheme="dark")
    page = context.new_page()
    page.set_content(page_html)
    _, background = page.locator("body").evaluate(COLOURS)
    assert max(background) < 64, background  # a dark page
    for selector in ("h1", ".alert" if error else ".ok", "a[href^='/subscribe']"):
        assert contrast(page, selector) >= 4.5, selector
    context.close()


# elements that scroll sideways and that the keyboard cannot reach (axe's
# scrollable-region-focusable): not focusable themselves and holding nothing focusable
UNREACHABLE_SCROLLERS = """() => [...document.querySelectorAll('body *')].filter(el => {
  const style = getComputedStyle(el);
  if (!['auto', 'scroll'].includes(style.overflowX) || el.scrollWidth <= el.clientWidth + 1)
    return false;
  return el.tabIndex < 0 && !el.querySelector('a[href], button, input, select, textarea, [tabindex]');
}).map(el => el.tagName + '.' + el.className)"""


def test_the_api_docs_scroll_boxes_are_reachable_by_keyboard(
    site: tuple[Live, Mailbox], phone: Any
) -> None:
    """On a phone the endpoint sections of /docs scrolled sideways, and no key reached them."""
    live, _ = site
    phone.goto(f"{live.url}/docs")
    assert phone.evaluate(UNREACHABLE_SCROLLERS) == []
    assert phone.eval_on_selector_all(".table-scroll", "els => els.length") >= 5
    assert overflow(phone) <= 0
    box = phone.locator(".table-scroll").first
    box.focus()
    before = box.evaluate("el => el.scrollLeft")
    phone.keyboard.press("ArrowRight")
    phone.wait_for_timeout(100)
    assert box.evaluate("el => el.scrollLeft") > before  # the keys scroll what they reach
