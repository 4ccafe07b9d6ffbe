"""Issue 14's search defects, each through a real running server (both JSON APIs and the
pages) and the real CLI: words that vanish in analysis, structured filters, pasted prose,
one date check and one length cap, LaTeX rendered and searched both ways."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

from digest_support import SmtpServer, parts
from paperwire.config import Settings
from paperwire.models import Author, Paper
from paperwire.service import Service
from webkit import Live, live_server

LONG_WORD = "x" * 41
DAY = date(2025, 3, 19)
TORNBERG = Paper(
    arxiv_id="2503.90001",
    title="Simulating social media with LLM agents: an \\'etude of {\\o}resund",
    abstract='A Schr\\"odinger bridge between ``echo chambers" and feeds -- we find 20\\% more.',
    authors=[Author('Petter T\\"ornberg'), Author("Ana Cla\\c{c}a")],
    categories=["cs.SI", "cs.CL"],
    version=1,
    submitted=DAY,
    updated=DAY,
    listing_date=DAY,
    sources=["test"],
)
UNICODE = Paper(
    arxiv_id="2503.90002",
    title="Quasiparticle zebrafish by Müllerová",
    abstract="Zebrafish quasiparticles studied by Jiří Müllerová.",
    authors=[Author("Jiří Müllerová")],
    categories=["q-bio.NC"],
    version=1,
    submitted=DAY,
    updated=DAY,
    listing_date=DAY,
    sources=["test"],
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, web_subset: Path) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("hardening")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'pw.db'}")
    with Service(settings) as service:
        service.import_snapshot(web_subset)
        _report, changed = service.store.upsert_papers([TORNBERG, UNICODE])
        service.search_engine.index_changed(changed)
    with live_server(settings) as running:
        yield running


def v1(live: Live, **params: Any) -> httpx.Response:
    return httpx.get(f"{live.url}/api/v1/search", params=params, timeout=30)


def hf(live: Live, q: str) -> httpx.Response:
    return httpx.get(f"{live.url}/api/papers/search", params={"q": q}, timeout=30)


def page(live: Live, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{live.url}{path}", params=params, timeout=30)


def cli(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PAPERWIRE_DATA_DIR": str(live.settings.data_dir),
        "PAPERWIRE_DATABASE_URL": live.settings.resolved_database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "paperwire", "search", "--mode", "lexical", "--", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- defect 1 ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", [LONG_WORD, "-- … ?", f'"{LONG_WORD}"', f"{LONG_WORD} cat:cs"])
def test_words_that_vanish_in_analysis_match_nothing_on_every_path(live: Live, query: str) -> None:
    for mode in ("lexical", "hybrid"):
        body = v1(live, q=query, mode=mode).json()
        assert body["total"] == 0 and body["results"] == [], (query, mode)
        assert any("nothing matches" in note for note in body["notes"]), body["notes"]
    assert hf(live, query).json() == []
    html = page(live, "/search", q=query)
    assert html.status_code == 200 and "0 results" in html.text and "nothing matches" in html.text
    run = cli(live, query)
    assert run.returncode == 0 and "0 result(s)" in run.stdout and "nothing matches" in run.stdout
    if query == LONG_WORD:
        assert "words of 40 characters or more are not indexed" in body["notes"][0]


def test_a_long_word_beside_real_words_is_just_dropped(live: Live) -> None:
    body = v1(live, q=f"zebrafish {LONG_WORD}", mode="lexical").json()
    assert [h["paper"]["arxiv_id"] for h in body["results"]] == [UNICODE.arxiv_id]


def test_saved_search_of_vanishing_words_mails_nothing(tmp_path: Path, web_subset: Path) -> None:
    with SmtpServer() as smtp:
        settings = Settings(
            data_dir=tmp_path / "data",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            digest_send_workers=1,
        )
        with Service(settings) as service:
            service.import_snapshot(web_subset)
            day = service.store.latest_listing_date()
            assert day is not None
            for email, search in (("long@example.com", LONG_WORD), ("ok@example.com", "model")):
                # a saved search with its own since: works now that dates are structured
                wanted = f"{search}\nlanguage since:2020"
                service.digest.add_subscriber(
                    email, {"saved_searches": wanted, "categories": "cs.CL"}
                )
            _composed, sent = service.digest.run(day)
            assert sent.sent == 2
            long_mail = parts(smtp.handler.to("long@example.com")[0])["text/plain"]
            ok_mail = parts(smtp.handler.to("ok@example.com")[0])["text/plain"]
    assert f"Matches your search '{LONG_WORD}'" not in long_mail
    assert "Matches your search 'language since:2020'" in long_mail
    assert "Matches your search 'model'" in ok_mail


# -- defect 4 ---------------------------------------------------------------------------


def test_category_is_a_validated_structured_filter(live: Live) -> None:
    for bad in ("x OR au:smith", '"', "cs.CL)", "cs.CL au:smith", "bogus"):
        r = v1(live, q="quantum", category=bad)
        assert r.status_code == 400, bad
        error = r.json()["error"]
        assert "not an arXiv category" in error and "quote" not in error, error
        html = page(live, "/search", q="quantum", category=bad)
        assert html.status_code == 400 and "not an arXiv category" in html.text
    both = v1(live, q="cat:cs.CL language", category="cs.SI", per_page=50, mode="lexical").json()
    assert both["query"] == "cat:cs.CL language"  # the filter is not pasted into the text
    found = [h["paper"] for h in both["results"]]
    assert found and all({"cs.CL", "cs.SI"} <= set(p["categories"]) for p in found)
    archive = v1(live, q="zebrafish", category="q-bio", mode="lexical").json()
    assert [h["paper"]["arxiv_id"] for h in archive["results"]] == [UNICODE.arxiv_id]
    dated = v1(live, q="since:2025-03-01 zebrafish", until=str(DAY - timedelta(days=1))).json()
    assert dated["total"] == 0  # the query's since: and the until filter overlap, ANDed


# -- defect 5 ---------------------------------------------------------------------------


def test_pasted_prose_is_searched_with_a_note(live: Live) -> None:
    paper = live.service.store.get_paper("2503.11731")
    assert paper is not None
    words = paper.title.split()
    pasted = [
        f'{" ".join(words[:3])} ``{words[3]}" {" ".join(words[4:])}',  # LaTeX quotes
        f"{' '.join(words[:3])} -- {' '.join(words[3:])}",  # a dash
        f"{' '.join(words)} — Abstract: we study",  # a field name in prose
    ]
    for text in pasted:
        body = v1(live, q=text, mode="lexical").json()
        assert paper.arxiv_id in [h["paper"]["arxiv_id"] for h in body["results"][:3]], text
        listed = hf(live, text)
        assert listed.status_code == 200, (text, listed.text)
        assert paper.arxiv_id in [item["paper"]["id"] for item in listed.json()[:3]]
        assert page(live, "/search", q=text).status_code == 200
        assert cli(live, text).returncode == 0
    noted = v1(live, q=pasted[0]).json()["notes"]
    assert any("without its closing partner" in n for n in noted), noted


def test_operator_misuse_keeps_a_strict_message(live: Live) -> None:
    for text, message in (("graph au:", "au: needs a value"), ("-since:7d x", "cannot be negated")):
        assert message in v1(live, q=text).json()["error"]
        assert message in hf(live, text).json()["error"]
        html = page(live, "/search", q=text)
        assert html.status_code == 400 and message in html.text
        run = cli(live, text)
        assert run.returncode == 1 and message in run.stderr


# -- defect 6 ---------------------------------------------------------------------------


def test_one_date_check_for_every_route(live: Live) -> None:
    message = "must be a date like 2025-06-30"
    for path, name in (
        ("/", "date"),
        ("/trending", "date"),
        ("/api/v1/trending", "date"),
        ("/api/v1/daily", "date"),
        ("/api/daily_papers", "date"),
    ):
        for bad in ("9999-99-99", "2025-02-30", "9999-12-31", "20250301"):
            r = page(live, path, **{name: bad, "view": "week"})
            assert r.status_code == 400 and message in r.text, (path, bad, r.status_code)
    for name in ("since", "until"):  # the filters read what the query's since:/until: read
        said = f"{name}: '9999-99-99' is not a real date"
        assert said in v1(live, q="x", **{name: "9999-99-99"}).json()["error"]
        html = page(live, "/search", q="x", **{name: "9999-99-99"})
        assert html.status_code == 400 and said.replace("'", "&#39;") in html.text
    shown = page(live, "/trending", date=str(DAY), window="day")
    assert shown.status_code == 200 and DAY.strftime("%B %-d, %Y") in shown.text


def test_since_and_until_filters_take_every_form_the_query_language_takes(live: Live) -> None:
    """since=2025-04 and since=7d were 400 ("must be a date like 2025-06-30") on the API,
    the search page and its feed, though since:2025-04 and since:7d work in q."""
    # bounds past every paper (before 1900, after 2999) are taken as in q, not refused
    for low, high in [
        ("2025-03", "2025-03"),
        ("2025", "2025"),
        ("100y", ""),
        ("1899", "9999"),
        ("99999d", "9999-12"),
    ]:
        filtered = v1(live, q="zebrafish", since=low, until=high, mode="lexical")
        assert filtered.status_code == 200, filtered.text
        query = f"zebrafish since:{low}" + (f" until:{high}" if high else "")
        in_q = v1(live, q=query, mode="lexical").json()
        assert filtered.json()["results"] == in_q["results"] and in_q["total"] >= 1
        shown = page(live, "/search", q="zebrafish", since=low, until=high)
        assert shown.status_code == 200 and UNICODE.arxiv_id in shown.text
        assert page(live, "/feeds/search.atom", q="zebrafish", since=low).status_code == 200
    for low, high in [("2025-04", ""), ("7d", ""), ("", "2025-02")]:  # outside DAY: none
        assert v1(live, q="zebrafish", since=low, until=high).json()["total"] == 0
    bad = v1(live, q="x", since="sometime")
    assert bad.status_code == 400 and "use YYYY-MM-DD, YYYY-MM, YYYY" in bad.json()["error"]


def test_one_query_length_cap_everywhere(live: Live) -> None:
    at_cap = ("zebrafish " * 200)[:2000]
    too_long = at_cap + "s"
    message = "too long: 2,001 characters, at most 2,000"
    assert v1(live, q=at_cap, mode="lexical").status_code == 200
    assert hf(live, at_cap).status_code == 200
    assert page(live, "/search", q=at_cap).status_code == 200
    for r in (v1(live, q=too_long), hf(live, too_long)):
        assert r.status_code == 400 and message in r.json()["error"]
    html = page(live, "/search", q=too_long * 5)
    assert html.status_code == 400 and "too long: 10,005 characters" in html.text
    assert 'class="card"' not in html.text  # no result list behind the refusal
    run = cli(live, too_long)
    assert run.returncode == 1 and message in run.stderr


# -- defect 7 ---------------------------------------------------------------------------


def test_latex_is_rendered_in_pages(live: Live) -> None:
    full = page(live, f"/papers/{TORNBERG.arxiv_id}").text
    head, bib = full.split('<pre id="bibtex"', 1)
    html = head + bib.split("</pre>", 1)[1]  # BibTeX keeps its LaTeX, as BibTeX should
    assert "T\\&#34;ornberg" in bib
    for shown in ("Petter Törnberg", "Ana Claça", "étude of øresund", "Schrödinger", "20% more"):
        assert shown in html, shown
    assert 'T\\"ornberg' not in html and "\\&#39;etude" not in html and "{\\o}" not in html
    listed = page(live, "/search", q="Schrödinger bridge echo chambers").text
    assert "Schr<mark>ödinger</mark>" in listed or "<mark>Schrödinger</mark>" in listed
    assert "Petter Törnberg" in listed and 'T\\"ornberg' not in listed


def test_latex_and_accents_are_searched_both_ways(live: Live) -> None:
    def ids(q: str) -> list[str]:
        return [h["paper"]["arxiv_id"] for h in v1(live, q=q, mode="lexical").json()["results"]]

    for q in ("Törnberg", "Tornberg", 'T\\"ornberg', "au:tornberg", 'au:"petter törnberg"'):
        assert ids(q)[:1] == [TORNBERG.arxiv_id], q
    for q in ("Mullerova", "M\\\"ullerov\\'a", "Jiri", "au:mullerova"):
        assert ids(q)[:1] == [UNICODE.arxiv_id], q
    assert ids("oresund etude")[:1] == [TORNBERG.arxiv_id]


def test_latex_is_rendered_in_emails() -> None:
    from paperwire.digest.render import Links, render_digest
    from paperwire.models import Digest, DigestSection, Subscriber

    digest = Digest(Subscriber(id=1, email="a@example.com"), "daily:2025-03-19", DAY, DAY)
    digest.sections = [DigestSection("search", "x", "matches your search 'x'", [TORNBERG])]
    mail = render_digest(digest, Links("http://h", "http://h/m", "http://h/u"))
    for body in (mail.text, mail.html):
        assert "Petter Törnberg" in body and "étude of øresund" in body, body
        assert "Schrödinger" in body and 'T\\"ornberg' not in body


# -- honest notes: an id with filter items, an exclusion that empties the page -----------


def test_every_route_gives_the_same_notes_for_an_id_with_filter_items(live: Live) -> None:
    """`2503.90001 cat:cs.CL` was searched as digits (no note, or 'no paper contains these
    words'), while the same id with the API's `category` was a lookup."""
    env = {
        **os.environ,
        "PAPERWIRE_DATA_DIR": str(live.settings.data_dir),
        "PAPERWIRE_DATABASE_URL": live.settings.resolved_database_url,
    }
    wanted = TORNBERG.arxiv_id
    for q, found in ((f"{wanted} cat:cs.CL", [wanted]), (f"{wanted} -cat:cs.SI", [])):
        body = v1(live, q=q).json()
        assert [h["paper"]["arxiv_id"] for h in body["results"]] == found, body
        lookup = "the paper with this id" if found else "does not pass the filters"
        assert any(lookup in n for n in body["notes"]), body["notes"]
        run = subprocess.run(
            [sys.executable, "-m", "paperwire", "search", "--json", "--", q],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["notes"] == body["notes"]
        html = page(live, "/search", q=q).text
        assert all(f'<p class="note">{escape(n)}</p>' in html for n in body["notes"])
        assert [item["paper"]["id"] for item in hf(live, q).json()] == found


def test_a_category_no_paper_is_listed_under_is_named_on_every_route(live: Live) -> None:
    """`cat:cs.BOGUS learning` was an empty page with no word on why (it read as if no
    paper held the words); a category with papers gets no such note."""
    named = "no stored paper is listed under cs.bogus"
    for mode in ("lexical", "hybrid"):
        body = v1(live, q="cat:cs.BOGUS learning", mode=mode).json()
        assert body["total"] == 0 and any(named in n for n in body["notes"]), body["notes"]
        body = v1(live, q="learning", category="cs.BOGUS", mode=mode).json()
        assert any(named in n for n in body["notes"]), body["notes"]
    either = v1(live, q="cat:cs.BOGUS,cs.SI learning", mode="lexical").json()
    assert any(named in n for n in either["notes"]), either["notes"]
    fine = v1(live, q="cat:cs.SI learning", mode="lexical").json()
    assert not any("is listed under" in n for n in fine["notes"]), fine["notes"]
    assert named in page(live, "/search", q="cat:cs.BOGUS learning").text
    run = cli(live, "cat:cs.BOGUS learning")
    assert run.returncode == 0 and named in run.stdout
