"""Paper-supplied text that a Unicode QA pass found breaking pages, in real headless
Chromium: long unbroken titles and names pushing a phone page sideways, and bidi controls
or right-to-left names reordering the text around them."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def text_site(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    """A live server over the web subset and the papers above."""
    data = tmp_path_factory.mktemp("text-site")
    with live_server(imported_settings(data, web_subset, [LONG])) as live:
        yield live


@pytest.fixture(scope="module")
def collection(text_site: Live) -> int:
    """The reader's collection holding the papers above."""
    library = text_site.service.library
    user = text_site.service.accounts.get_or_create_user(READER)
    saved, _ = library.save(user.id, LONG.arxiv_id, new_collection="Long text")
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
