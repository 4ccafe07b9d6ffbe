"""HTML pages through a real running server: daily views, navigation, search, paper page,
first-run page, error pages, and that paper text can never inject markup."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from paperwire.config import Settings
from paperwire.latex import math_spans
from paperwire.web.auth import Auth
from paperwire.web.render import preview
from webkit import (
    Live,
    assert_error_headers,
    hostile_paper,
    imported_settings,
    live_server,
    signed_in,
)

HOSTILE_DAY = date(2025, 3, 17)  # the day before the subset's first listing day
# a row stored before the sources checked links: a javascript: "GitHub" link, and a DOI
# that tries to leave its doi.org address
HOSTILE_LINKS = replace(
    hostile_paper("2503.99998", HOSTILE_DAY),
    hf_github="javascript:alert(document.domain)",
    doi='10.1/x" onmouseover="alert(1) #y?z=%',
)
# arXiv keeps a paper's several DOIs in one field, space-separated
TWO_DOIS = replace(
    hostile_paper("2503.99997", HOSTILE_DAY), doi="10.1103/PhysRevD.76.013009 10.1016/j.a.2020.1"
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    hostile = hostile_paper("2503.99999", HOSTILE_DAY)
    settings = imported_settings(
        tmp_path_factory.mktemp("pages"), web_subset, [hostile, HOSTILE_LINKS, TWO_DOIS]
    )
    with live_server(settings) as running:
        yield running


def get(live: Live, path: str, status: int = 200) -> str:
    r = httpx.get(live.url + path)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def test_home_shows_latest_day_with_cards_banner_and_navigation(live: Live) -> None:
    latest = live.service.store.latest_listing_date()
    assert latest is not None
    html = get(live, "/")
    assert "Get trending papers in your email inbox once a day" in html
    assert 'action="/subscribe"' in html
    assert latest.strftime("%B %-d, %Y") in html
    count = live.service.store.count_listed(latest, latest)
    assert f"{count} papers" in html
    assert html.count('class="card"') == min(count, 50)
    prev = re.search(r'href="(/\?date=[^"]+)" data-nav="prev"', html)
    assert prev and 'data-nav="next"' not in html  # newest day: nothing after it
    before = get(live, prev.group(1).replace("&amp;", "&"))
    assert 'data-nav="next"' in before


def test_week_and_month_views_and_trending_order(live: Live) -> None:
    latest = live.service.store.latest_listing_date()
    assert latest is not None
    week = get(live, f"/?date={latest}&view=week")
    monday = latest - timedelta(days=latest.weekday())
    total = live.service.store.count_listed(monday, monday + timedelta(days=6))
    assert f"{total} papers" in week and "Week " in week
    month = get(live, f"/?date={latest}&view=month&sort=trending")
    assert latest.strftime("%B %Y") in month
    trending = get(live, "/trending?window=month")
    assert trending.count('class="card"') == 50


def test_switching_views_keeps_the_readers_day(live: Live) -> None:
    """From a month (anchored on its 1st, a Saturday here) Day and Week go to the day the
    reader asked for, not to March 1 and the week of Feb 24 - Mar 2."""
    month = get(live, "/?date=2025-03-19&view=month&sort=trending").replace("&amp;", "&")
    links = re.findall(
        r'<a href="(/\?date=[^"]+)" (?:aria-current="true")?>(Day|Week|Month)<', month
    )
    assert {name: href for href, name in links} == {
        v.title(): f"/?date=2025-03-19&view={v}&sort=trending" for v in ("day", "week", "month")
    }
    assert 'href="/?date=2025-03-19&view=month&sort=date"' in month  # Newest keeps it too
    assert 'name="date" value="2025-03-19"' in month
    day = get(live, "/?date=2025-03-19&view=day&sort=trending")
    assert "Wednesday, March 19, 2025" in day and 'class="card"' in day
    week = get(live, "/?date=2025-03-19&view=week")
    assert "Mar 17 – Mar 23" in week


def test_pages_out_of_range_and_bad_input_get_friendly_errors(live: Live) -> None:
    assert "No papers listed" in get(live, "/?date=2020-01-04")
    bad = get(live, "/?date=not-a-day", 400)
    assert "date must be a date" in bad and "Traceback" not in bad
    assert "view must be one of" in get(live, "/?view=year", 400)
    moved = httpx.get(f"{live.url}/papers/arXiv:2503.99999v2")
    assert moved.status_code == 301 and moved.headers["location"] == "/papers/2503.99999"
    missing = get(live, "/papers/0000.00000", 404)
    assert "no paper" in missing.lower() and "Back to" in missing
    assert "Not found" in get(live, "/no/such/page", 404)


def test_an_empty_page_says_why_it_is_empty(live: Live) -> None:
    # 2025-03-18 (a Tuesday) lists more than PER_PAGE papers: page 100 is past them.
    total = live.service.store.count_listed(date(2025, 3, 18), date(2025, 3, 18))
    past = get(live, "/?date=2025-03-18&page=100")
    assert f"{total} papers" in past and "Page 100 is past the end" in past
    assert f"{total:,} paper(s) make {-(-total // 50)} page(s) of 50" in past
    assert "No papers listed" not in past and "weekends" not in past
    assert 'href="/?date=2025-03-18&view=day&sort=date&page=1"' in past
    trending = get(live, "/trending?page=100")
    assert "Page 100 is past the end" in trending and "Nothing listed" not in trending
    # A weekday after the newest listing day, a Saturday, a weekday with no listing here.
    latest = live.service.store.latest_listing_date()
    assert latest is not None
    future = get(live, "/?date=2030-01-01")
    assert "No papers listed on this day" in future and "weekends" not in future
    assert f"after the latest listing day, {latest:%A, %B %-d, %Y}" in future
    assert "does not announce papers on weekends" in get(live, "/?date=2025-03-15")
    friday = get(live, "/?date=2025-03-14")
    assert "weekends" not in friday and "arXiv holiday, or days not imported here" in friday


def test_search_page_shows_count_results_and_no_results_help(live: Live) -> None:
    html = get(live, "/search?q=language+model&category=cs.CL&sort=date")
    assert re.search(r"[\d,]+ results?", html)
    assert 'class="card"' in html and "Query language" in html
    assert 'value="cs.CL"' in html
    empty = get(live, "/search?q=zzzxqvbnonexistentword")
    assert "No papers match" in empty and "0 results" in empty
    assert "is not a real date: month 99" in get(live, "/search?q=x&since=2025-99-01", 400)
    bad = get(live, "/search?q=graph+au%3A", 400)  # the query language's own message
    assert "Cannot run this search" in bad and "au: needs a value" in bad
    api = httpx.get(f"{live.url}/api/v1/search", params={"q": "graph au:"})
    assert api.status_code == 400 and "au: needs a value" in api.json()["error"]
    prose = get(live, "/search?q=foo%3Abar")  # not a field: searched, with a note, escaped
    assert "&#39;foo:&#39; is not a field" in prose


def test_a_search_page_past_the_last_says_so_with_links_back(live: Live) -> None:
    """Page 999 of a search said 'No papers match: check the spelling' under '699 results'."""
    total = live.service.search("model", mode="lexical").total
    pages = -(-total // 20)
    assert pages >= 2
    html = get(live, "/search?q=model&sort=date&page=999")
    assert "No papers match" not in html and "Page 999 is past the end" in html
    assert f"{total:,} results make {pages} pages" in html
    assert "page 999 of" not in html
    link = "/search?q=model&category=&since=&until=&sort=date&mode=hybrid&page="
    assert f'<a href="{link}{pages}">last page</a>' in html
    assert f'<a href="{link}1">first page</a>' in html


def test_the_search_page_takes_a_mode_like_the_api(live: Live) -> None:
    """The page searched hybrid whatever `mode=` said (the API honours it): words only,
    meaning only or both now, kept in the form and in the page links."""
    words = get(live, "/search?q=model&mode=lexical")
    assert '<option value="lexical" selected>Words only</option>' in words
    assert "&amp;mode=lexical&amp;page=2" in words or "&mode=lexical&page=2" in words
    api = httpx.get(f"{live.url}/api/v1/search", params={"q": "model", "mode": "semantic"})
    page = get(live, "/search?q=model&mode=semantic")
    notes = api.json()["notes"]
    assert notes, "the API says how a semantic search went (its coverage or why not)"
    for note in notes:  # the page searched the same way: the same notes
        assert html.escape(note, quote=True) in page
    assert '<option value="semantic" selected>Meaning only</option>' in page
    assert "mode must be one of hybrid, lexical, semantic" in get(
        live, "/search?q=model&mode=fuzzy", 400
    )


def test_paper_page_has_everything(live: Live) -> None:
    paper = live.service.store.papers_listed(date(2025, 3, 1), date(2026, 12, 31), limit=1)[0]
    html = get(live, f"/papers/{paper.arxiv_id}")
    assert paper.authors[0].name.replace("'", "&#39;") in html
    assert f"https://arxiv.org/pdf/{paper.arxiv_id}" in html
    assert f"https://arxiv.org/abs/{paper.arxiv_id}" in html
    assert "@misc{" in html and "Copy BibTeX" in html
    assert "/static/katex/katex.min.js" in html and "/static/katex/auto-render.min.js" in html
    for asset in ("katex/katex.min.js", "katex/katex.min.css", "paperwire.css", "app.js"):
        assert httpx.get(f"{live.url}/static/{asset}").status_code == 200


def test_a_listing_preview_never_cuts_a_formula() -> None:
    # arXiv 2503.24180: the 420th character falls inside this formula
    text = (
        "Graphical user interfaces (GUI) automation agents are emerging as powerful\n"
        "tools, enabling humans to accomplish increasingly complex tasks on smart\n"
        "devices. However, users often inadvertently omit key information when conveying\n"
        "tasks, which hinders agent performance in the current agent paradigm that does\n"
        "not support immediate user intervention. To address this issue, we introduce a\n"
        "$\\textbf{Self-Correction GUI Navigation}$ task that incorporates interactive\n"
        "information completion capabilities within GUI agents."
    )
    assert preview(text).endswith("we introduce a …")
    assert preview(text, 40) == "Graphical user interfaces (GUI) …"
    formula = text.index("$")
    assert preview(text[formula:], 20) == "$\\textbf{Self-Correction GUI Navigation}$ …"
    for chars in range(20, len(text), 7):
        shown = preview(text, chars)
        assert shown.count("$") == sum(m.group(0).count("$") for m in math_spans(shown))


def test_hostile_text_renders_as_text_everywhere(live: Live) -> None:
    pages = [
        "/papers/2503.99999",
        f"/?date={HOSTILE_DAY}",
        "/search?q=Jerry",
        "/search?q=%3Cscript%3E",
    ]
    for path in pages:
        html = get(live, path)
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "<b>bold</b>" not in html and "<i>Evil</i>" not in html, path
    assert "/papers/2503.99999" in get(live, "/search?q=Jerry")  # found, shown escaped
    page = get(live, "/papers/2503.99999")
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; Tom &amp; Jerry" in page
    assert "x &lt; y" in page and "$\\alpha &lt; \\beta$" in page
    assert "Eve &lt;i&gt;Evil&lt;/i&gt; O&#39;Brien" in page
    api = httpx.get(f"{live.url}/api/papers/2503.99999").json()
    assert api["title"].startswith("<script>")  # JSON carries the text unchanged
    csp = httpx.get(f"{live.url}/papers/2503.99999").headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )


def test_stored_links_that_are_no_web_addresses_are_never_links(live: Live) -> None:
    """A javascript: GitHub link stored from Hugging Face rendered as
    <a href="javascript:…">GitHub</a> on the paper page and its cards (only the CSP stopped
    it), and the HF-compatible API and /api/v1 passed it on: pages show no link, the APIs
    no address. The DOI link is percent-encoded under https://doi.org/."""
    for path in ("/papers/2503.99998", f"/?date={HOSTILE_DAY}"):
        page = get(live, path)
        assert "javascript:" not in page and ">GitHub</a>" not in page, path
    page = get(live, "/papers/2503.99998")
    assert 'href="https://doi.org/10.1/x%22%20onmouseover%3D%22alert(1)%20%23y%3Fz%3D%25"' in page
    hf = httpx.get(f"{live.url}/api/papers/2503.99998").json()
    assert hf["githubRepo"] is None
    daily = httpx.get(f"{live.url}/api/daily_papers", params={"date": str(HOSTILE_DAY)}).json()
    assert {i["paper"]["id"]: i["paper"]["githubRepo"] for i in daily}["2503.99998"] is None
    assert httpx.get(f"{live.url}/api/v1/papers/2503.99998").json()["github"] is None


