"""Paper-supplied text that a Unicode QA pass found breaking pages, in real headless
Chromium: long unbroken titles and names pushing a phone page sideways, and bidi controls
or right-to-left names reordering the text around them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from paperwire.digest.render import Links, render_digest
from paperwire.models import Digest, DigestSection, Subscriber
from paperwire.web.auth import SESSION_COOKIE, Auth
from webkit import Live, imported_settings, listed_paper, live_server

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DAY = date(2025, 3, 20)
READER = "text@example.org"
WORD = "Overflowing" + "x" * 189  # one 200-character word
URL = "https://example.org/" + "/".join(f"segment{n}" for n in range(20))
COMPOUND = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft"
LONG = listed_paper(
    90001,
    f"Zebrafinch {WORD} titles with {URL} and {COMPOUND}squared",
    ["Firstname " + "Lastname" * 15, COMPOUND + "forscherin", "Bo Li"],
    DAY,
    abstract=f"We study {WORD} and {URL} in {COMPOUND}.",
)
# a Comments field holding a long URL (35 of 40 such real papers overflowed at 320 px)
COMMENTED = replace(
    listed_paper(90003, "Kingfisher comments", ["Vineeth N Balasubramanian", "Al Bo"], DAY),
    comments=f"Code at {URL}/and/more/segments/after/that",
)
RLO, PDI = "\u202e", "\u2069"
ARABIC = "مريم الحسن"
BIDI = listed_paper(
    90002,
    f"Quokka {RLO}reversed title",
    [f"Eve {RLO}Override", ARABIC, f"Bo {PDI}Li"],
    DAY,
    abstract=f"An abstract {RLO}with an override and {ARABIC} in it.",
)


@pytest.fixture(scope="module")
def text_site(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    """A live server over the web subset and the papers above."""
    data = tmp_path_factory.mktemp("text-site")
    with live_server(imported_settings(data, web_subset, [LONG, BIDI, COMMENTED])) as live:
        yield live


@pytest.fixture(scope="module")
def collection(text_site: Live) -> int:
    """The reader's collection holding the papers above."""
    library = text_site.service.library
    user = text_site.service.accounts.get_or_create_user(READER)
    saved, _ = library.save(user.id, LONG.arxiv_id, new_collection="Long text")
    library.save(user.id, BIDI.arxiv_id, collection_id=saved.id)
    return int(saved.id)


@pytest.fixture
def phone(browser: Any, text_site: Live) -> Iterator[Any]:
    """A signed-in page in a 390x844 phone context."""
    accounts = text_site.service.accounts
    value, _ = Auth(text_site.settings, accounts).start_session(accounts.get_or_create_user(READER))
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    context.add_cookies([{"name": SESSION_COOKIE, "value": value, "url": text_site.url}])
    yield context.new_page()
    context.close()


def sideways(page: Any) -> int:
    """How far the page scrolls sideways past the phone's width."""
    return int(page.evaluate("document.documentElement.scrollWidth")) - PHONE["width"]


def test_long_unbroken_titles_and_names_fit_a_phone(
    text_site: Live, collection: int, phone: Any
) -> None:
    """A 200-character word, a long URL and a German compound in a title, and long author
    names, pushed the search results, the paper page and the library sideways."""
    past = {}
    for path in (
        "/search?q=zebrafinch",
        f"/papers/{LONG.arxiv_id}",
        f"/library/{collection}",
        "/?date=2025-03-20",
    ):
        phone.goto(text_site.url + path)
        assert phone.locator(f"text={COMPOUND}squared").count() >= 1, path
        past[path] = sideways(phone)
    assert all(px <= 0 for px in past.values()), past


@pytest.mark.parametrize(("width", "font"), [(320, 16), (640, 32)])
def test_the_narrowest_phone_and_a_larger_default_font_fit(
    browser: Any, text_site: Live, collection: int, width: int, font: int
) -> None:
    """At 320 px the paper page's facts grid grew to a Comments URL (741 px wide) and
    search results to the longest author name; with the browser's default font doubled,
    body text stayed at 16 px (font: 16px) while headings doubled. 640 px at a 32 px
    font is the 320 px reflow case: every page fits it."""
    accounts = text_site.service.accounts
    value, _ = Auth(text_site.settings, accounts).start_session(accounts.get_or_create_user(READER))
    context = browser.new_context(viewport={"width": width, "height": 640}, is_mobile=True)
    context.add_cookies([{"name": SESSION_COOKIE, "value": value, "url": text_site.url}])
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": font, "fixed": font}})
    past = {}
    for path in (
        f"/papers/{COMMENTED.arxiv_id}",
        "/search?q=kingfisher",
        f"/library/{collection}",
        "/account",
        "/?date=2025-03-20",
        "/trending",
    ):
        page.goto(text_site.url + path)
        past[path] = int(page.evaluate("document.documentElement.scrollWidth")) - width
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size == font, (path, size)
    context.close()
    assert all(px <= 0 for px in past.values()), past


