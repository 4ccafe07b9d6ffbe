"""arXiv query API: the pure Atom parser on recorded responses, and fetching through a real
loopback server into real SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date

import pytest

from conftest import FIXTURES
from fake_arxiv import FakeRemote, Reply, recorded_api
from paperwire.config import Settings
from paperwire.harvest import search_arxiv
from paperwire.models import Author, IngestReport, Paper
from paperwire.service import Service
from paperwire.sources.arxiv_api import (
    ArxivApiError,
    IncompleteResults,
    MalformedFeed,
    NotArxivIds,
    parse_feed,
    search_params,
)
from paperwire.sources.http import PoliteClient

API = FIXTURES / "arxiv_api_atom"


def body(name: str) -> bytes:
    (path,) = (API / "body_xml").glob(f"{name}_*.xml")
    return path.read_bytes()


def only_paper(name: str) -> Paper:
    page = parse_feed(body(name))
    (paper,) = page.items
    assert isinstance(paper, Paper)
    return paper


def test_versioned_id_and_dates() -> None:
    paper = only_paper("id_2104.12255v1")
    assert (paper.arxiv_id, paper.version) == ("2104.12255", 1)
    assert paper.title == "0"
    assert paper.categories == ["cs.CR"]
    assert (paper.submitted, paper.updated) == (date(2021, 4, 20), date(2021, 4, 20))
    assert paper.authors == [Author("Quan Thoi Minh Nguyen")]
    assert paper.abstract.startswith("What is the funniest number in cryptography? 0.")
    assert paper.sources == ["arxiv_api"]


def test_old_style_id_affiliations_comment_journal_ref() -> None:
    paper = only_paper("id_astro-ph_0601001")
    assert (paper.arxiv_id, paper.version) == ("astro-ph/0601001", 1)
    assert paper.authors == [
        Author("Andrew Gould", "Ohio State"),
        Author("Susan Dorsher", "Ohio State"),
        Author("B. Scott Gaudi", "CfA"),
        Author("Andrzej Udalski", "Warsaw University Observatory"),
    ]
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert paper.comments is not None and paper.comments.startswith("62 pages including 16 figures")
    assert "V_max<17.5" in paper.abstract  # &lt; decoded


def test_primary_category_first_and_quant_ph_old_id() -> None:
    assert only_paper("id_1605.08386").categories == ["math.CO", "math.ST"]
    old = only_paper("id_quant-ph_0201082v1")
    assert (old.arxiv_id, old.version) == ("quant-ph/0201082", 1)


def test_empty_results_and_two_id_list() -> None:
    for name in ("id_0000.0000", "id_0808.05394_s0"):
        page = parse_feed(body(name))
        assert (page.items, page.total_results) == ([], 0)
    page = parse_feed(body("id_0808.05394_1707.08567"))
    assert [p.arxiv_id for p in page.items if isinstance(p, Paper)] == ["1707.08567"]


def test_search_page_of_100() -> None:
    page = parse_feed(body("q_testing_s0_m100"))
    assert (page.total_results, page.start_index, page.items_per_page) == (214881, 0, 100)
    assert len(page.items) == 100 and all(isinstance(p, Paper) for p in page.items)
    with_doi = [p for p in page.items if isinstance(p, Paper) and p.doi]
    raw_dois = re.findall(rb"<arxiv:doi>", body("q_testing_s0_m100"))
    assert len(with_doi) == len(raw_dois) > 0


def test_error_feed_raises_with_the_api_message() -> None:
    with pytest.raises(ArxivApiError, match="incorrect id format for abc"):
        parse_feed(body("id_abc"))


@pytest.mark.parametrize(
    "raw", [b"", b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", b"<html/>"]
)
def test_malformed_feeds(raw: bytes) -> None:
    with pytest.raises(MalformedFeed):
        parse_feed(raw)


def serve_recorded(remote: FakeRemote) -> None:
    for path in API.glob("*.json"):
        params, reply = recorded_api(path)
        remote.add("/api/query", params, reply)


def test_fetch_ids_through_server(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_recorded(fake_remote)
    with Service(fake_remote.settings(settings)) as service:
        report = service.fetch_ids(["0808.05394", "1707.08567"])
        assert (report.new, report.rejected) == (1, 0)
        service.fetch_ids(["astro-ph/0601001"])
        service.fetch_ids(["2104.12255v1"])
        workshop = service.paper("1707.08567")
        assert workshop is not None and len(workshop.authors) == 34
        assert workshop.comments == (
            "44 pages, editors for the proceedings: Yanling Chen and A. J. Han Vinck"
        )
        gould = service.paper("astro-ph/0601001")
        assert gould is not None and gould.authors[2] == Author("B. Scott Gaudi", "CfA")
        zero = service.paper("2104.12255")
        assert zero is not None and (zero.version, zero.title) == (1, "0")
        assert service.store.count_papers() == 3
        again = service.fetch_ids(["astro-ph/0601001"])
        assert (again.new, again.unchanged) == (0, 1)
    assert fake_remote.requests("/api/query")[0] == {
        "search_query": "",
        "id_list": "0808.05394,1707.08567",
        "start": "0",
        "max_results": "100",
    }


def test_every_spelling_of_an_id_is_asked_for_as_the_api_wants_it(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    serve_recorded(fake_remote)
    with Service(fake_remote.settings(settings)) as service:
        both = ["oai:arXiv.org:0808.05394", "https://arxiv.org/abs/1707.08567", "1707.08567"]
        report = service.fetch_ids(both)
        assert (report.new, report.rejected) == (1, 0)
        assert report.warnings == ["arXiv returned nothing for 0808.05394"]  # a 5-digit 0808
        versioned = service.fetch_ids([" https://arxiv.org/pdf/2104.12255v1.pdf"])
        assert (versioned.new, versioned.warnings) == (1, [])
        old = service.fetch_ids(["arXiv:quant-ph/0201082v1"])
        assert (old.new, old.warnings) == (1, [])
        with pytest.raises(NotArxivIds) as refused:
            service.fetch_ids(["1707.08567", "abc", "https://example.org/abs/x"])
        assert refused.value.tokens == ["abc", "https://example.org/abs/x"]
        with pytest.raises(
            NotArxivIds, match=r"'https://arxiv.org/abs/2599.00001' .*month 01 to 12"
        ):
            service.fetch_ids(["https://arxiv.org/abs/2599.00001"])  # month 99
        assert "not an arXiv id: 'abc', 'https://example.org/abs/x'" in str(refused.value)
        assert service.store.count_papers() == 3
    assert [r["id_list"] for r in fake_remote.requests("/api/query")] == [
        "0808.05394,1707.08567",
        "2104.12255v1",
        "quant-ph/0201082v1",
    ]


def test_error_feed_through_server(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_recorded(fake_remote)
    # arXiv's error feed (recorded for id_list=abc) as the answer to an id it refuses
    params, refusal = recorded_api(next(API.glob("id_abc_*.json")))
    fake_remote.add("/api/query", {**params, "id_list": "2401.00001"}, refusal)
    with Service(fake_remote.settings(settings)) as service:
        with pytest.raises(ArxivApiError, match="incorrect id format for abc"):
            service.fetch_ids(["2401.00001"])
        run = service.stats()["runs"][0]
        assert run["status"] == "failed" and "incorrect id format" in run["error"]
        assert service.store.count_papers() == 0
    assert len(fake_remote.requests()) == 1  # a 400 is not retried


def test_search_paging_through_server(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_recorded(fake_remote)
    remote_settings = fake_remote.settings(settings)
    expected_ids: set[str] = set()
    for start in (0, 10, 20):
        text = body(f"q_testing_s{start}_m10").decode()
        entries = re.findall(r"<entry>\s*<id>http://arxiv.org/abs/([^<]+?)v\d+</id>", text)
        assert len(entries) == 10
        expected_ids.update(entries)
    with Service(remote_settings) as service:
        report = IngestReport()
        with PoliteClient(remote_settings) as client:
            search_arxiv(
                service.store, client, remote_settings, report, "testing", 30, page_size=10
            )
        stored = {p.arxiv_id for batch in service.store.iter_papers() for p in batch}
    assert stored == expected_ids
    assert report.new == len(expected_ids)
    assert [r["start"] for r in fake_remote.requests()] == ["0", "10", "20"]


def test_search_service_single_page(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_recorded(fake_remote)
    with Service(fake_remote.settings(settings)) as service:
        report = service.search_arxiv("testing", max_results=100)
        assert report.new + report.updated + report.unchanged == 100
        assert service.store.count_papers() == len(
            set(
                re.findall(
                    rb"<id>http://arxiv.org/abs/([^<]+?)v\d+</id>", body("q_testing_s0_m100")
                )
            )
        )


def empty_page(name: str) -> Reply:
    """The recorded page `name` with its entries removed: the empty page the API sends now
    and then, its totalResults still the real one."""
    stripped = re.sub(rb"<entry>.*?</entry>", b"", body(name), flags=re.DOTALL)
    return Reply(200, stripped, {"Content-Type": "application/atom+xml"})


def test_an_empty_page_before_the_end_is_asked_again_then_reported(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    serve_recorded(fake_remote)
    second = search_params("testing", 10, 10)
    recorded = recorded_api(next(API.glob("q_testing_s10_m10_*.json")))[1]
    fake_remote.add("/api/query", second, empty_page("q_testing_s10_m10"), recorded)
    remote_settings = fake_remote.settings(settings, http_retries=2)
    with Service(remote_settings) as service, PoliteClient(remote_settings) as client:
        report = IngestReport()
        search_arxiv(service.store, client, remote_settings, report, "testing", 20, page_size=10)
        assert report.new == 20
        fake_remote.add("/api/query", second, empty_page("q_testing_s10_m10"))
        with pytest.raises(
            IncompleteResults, match=r"start=10 3 times .* stopped with 10 of the 20 asked for"
        ):
            search_arxiv(
                service.store, client, remote_settings, report, "testing", 20, page_size=10
            )
    assert [r["start"] for r in fake_remote.requests()] == ["0", "10", "10", "0", *["10"] * 3]


def test_never_more_papers_than_asked_for(fake_remote: FakeRemote, settings: Settings) -> None:
    hundred = recorded_api(next(API.glob("q_testing_s0_m100_*.json")))[1]
    fake_remote.add("/api/query", search_params("testing", 0, 10), hundred)
    with Service(fake_remote.settings(settings)) as service:
        report = service.search_arxiv("testing", max_results=10)
        assert report.seen == 10 and service.store.count_papers() == 10
