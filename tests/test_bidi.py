"""Bidi controls in paper text, and right-to-left names, in plain-text output: removed,
and isolated by FSI…PDI where a piece could reorder its neighbours (the pages are
checked in a real browser in test_web_text_browser.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paperwire.bidi import FSI, PDI, isolated, shown_text, without_bidi_controls
from paperwire.cli.render import print_search_page
from paperwire.digest.render import Links, render_digest
from paperwire.feeds import FeedInfo, atom, rss
from paperwire.models import Author, Digest, DigestSection, Hit, Paper, SearchPage, Subscriber
from paperwire.recommend.explain import short_title

RLO, LRE, PDF = "\u202e", "\u202a", "\u202c"
ARABIC, HEBREW = "مريم الحسن", "שרה כהן"
PAPER = Paper(
    "2506.90002",
    f"Quokka {RLO}reversed title",
    f"An abstract {RLO}with an override.",
    authors=[Author(f"Eve {RLO}Override"), Author(ARABIC), Author(f"Bo {PDI}Li")],
    categories=["cs.LG"],
    listing_date=date(2025, 3, 20),
)


def test_controls_are_removed_and_only_right_to_left_text_is_isolated() -> None:
    assert without_bidi_controls(f"a{RLO}b{LRE}c{PDF}d{FSI}e{PDI}f\u200fg") == "abcdef\u200fg"
    assert isolated("Plain title") == "Plain title"
    assert isolated("Müller’s Étude") == "Müller’s Étude"  # left to right: left alone
    assert isolated(f"x {RLO}y") == "x y"
    assert isolated(ARABIC) == f"{FSI}{ARABIC}{PDI}"
    assert isolated(f"{HEBREW}{PDI}{RLO}") == f"{FSI}{HEBREW}{PDI}"  # a stray PDI is gone
    assert shown_text(f'T\\"ornberg {RLO}x') == "Törnberg x"


def assert_plain(text: str) -> None:
    assert RLO not in text and f"{PDI}Li" not in text
    assert "Eve" in text and "reversed" in text  # (a narrow table folds and cuts)
    assert f"{FSI}{ARABIC.split()[0]}" in text


def test_digest_text_has_no_controls_and_isolates_right_to_left_names() -> None:
    section = DigestSection("trending", "cs.LG", "trending in cs.LG", [PAPER])
    day = date(2025, 3, 20)
    digest = Digest(Subscriber(1, "a@example.org"), "daily:2025-03-20", day, day, [section])
    rendered = render_digest(digest, Links("http://127.0.0.1:9/", "http://m/m", "http://m/u"))
    assert_plain(rendered.text)
    assert f"{FSI}{ARABIC}{PDI}, Bo Li" in rendered.text


def test_cli_tables_have_no_controls_and_isolate_right_to_left_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_search_page(SearchPage("quokka", [Hit(PAPER, 1.0)], 1, 1, 10))
    assert_plain(capsys.readouterr().out)


def test_recommendation_titles_and_feeds_have_no_controls() -> None:
    assert short_title(f"{ARABIC} {RLO}x") == f"{FSI}{ARABIC} x{PDI}"
    info = FeedInfo("t", "http://h/", "http://h/f", "d", "http://h")
    now = datetime(2025, 3, 21, tzinfo=UTC)
    feed = (rss(info, [PAPER], now) + atom(info, [PAPER], now)).decode()
    assert RLO not in feed and PDI not in feed and "Quokka reversed title" in feed
