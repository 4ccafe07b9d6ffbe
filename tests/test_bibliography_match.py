"""Matching library files to stored papers on real SQLite and PostgreSQL: by arXiv id, DOI
and normalised title; fetching unknown ids through a real loopback arXiv; and the round
trip of real papers through BibTeX and CSL-JSON export and back."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fake_arxiv import FakeRemote
from paperwire.bibliography import parse_library, to_bibtex, to_csl_json
from paperwire.bibliography.latex import latex_to_plain, title_key
from paperwire.bibliography.matching import BY_DOI, BY_ID, BY_TITLE, FETCHED
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.service import Service
from test_sources_api import serve_recorded


@pytest.fixture
def service(settings: Settings, web_subset: Path) -> Iterator[Service]:
    quick = settings.model_copy(update={"index_on_ingest": False})
    with Service(quick) as svc:
        svc.import_snapshot(web_subset)
        yield svc


def all_papers(service: Service) -> list[Paper]:
    return [p for batch in service.store.iter_papers() for p in batch if not p.deleted]


def test_round_trip_of_real_papers_through_bibtex_and_csl_json(service: Service) -> None:
    papers = all_papers(service)
    assert len(papers) > 1000
    random.Random(13).shuffle(papers)
    wanted = [p.arxiv_id for p in papers]
    for data, name in ((to_bibtex(papers).encode(), "x.bib"), (to_csl_json(papers), "x.json")):
        result = service.match_library(data, name)
        assert result.malformed == [] and result.unmatched == []
        assert result.matched == wanted
        assert set(result.how.values()) == {BY_ID}


def test_author_names_of_real_papers_split_and_read_back_as_written(service: Service) -> None:
    """Real authors with a suffix (Robert W. Heath Jr., Hal Daumé III) are exported with
    it as the CSL suffix, never as their family name (QA: "Jr." was the family); every
    author, exported to BibTeX and CSL-JSON and read back, is the name as written."""
    papers = all_papers(service)
    suffixed = re.compile(r" (Jr\.?|Sr\.?|II|III|IV)$")
    items = json.loads(to_csl_json(papers))
    people = [(a.name, item["author"][n]) for p, item in zip(papers, items, strict=True)
              for n, a in enumerate(p.authors)]  # fmt: skip
    with_suffix = [(name, person) for name, person in people if suffixed.search(name)]
    assert len(with_suffix) >= 2
    for name, person in with_suffix:
        assert person["suffix"] == suffixed.search(name).group(1), name  # type: ignore[union-attr]
        assert name == " ".join((person["given"], person["family"], person["suffix"]))
    assert not [p for _, p in people if suffixed.search(" " + p.get("family", ""))]
    names = [[a.name for a in p.authors] for p in papers]
    wanted = [tuple(w for a in ns if (w := " ".join(latex_to_plain(a).split()))) for ns in names]
    for data, name in ((to_bibtex(papers).encode(), "x.bib"), (to_csl_json(papers), "x.json")):
        got = [e.authors for e in parse_library(data, name).entries]
        changed = [(w, g) for w, g in zip(wanted, got, strict=True) if w != g]
        assert changed == [], (name, changed[:3])


def test_titles_alone_find_the_same_papers(service: Service) -> None:
    """Exports with every id removed: the normalised titles (LaTeX, accents, case) match."""
    papers = all_papers(service)
    counts = Counter(title_key(p.title) for p in papers)
    unique = [p for p in papers if counts[title_key(p.title)] == 1][:400]
    assert any("$" in p.title or not p.title.isascii() for p in unique)
    bib = re.sub(r"\n  (eprint|url|archivePrefix)\s*=.*", "", to_bibtex(unique))
    items = json.loads(to_csl_json(unique))
    for item in items:
        for field in ("id", "URL", "number", "DOI", "archive_location"):
            item.pop(field)
    for data, name in ((bib.encode(), "x.bib"), (json.dumps(items).encode(), "x.json")):
        result = service.match_library(data, name)
        assert result.matched == [p.arxiv_id for p in unique], name
        assert set(result.how.values()) == {BY_TITLE}


MARKED_UP = [  # (text a title holds literally, where)
    ("The <b> tag considered harmful: ", "before"),
    (" with <i>in vivo</i> data", "after"),
    (" for x<sub>2</sub> & y<sup>3</sup>", "after"),
    ("Why &lt; is not &amp;: ", "before"),
    (' <span class="nocase">as written</span>', "after"),
    (" <span <b>nested</b>", "after"),
]


def test_a_csl_json_export_imported_into_a_fresh_library_matches_every_paper(
    service: Service,
) -> None:
    """QA: a title holding CSL's own markup (a paper about the <b> tag) was exported as
    written and read back with the "tags" dropped, and matched nothing by title. Real
    papers, some titled so, exported with every id removed and imported into a new
    reader's library: each is matched, by its title."""
    papers = all_papers(service)
    counts = Counter(title_key(p.title) for p in papers)
    unique = [p for p in papers if counts[title_key(p.title)] == 1][:300]
    marked = []
    for n, (text, where) in enumerate(MARKED_UP * 3):
        paper = unique[n]
        title = text + paper.title if where == "before" else paper.title + text
        marked.append(replace(paper, title=title, version=(paper.version or 1) + 1))
    service.store.upsert_papers(marked)
    papers = [*marked, *unique[len(marked) :]]
    items = json.loads(to_csl_json(papers))
    for item in items:
        for field in ("id", "URL", "number", "DOI", "archive_location"):
            item.pop(field)
    reader = service.accounts.get_or_create_user("fresh@example.org")
    report = service.import_library(reader.id, "Imported", json.dumps(items).encode(), "x.json")
    assert report.match.unmatched == [] and report.match.malformed == []
    assert report.match.matched == [p.arxiv_id for p in papers]
    assert set(report.match.how.values()) == {BY_TITLE}
    assert report.added is not None and report.added.added == len(papers)