def test_subscribe_form_refuses_a_bad_address(live: Live) -> None:
    """The full double opt-in flow (emails, links) is in tests/test_digest_site.py."""
    with httpx.Client(base_url=live.url) as client:
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/").text)
        assert token
        bad = client.post("/subscribe", data={"email": "nope", "csrf_token": token.group(1)})
        assert bad.status_code == 400 and "not an email address" in bad.text
    assert live.service.digest.list_subscribers() == []


def test_first_run_page_on_an_empty_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with live_server(settings) as live:
        for path in ("/", "/trending"):
            html = get(live, path)
            assert "paperwire import" in html and "no papers yet" in html
            assert "paperwire harvest --since" in html
        assert httpx.get(f"{live.url}/api/daily_papers").json() == []
        assert "0 results" in get(live, "/search?q=anything")


def test_responses_are_compressed_and_static_files_cached(live: Live) -> None:
    page = httpx.get(live.url + "/", headers={"accept-encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"
    assert "Daily papers" in page.text
    css = httpx.get(live.url + "/static/paperwire.css")
    assert "max-age=86400" in css.headers["cache-control"] and css.headers.get("etag")
    assert "set-cookie" not in css.headers
    font = httpx.get(live.url + "/static/katex/fonts/KaTeX_Main-Regular.woff2")
    assert font.status_code == 200 and len(font.content) > 10_000


def test_html_pages_are_never_kept_for_a_reader_and_only_privately_for_anyone(
    live: Live,
) -> None:
    """Back after a vote, a save or signing out showed the page as it was (no Cache-Control
    on HTML): a signed-in reader's pages are no-store; anonymous pages (they carry the
    visitor's CSRF token) are private and revalidated; feeds and static files keep theirs."""
    anonymous = httpx.get(live.url + "/", headers={"accept-encoding": "gzip"})
    assert anonymous.headers["cache-control"] == "private, no-cache"
    vary = {v.strip().lower() for v in anonymous.headers["vary"].split(",")}
    assert vary == {"cookie", "accept-encoding"}
    client, _, _ = signed_in(live, "cache@example.org")
    try:
        for path in ("/", "/search?q=model", "/papers/2503.99999", "/library", "/nope"):
            assert client.get(path).headers["cache-control"] == "no-store", path
        assert client.get("/feeds/daily.rss").headers["cache-control"] == "public, max-age=300"
        assert "max-age=86400" in client.get("/static/paperwire.css").headers["cache-control"]
    finally:
        client.close()
    assert "cache-control" not in httpx.get(live.url + "/api/daily_papers").headers


def test_every_visitor_gets_one_csrf_cookie_and_the_security_headers(live: Live) -> None:
    """The ASGI middleware in web/app.py: a fresh visitor is given a pw_csrf cookie once
    (HttpOnly, SameSite=Lax, whole site) that the page's form token is signed from; a valid
    cookie is kept; pages, API answers and errors all carry the security headers, and only
    HTML carries the CSP."""
    with httpx.Client(base_url=live.url) as client:
        first = client.get("/")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("pw_csrf=") and "Path=/" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        nonce = client.cookies["pw_csrf"]
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', first.text)
        assert token and token.group(1) == Auth(live.settings, live.service.accounts).csrf_token(
            nonce
        )
        again = client.get("/search?q=model")
        assert "set-cookie" not in again.headers and client.cookies["pw_csrf"] == nonce
        for response in (first, again, client.get("/api/v1/search?q=model"), client.get("/nope")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "same-origin"
        assert "content-security-policy" not in client.get("/api/daily_papers").headers
        assert "default-src 'self'" in client.get("/nope").headers["content-security-policy"]
    stale = httpx.get(live.url + "/", cookies={"pw_csrf": "short"})
    assert stale.headers["set-cookie"].startswith("pw_csrf=")
    assert "pw_csrf=short" not in stale.headers["set-cookie"]


def test_a_broken_database_gives_a_friendly_500_not_a_traceback(tmp_path: Path) -> None:
    import sqlite3

    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with live_server(settings) as live:
        live.service.store.upsert_papers([hostile_paper("2501.00001", date(2025, 1, 2))])
        with sqlite3.connect(tmp_path / "x.db") as conn:
            conn.execute("DROP TABLE votes")
        page = httpx.get(live.url + "/")
        assert page.status_code == 500 and "Something went wrong" in page.text
        assert "Traceback" not in page.text and "votes" not in page.text
        api = httpx.get(live.url + "/api/v1/papers/2501.00001")
        assert api.status_code == 500 and api.json() == {
            "error": "Something went wrong on our side. The error has been logged."
        }
    assert_error_headers(page, api)


def test_a_paper_page_title_is_plain_text_not_latex(live: Live) -> None:
    """Browser tabs showed 'Di$\\mathtt{[M]}$O: …': <title> gets no KaTeX."""
    paper = replace(
        hostile_paper("2401.99997", date(2024, 1, 2)),
        title=r"Di$\mathtt{[M]}$O: Distilling $\alpha$-Models <&> T\"ornberg",
    )
    live.service.store.upsert_papers([paper])
    html = get(live, "/papers/2401.99997")
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert (
        title and title.group(1) == "Di[M]O: Distilling α-Models &lt;&amp;&gt; Törnberg · paperwire"
    )


def test_each_doi_of_a_paper_is_its_own_link(live: Live) -> None:
    """A field of two DOIs was one link to doi.org/10.1103/…%2010.1016/… (no such DOI)."""
    page = get(live, "/papers/2503.99997")
    assert "<dt>DOIs</dt>" in page
    for doi in ("10.1103/PhysRevD.76.013009", "10.1016/j.a.2020.1"):
        assert f'<a href="https://doi.org/{doi}" rel="noopener">{doi}</a>' in page
    assert "%20" not in page.split("<dt>DOIs</dt>")[1].split("</dd>")[0]