def test_a_digest_email_with_long_unbroken_text_fits_a_phone(browser: Any) -> None:
    """The email's 600-pixel table was wider than a phone, and long words widened it more."""
    section = DigestSection("trending", "cs.LG", "trending in cs.LG", [LONG])
    digest = Digest(Subscriber(1, READER), "daily:2025-03-20", DAY, DAY, [section])
    rendered = render_digest(digest, Links("http://127.0.0.1:9/", "http://m/m", "http://m/u"))
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_content(rendered.html)
    assert sideways(page) <= 0
    context.close()


# the left edge of each character of the first text node under `selector` holding `text`
LEFTS = """([selector, text]) => {
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.data.indexOf(text);
      if (at < 0) continue;
      const lefts = [];
      for (let i = at; i < at + text.length; i++) {
        const range = document.createRange();
        range.setStart(node, i); range.setEnd(node, i + 1);
        lefts.push(range.getBoundingClientRect().left);
      }
      return lefts;
    }
  }
  return null;
}"""


def left_to_right(page: Any, selector: str, text: str) -> bool:
    """Whether `text` (found under `selector`) is shown in reading order, left to right."""
    lefts = page.evaluate(LEFTS, [selector, text])
    assert lefts is not None, (selector, text)
    return bool(lefts == sorted(lefts))


def lefts_of(page: Any, selector: str) -> list[float]:
    return [
        float(x)
        for x in page.eval_on_selector_all(
            selector, "els => els.map(e => e.getBoundingClientRect().left)"
        )
    ]


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def test_bidi_controls_and_right_to_left_names_leave_the_text_around_them_alone(
    text_site: Live, collection: int, desktop: Any, phone: Any
) -> None:
    """A title, author name or abstract holding RLO showed its own text, and the names and
    text after it, backwards (a stray PDI closed an isolate early): controls are removed
    and each title, name and abstract is isolated, so names stay in order."""
    desktop.goto(f"{text_site.url}/papers/{BIDI.arxiv_id}")
    assert left_to_right(desktop, ".paper h1", "reversed title")
    assert left_to_right(desktop, ".abstract-full", "with an override and")
    names = lefts_of(desktop, ".paper form.authors .author")
    assert len(names) == 3 and names == sorted(names), names
    links = lefts_of(desktop, ".paper p.small a")
    assert len(links) == 3 and links == sorted(links), links
    shown = desktop.title() + "".join(  # the BibTeX box shows the export, as exported
        desktop.locator(f".paper {part}").first.inner_text()
        for part in ("h1", "form.authors", "p.small", ".abstract-full")
    )
    assert RLO not in shown and PDI not in shown
    for path in ("/search?q=quokka", "/?date=2025-03-20"):
        desktop.goto(text_site.url + path)
        card = f"[data-paper='{BIDI.arxiv_id}']"
        assert left_to_right(desktop, f"{card} .title", "reversed title"), path  # Quokka: <mark>
        names = lefts_of(desktop, f"{card} form.authors .author")
        assert len(names) == 3 and names == sorted(names), (path, names)
    phone.goto(f"{text_site.url}/library/{collection}")
    assert left_to_right(phone, "li.item .title", "reversed title")


def test_a_digest_email_keeps_names_and_categories_in_order(desktop: Any) -> None:
    section = DigestSection("trending", "cs.LG", "trending in cs.LG", [BIDI])
    digest = Digest(Subscriber(1, READER), "daily:2025-03-20", DAY, DAY, [section])
    rendered = render_digest(digest, Links("http://127.0.0.1:9/", "http://m/m", "http://m/u"))
    desktop.set_content(rendered.html)
    assert left_to_right(desktop, "td a", "reversed title")
    categories = desktop.evaluate(LEFTS, ["td div", "cs.LG"])
    assert categories == sorted(categories)  # not turned around by the names before them
    bdis = lefts_of(desktop, "td bdi")
    assert len(bdis) == 3 and bdis == sorted(bdis), bdis
    assert categories[0] > bdis[-1]  # after the names, not before
    assert RLO not in rendered.html + rendered.text and PDI + "Li" not in rendered.text
    assert f"\u2068{ARABIC}\u2069, Bo Li" in rendered.text  # FSI…PDI in plain text