def test_id_then_doi_then_title_duplicates_and_unmatched(service: Service) -> None:
    first, second, third, gone = all_papers(service)[:4]
    service.store.upsert_papers([replace(second, doi="10.1234/Some.Journal.5")])
    deleted = replace(gone, deleted=True, title="", abstract="")
    service.store.upsert_papers([deleted])
    bib = f"""
@misc{{a, title = {{Whatever the title}}, eprint = {{{first.arxiv_id}v2}}}}
@article{{b, title = {{Not the stored title}}, doi = {{10.1234/SOME.journal.5}}}}
@article{{c, title = {{{third.title.upper()}}}}}
@article{{d, title = {{{first.title}}}}}
@article{{e, title = {{A paper nobody stored}}, eprint = {{2501.99999}}}}
@article{{f, title = {{{gone.title}}}, eprint = {{{gone.arxiv_id}}}}}
@article{{g, title = {{broken
"""
    result = service.match_library(bib.encode(), "refs.bib", fetch=False)
    assert result.format == "bibtex" and result.entries == 7  # the broken entry g too
    assert result.matched == [first.arxiv_id, second.arxiv_id, third.arxiv_id]
    assert [result.how[i] for i in result.matched] == [BY_ID, BY_DOI, BY_TITLE]
    assert result.duplicates == 1  # entry d is the paper of entry a
    assert [e.key for e in result.unmatched] == ["e (line 6)", "f (line 7)"]
    assert [m.key for m in result.malformed] == ["g (line 8)"]
    assert result.fetched == [] and result.fetch_error is None
    parts = [result.matched, result.unmatched, result.malformed]
    assert result.entries == sum(map(len, parts)) + result.duplicates


def test_changed_titles_are_keyed_again(service: Service) -> None:
    paper = all_papers(service)[0]
    old = f"@misc{{x, title = {{{paper.title}}}}}".encode()
    assert service.match_library(old, "x.bib").matched == [paper.arxiv_id]
    changed = replace(paper, title="An entirely new title, version 9", version=9)
    service.store.upsert_papers([changed])
    assert service.match_library(old, "x.bib").matched == []
    new = b"@misc{x, title = {AN ENTIRELY NEW TITLE: version 9}}"
    assert service.match_library(new, "x.bib").matched == [paper.arxiv_id]


