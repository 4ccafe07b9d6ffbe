"""RSS and Atom feeds and BibTeX/CSL-JSON exports: the pure builders read by feedparser,
and every route through a real running server, with the links the pages advertise."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from paperwire import feeds
from paperwire.bibliography import parse_library
from paperwire.bibliography.latex import latex_to_plain
from paperwire.models import Author, Paper
from paperwire.web import feeds as web_feeds
from webkit import Live, hostile_paper, imported_settings, live_server

HOSTILE_DAY = date(2025, 3, 17)  # the day before the subset's first listing day
INFO = feeds.FeedInfo(
    title="Tom & <Jerry>",
    link="http://site.test/?date=2025-03-17",
    self_url="http://site.test/feeds/x?q=a&b=<c>",
    description="papers & more",
    site_url="http://site.test",
)


def parse(raw: bytes) -> Any:
    feed = feedparser.parse(raw)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


@pytest.mark.parametrize("build", [feeds.rss, feeds.atom])
def test_feed_fields_dates_links_and_escaping(build: Any) -> None:
    hostile = hostile_paper("2503.99999", HOSTILE_DAY)
    hostile.title += " \x00\x01\x0bcontrol"
    plain = Paper(
        arxiv_id="hep-th/9901001",
        title=r"M{\"u}ller's $\alpha$-theory",
        abstract="An abstract.",
        authors=[Author("Zoë Müller")],
        categories=["hep-th", "math.GT"],
        submitted=date(1999, 1, 4),
        updated=date(2001, 5, 6),
    )
    feed = parse(build(INFO, [hostile, plain], datetime(2026, 1, 2, tzinfo=UTC)))
    assert feed.version == ("rss20" if build is feeds.rss else "atom10")
    assert feed.feed.title == "Tom & <Jerry>" and feed.feed.link == INFO.link
    first, second = feed.entries
    assert first.title == hostile.title.replace(" \x00\x01\x0b", " ")
    assert first.link == "http://site.test/papers/2503.99999"
    assert first.published_parsed[:3] == (2025, 3, 17)
    assert [a.name for a in first.authors] == [a.name for a in hostile.authors]
    assert [t.term for t in first.tags] == ["cs.CL"]
    # the abstract arrives as text: plain text (Atom), or HTML with the markup escaped (RSS)
    if build is feeds.rss:
        assert first.summary_detail.type == "text/html"
        assert "<img" not in first.summary and "<script" not in first.summary
        text = html.unescape(first.summary)
    else:
        assert first.summary_detail.type == "text/plain"
        text = first.summary
    assert "& <img src=x onerror=alert(1)> <script>" in text
    assert second.title == "Müller's α-theory"
    assert second.link == "http://site.test/papers/hep-th/9901001"
    assert second.published_parsed[:3] == ((1999, 1, 4) if build is feeds.atom else (2001, 5, 6))
    assert [t.term for t in second.tags] == ["hep-th", "math.GT"]


def test_empty_feed_is_valid() -> None:
    now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    for build in (feeds.rss, feeds.atom):
        feed = parse(build(INFO, [], now))
        assert feed.entries == [] and feed.feed.updated_parsed[:4] == (2026, 1, 2, 3)


# -- through the server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    hostile = hostile_paper("2503.99999", HOSTILE_DAY)
    settings = imported_settings(tmp_path_factory.mktemp("feeds"), web_subset, [hostile])
    with live_server(settings) as running:
        yield running


def get(live: Live, path: str, status: int = 200) -> httpx.Response:
    response = httpx.get(live.url + path)
    assert response.status_code == status, (path, response.status_code, response.text[:300])
    return response


def get_feed(live: Live, path: str) -> Any:
    response = get(live, path)
    kind = "rss" if ".rss" in path else "atom"
    assert response.headers["content-type"] == f"application/{kind}+xml; charset=utf-8"
    feed = parse(response.content)
    for entry in feed.entries:
        assert entry.link.startswith(live.url + "/papers/")
    return feed


def ids_of(feed: Any, live: Live) -> list[str]:
    return [e.link.removeprefix(live.url + "/papers/") for e in feed.entries]


def test_daily_feed_latest_day_per_category_and_by_date(live: Live) -> None:
    store = live.service.store
    latest = store.latest_listing_date()
    assert latest is not None
    day = store.papers_listed(latest, latest)
    feed = get_feed(live, "/feeds/daily.rss")
    assert ids_of(feed, live) == [p.arxiv_id for p in day]
    cl = [p.arxiv_id for p in day if "cs.CL" in p.categories]
    assert 0 < len(cl) < len(day)
    assert ids_of(get_feed(live, "/feeds/daily.atom?category=cs.CL"), live) == cl
    assert "cs.CL" in get_feed(live, "/feeds/daily.atom?category=cs.CL").feed.title
    archive = get_feed(live, "/feeds/daily.atom?category=cs")
    assert len(archive.entries) == len(day)
    hostile = get_feed(live, f"/feeds/daily.atom?date={HOSTILE_DAY}")
    assert ids_of(hostile, live) == ["2503.99999"]
    assert hostile.entries[0].title.startswith('<script>alert("t")</script>')
    page = get(live, hostile.entries[0].link.removeprefix(live.url))
    assert "text/html" in page.headers["content-type"]


def test_a_day_feed_holds_the_whole_day(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    # 2025-03-18 lists more papers than a ranked feed's FEED_ITEMS: all of them are in it.
    day = date(2025, 3, 18)
    listed = [p.arxiv_id for p in live.service.store.papers_listed(day, day)]
    assert len(listed) > feeds_limit()
    feed = get_feed(live, f"/feeds/daily.rss?date={day}")
    assert ids_of(feed, live) == listed
    assert feed.feed.description == "daily papers, March 18, 2025, from paperwire"
    # Past DAY_FEED_ITEMS the feed is cut, and its description says so.
    monkeypatch.setattr(web_feeds, "DAY_FEED_ITEMS", 50)
    for path in (f"/feeds/daily.rss?date={day}", f"/feeds/daily.atom?date={day}&category=cs"):
        cut = get_feed(live, path)
        assert ids_of(cut, live) == listed[:50]
        described = cut.feed.get("description") or cut.feed.get("subtitle")
        assert f"the first 50 of {len(listed)} papers" in described


def feeds_limit() -> int:
    from paperwire.web.feeds import FEED_ITEMS

    return FEED_ITEMS


def test_trending_and_search_feeds(live: Live) -> None:
    latest = live.service.store.latest_listing_date()
    assert latest is not None
    trending = get_feed(live, "/feeds/trending.rss?window=month")
    assert len(trending.entries) == min(feeds_limit(), 1200)
    assert "trending" in trending.feed.title
    month = live.service.window("month", latest)
    in_month = live.service.store.count_listed(month.start, month.end)
    assert in_month > feeds_limit()
    assert f"the first {feeds_limit()} of {in_month:,} papers" in trending.feed.description
    result = live.service.search("diffusion", sort="date", per_page=feeds_limit())
    assert result.hits
    search = get_feed(live, "/feeds/search.atom?q=diffusion")
    assert ids_of(search, live) == [h.paper.arxiv_id for h in result.hits]
    assert search.feed.title == "paperwire · search: diffusion"
    assert result.total > feeds_limit()  # the feed is cut, and says so
    assert f"the first {feeds_limit()} of {result.total} papers" in search.feed.subtitle
    links = {link.rel: link.href for link in search.feed.links}
    assert links["self"] == live.url + "/feeds/search.atom?q=diffusion"
    assert links["alternate"] == live.url + "/search?q=diffusion&sort=date"
    narrowed = get_feed(live, "/feeds/search.rss?q=diffusion&category=cs.CV")
    assert all("cs.CV" in [t.term for t in e.tags] for e in narrowed.entries)


def test_a_feed_reader_polling_an_unchanged_feed_gets_304_and_no_cookie(live: Live) -> None:
    """Feeds had no validator, so every poll fetched the whole body (If-None-Match: 200),
    and they carried the CSRF cookie under Cache-Control: public, which a shared cache
    could hand to many visitors. The CSRF cookie goes with pages only."""
    with httpx.Client(base_url=live.url, timeout=60) as client:
        first = client.get("/feeds/daily.rss")
        assert first.status_code == 200 and "set-cookie" not in first.headers
        tag = first.headers["etag"]
        assert tag.startswith('W/"')
        again = client.get("/feeds/daily.rss", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == tag
        other = client.get("/feeds/daily.atom", headers={"If-None-Match": tag})
        assert other.status_code == 200 and other.headers["etag"] != tag
        api = client.get("/api/v1/search", params={"q": "language"})
        assert api.status_code == 200 and "set-cookie" not in api.headers
        page = client.get("/")
        assert "pw_csrf=" in page.headers.get("set-cookie", "")


def test_feed_errors_are_clear(live: Live) -> None:
    assert "give a search query" in get(live, "/feeds/search.rss", 400).text
    assert "since" in get(live, "/feeds/search.rss?q=since:someday", 400).text
    assert "category must look like" in get(live, "/feeds/daily.rss?category=<x>", 400).text
    assert "date must be a date" in get(live, "/feeds/daily.rss?date=yesterday", 400).text
    assert "view must be one of" in get(live, "/feeds/trending.rss?window=year", 400).text
    get(live, "/feeds/daily.xml", 404)


def test_paper_exports_parse_back_to_the_paper(live: Live) -> None:
    paper = live.service.paper("2503.99999")
    assert paper is not None
    bib = get(live, "/papers/2503.99999.bib")
    assert bib.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    (entry,) = parse_library(bib.content, "x.bib").entries
    assert entry.arxiv_id == "2503.99999"
    assert entry.title == latex_to_plain(paper.title)
    assert r"Tom \& Jerry" in bib.text and "archivePrefix = {arXiv}" in bib.text
    csl = get(live, "/papers/2503.99999.json")
    assert csl.headers["content-type"].startswith("application/vnd.citationstyles.csl+json")
    (item,) = json.loads(csl.content)
    # the title's literal <b>bold</b> escaped as CSL markup would read it, and read back
    assert item["title"] == paper.title.replace("<b>bold</b>", "&lt;b>bold&lt;/b>")
    assert item["number"] == "arXiv:2503.99999"
    assert parse_library(csl.content, "x.json").entries[0].title == latex_to_plain(paper.title)
    assert get(live, "/papers/2503.99999/export?format=csljson").content == csl.content
    moved = httpx.get(live.url + "/papers/2503.99999v2.bib")
    assert moved.status_code == 301 and moved.headers["location"] == "/papers/2503.99999.bib"
    assert "no paper" in get(live, "/papers/0000.00000.bib", 404).text.lower()
    assert "format must be one of" in get(live, "/papers/2503.99999/export?format=x", 400).text


def test_search_page_export_is_the_page_shown(live: Live) -> None:
    from paperwire.web.pages import SEARCH_PER_PAGE

    result = live.service.search("language model", page=2, per_page=SEARCH_PER_PAGE)
    wanted = [h.paper.arxiv_id for h in result.hits]
    assert len(wanted) == SEARCH_PER_PAGE
    for fmt, name in (("bibtex", "x.bib"), ("csljson", "x.json")):
        body = get(live, f"/export/search?q=language+model&page=2&format={fmt}").content
        assert live.service.match_library(body, name).matched == wanted


def alternates(page: str) -> list[str]:
    return [
        html.unescape(href)
        for href in re.findall(
            r'<link rel="alternate" type="[^"]+" title="[^"]+" href="([^"]+)"', page
        )
    ]


def test_pages_advertise_feeds_and_exports_that_work(live: Live) -> None:
    home = get(live, "/").text
    assert alternates(home) == ["/feeds/daily.rss", "/feeds/daily.atom"]
    assert 'data-feed="rss"' in home
    trending = alternates(get(live, "/trending?window=month").text)
    assert trending == ["/feeds/trending.rss?window=month", "/feeds/trending.atom?window=month"]
    search = alternates(get(live, "/search?q=diffusion&category=cs.CV").text)
    assert [s.split("?")[0] for s in search] == [
        "/feeds/search.rss",
        "/feeds/search.atom",
        "/export/search",
        "/export/search",
    ]
    paper = alternates(get(live, "/papers/2503.99999").text)
    assert paper == ["/papers/2503.99999.bib", "/papers/2503.99999.json"]
    for href in home_and(trending, search):
        response = get(live, href)
        if "/feeds/" in href:
            assert parse(response.content).entries
        else:
            assert parse_library(response.content, href).entries
    assert alternates(get(live, "/search").text) == []


def home_and(*groups: list[str]) -> list[str]:
    return ["/feeds/daily.rss", "/feeds/daily.atom", *(h for g in groups for h in g)]