def test_unknown_ids_are_fetched_from_arxiv(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_recorded(fake_remote)
    ids = b"arXiv:0808.05394\nhttps://arxiv.org/abs/1707.08567v1\n"
    with Service(fake_remote.settings(settings)) as service:
        offline = service.match_library(ids, "ids.txt", fetch=False)
        assert offline.matched == [] and len(offline.unmatched) == 2
        assert fake_remote.requests() == []
        result = service.match_library(ids, "ids.txt", fetch=True)
        assert result.matched == ["1707.08567"] and result.fetched == ["1707.08567"]
        assert result.how == {"1707.08567": FETCHED}
        assert [e.arxiv_id for e in result.unmatched] == ["0808.05394"]  # arXiv has none
        assert service.paper("1707.08567") is not None
        again = service.match_library(ids, "ids.txt", fetch=True)
        assert again.how == {"1707.08567": BY_ID} and again.fetched == []
    # the second time only the paper arXiv did not have is asked for again
    assert [r["id_list"] for r in fake_remote.requests()] == [
        "0808.05394,1707.08567",
        "0808.05394",
    ]


def test_one_match_fetches_at_most_library_fetch_max_papers(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    """1,500 unknown ids were 15 arXiv requests (a 5 MB id list ~4,500, hours) in one web
    request: the first library_fetch_max are fetched, the rest reported as not fetched."""
    serve_recorded(fake_remote)
    ids = b"0808.05394\n1707.08567\n2401.00001\n2401.00002\n"
    capped = fake_remote.settings(settings).model_copy(update={"library_fetch_max": 2})
    with Service(capped) as service:
        result = service.match_library(ids, "ids.txt", fetch=True)
        assert result.fetched == ["1707.08567"]
        assert result.fetch_error is not None and result.fetch_error.startswith(
            "2 more arXiv ids were not fetched: one import fetches at most 2 papers "
            "(setting library_fetch_max)"
        )
        assert [e.arxiv_id for e in result.unmatched] == ["0808.05394", "2401.00001", "2401.00002"]
    assert [r["id_list"] for r in fake_remote.requests()] == ["0808.05394,1707.08567"]


def test_fetch_failure_is_reported_and_the_rest_matched(settings: Settings, tmp_path: Path) -> None:
    down = settings.model_copy(
        update={"arxiv_api_url": "http://127.0.0.1:9/api/query", "http_retries": 0}
    )
    with Service(down) as service:
        result = service.match_library(b"2401.00001\nrubbish\n", "ids.txt", fetch=True)
    assert result.fetch_error and "could not fetch from arXiv" in result.fetch_error
    assert [e.arxiv_id for e in result.unmatched] == ["2401.00001"]
    assert [m.key for m in result.malformed] == ["line 2"]


def test_an_id_without_a_month_is_malformed_and_the_rest_fetched(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    """QA: one '9999.99999' (month 99) in a list made `match-library --fetch` crash with
    NotArxivIds and nothing was imported."""
    serve_recorded(fake_remote)
    ids = b"https://arxiv.org/abs/1707.08567v1\n9999.99999\n"
    with Service(fake_remote.settings(settings)) as service:
        result = service.match_library(ids, "ids.txt", fetch=True)
        assert result.matched == ["1707.08567"] and result.fetched == ["1707.08567"]
        assert [(m.key, m.reason) for m in result.malformed] == [
            (
                "line 2",
                "not an arXiv id: 9999.99999: month 99 is not 01-12 "
                "(new-style arXiv ids are YYMM.NNNNN)",
            )
        ]
        assert result.fetch_error is None
        # the fetch path itself never crashes on such an id: it is named and left out
        fetched, error = service._fetch_for_library(["9999.99999", "1707.08567"])
        assert fetched == {"1707.08567"} and error and "9999.99999" in error
    assert [r["id_list"] for r in fake_remote.requests()] == ["1707.08567", "1707.08567"]
