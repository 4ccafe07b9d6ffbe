"""OAI-PMH harvesting through a real loopback server into real SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from conftest import FIXTURES
from fake_arxiv import DATA, FakeRemote, Reply, recorded_nock, xml_reply
from paperwire.config import Settings
from paperwire.harvest import HarvestLoops, oai_checkpoint_name
from paperwire.models import Author, Paper
from paperwire.service import Service
from paperwire.sources.arxiv_oai import OaiError
from paperwire.sources.http import SourceError, SourceUnreachable
from paperwire.store import Store

SINCE, UNTIL = date(2024, 1, 15), date(2024, 1, 17)
FIRST = {
    "verb": "ListRecords",
    "metadataPrefix": "arXiv",
    "from": "2024-01-15",
    "until": "2024-01-17",
    "set": "cs",
}
TOKEN2 = {"verb": "ListRecords", "resumptionToken": "tok-2|page 2"}
TOKEN3 = {"verb": "ListRecords", "resumptionToken": "tok-3|page 3"}
PAGES = [(DATA / f"oai_page{n}.xml").read_bytes() for n in (1, 2, 3)]
NOCK = (
    FIXTURES
    / "arxiv_oai_pmh/paperhive_oaipmh-listrecords---should-list-identifiers-from-arxiv.json"
)

PEBBLES = "We teach a small model to count pebbles & stones on a beach. The model counts <well> most of the time."
EXPECTED = {
    "2401.90001": Paper(
        "2401.90001",
        "Counting Pebbles with Small Language Models (revised)",
        PEBBLES,
        authors=[
            Author("Adaeze Okonkwo Jr", "Lagos Institute of Computing; Example Lab"),
            Author("Maja Lindqvist"),
        ],
        categories=["cs.CL", "cs.AI"],
        submitted=date(2024, 1, 12),
        updated=date(2024, 1, 17),
        listing_date=date(2024, 1, 15),  # datestamp of its first version, kept
        comments="10 pages, 3 figures",
        journal_ref="Journal of Invented Results 1 (2024) 1-9",
        doi="10.9999/pw.2024.1",
        license="http://creativecommons.org/licenses/by/4.0/",
        sources=["arxiv_oai"],
    ),
    "2401.90002": Paper(
        "2401.90002",
        "A Survey of Imaginary Benchmarks",
        "We survey benchmarks that do not exist and find them easy to beat.",
        authors=[Author("Samir Haddad")],
        categories=["cs.LG", "stat.ML"],
        submitted=date(2024, 1, 10),
        updated=date(2024, 1, 14),
        sources=["arxiv_oai"],
    ),
    "2401.90004": Paper(
        "2401.90004",
        "Qubits That Forget: Noise as a Feature",
        "Noise is usually a bug. We argue it can be a feature for forgetful qubits.",
        authors=[Author("Rei Tanaka"), Author("Funmi Oyelaran"), Author("Jonas Brandt")],
        categories=["quant-ph", "cs.ET"],
        submitted=date(2024, 1, 16),
        updated=date(2024, 1, 16),
        listing_date=date(2024, 1, 16),
        comments="Accepted at the Workshop on Things That Did Not Happen",
        sources=["arxiv_oai"],
    ),
    "2312.90005": Paper("2312.90005", "", "", deleted=True, sources=["arxiv_oai"]),
    "math/0309136": Paper(
        "math/0309136",
        "An Old-Style Identifier Revisited",
        "Old identifiers still work after twenty years.",
        authors=[Author("Claire Moreau")],
        categories=["math.GT", "cs.CG"],
        submitted=date(2003, 9, 8),
        updated=date(2024, 1, 16),
        sources=["arxiv_oai"],
    ),
    "2401.90007": Paper(
        "2401.90007",
        "Ünïcödé Titles and Other Hazards",
        "Accents, umlauts and ∑ symbols must survive the round trip.",
        authors=[Author("Luísa Ferreira")],
        categories=["cs.IR"],
        submitted=date(2024, 1, 17),
        updated=date(2024, 1, 17),
        listing_date=date(2024, 1, 17),
        sources=["arxiv_oai"],
    ),
}
# the papers of the first two recorded pages: what a harvest stopped before page 3 holds
FIRST_TWO_PAGES = ["2312.90005", "2401.90001", "2401.90002", "2401.90004", "math/0309136"]
EXPECTED_REJECTS = [
    ("arxiv_oai", "oai:arXiv.org:2401.90003", "2401.90003: empty abstract"),
    ("arxiv_oai", "oai:arXiv.org:2401.90008", "2401.90008: empty title"),
]


def serve_pages(remote: FakeRemote, page2: list[Reply] | None = None) -> None:
    remote.add("/oai", FIRST, xml_reply(PAGES[0]))
    remote.add("/oai", TOKEN2, *(page2 or [xml_reply(PAGES[1])]))
    remote.add("/oai", TOKEN3, xml_reply(PAGES[2]))


def state(store: Store) -> tuple[dict[str, Paper], list[tuple[str, str, str]]]:
    papers = {p.arxiv_id: p for batch in store.iter_papers() for p in batch}
    rejects = sorted((r.source, r.key, r.reason) for r in store.list_rejects(1000))
    return papers, rejects


def harvest(settings: Settings, **kwargs: Any) -> tuple[Any, tuple[Any, Any], Any]:
    with Service(settings) as service:
        report = service.harvest_oai(SINCE, UNTIL, "cs", **kwargs)
        return report, state(service.store), service.stats()


def test_three_pages_exact_store_contents(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_pages(fake_remote)
    report, (papers, rejects), stats = harvest(fake_remote.settings(settings))
    assert (report.new, report.updated, report.deleted, report.rejected) == (5, 1, 1, 2)
    assert papers == EXPECTED
    assert rejects == EXPECTED_REJECTS
    assert fake_remote.requests("/oai") == [FIRST, TOKEN2, TOKEN3]
    run = stats["runs"][0]
    assert (run["source"], run["status"], run["new"], run["rejected"]) == ("arxiv_oai", "ok", 5, 2)
    assert stats["papers"] == 5 and stats["deleted"] == 1


def test_records_with_unreadable_categories_are_kept_counted_and_named(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    """QA: an OAI record whose <categories> could not be read (cs., nothing) was stored
    without them and the harvest said nothing. It is kept with the rest of it, counted,
    and named by its OAI identifier; the recorded pages as they are have no such record."""
    damaged = PAGES[1].replace(
        b"<categories>quant-ph cs.ET</categories>", b"<categories>quant-ph. cs.</categories>"
    )
    serve_pages(fake_remote, page2=[xml_reply(damaged)])
    fake_remote.add(
        "/oai",
        TOKEN3,
        xml_reply(PAGES[2].replace(b"<categories>cs.IR</categories>", b"<categories/>")),
    )
    report, (papers, rejects), _ = harvest(fake_remote.settings(settings))
    assert (report.new, report.rejected, report.flawed) == (5, 2, 2)
    assert report.warnings == [
        "oai:arXiv.org:2401.90004: categories 'quant-ph.', 'cs.' are not arXiv classes (such "
        "as cs.CL); kept with no category",
        "oai:arXiv.org:2401.90007: no categories; kept with no category",
    ]
    assert papers["2401.90004"] == replace(EXPECTED["2401.90004"], categories=[])
    assert papers["2401.90007"] == replace(EXPECTED["2401.90007"], categories=[])
    assert rejects == EXPECTED_REJECTS


def test_rerun_of_finished_harvest_changes_nothing(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    serve_pages(fake_remote)
    remote_settings = fake_remote.settings(settings)
    _, first, _ = harvest(remote_settings)
    report, again, _ = harvest(remote_settings)
    assert (report.new, report.updated, report.deleted) == (0, 0, 0)
    assert report.unchanged == 7  # 6 papers, one of them seen twice
    assert again == first  # papers and rejects: a rejected record is kept once
    assert fake_remote.requests("/oai") == [FIRST, TOKEN2, TOKEN3] * 2


def test_retry_after_503_reset_and_short_body_are_retried(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    flaky = [
        Reply(503, b"busy", {"Retry-After": "1"}),
        Reply(200, PAGES[1], action="reset"),
        Reply(200, PAGES[1], action="short"),
        xml_reply(PAGES[1]),
    ]
    serve_pages(fake_remote, flaky)
    _, (papers, rejects), _ = harvest(fake_remote.settings(settings, http_retries=3))
    assert papers == EXPECTED and rejects == EXPECTED_REJECTS
    log = [e for e in fake_remote.log if e.params == TOKEN2]
    assert len(log) == 4
    assert log[1].at - log[0].at >= 1.0  # Retry-After honoured


def test_malformed_page_is_refetched(fake_remote: FakeRemote, settings: Settings) -> None:
    truncated = xml_reply(PAGES[1][: len(PAGES[1]) // 2])
    serve_pages(fake_remote, [truncated, truncated, xml_reply(PAGES[1])])
    _, (papers, rejects), _ = harvest(fake_remote.settings(settings, http_retries=2))
    assert papers == EXPECTED and rejects == EXPECTED_REJECTS
    assert fake_remote.requests("/oai").count(TOKEN2) == 3


def test_persistently_malformed_page_stops_consistently_then_resumes(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    garbage = xml_reply(b"<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'><ListRecords><rec")
    serve_pages(fake_remote, [garbage])
    remote_settings = fake_remote.settings(settings, http_retries=1)
    with Service(remote_settings) as service:
        with pytest.raises(SourceError, match=r"page 2 .* still malformed after 2 tries"):
            service.harvest_oai(SINCE, UNTIL, "cs")
        papers, rejects = state(service.store)
        assert sorted(papers) == ["2401.90001", "2401.90002"]  # page 1 only
        assert rejects == EXPECTED_REJECTS[:1]
        name = oai_checkpoint_name(remote_settings.oai_base_url, SINCE, UNTIL, "cs")
        assert service.store.get_checkpoint(name) == {
            "token": "tok-2|page 2",
            "pages": 1,
            "complete": False,
            "run": 1,  # saved by run 1 while it held the resume point; it holds no more:
        }
        assert service.stats()["runs"][0]["status"] == "failed"
    serve_pages(fake_remote)  # the server recovers
    fake_remote.log.clear()
    _, (papers, rejects), _ = harvest(remote_settings)
    assert fake_remote.requests("/oai") == [TOKEN2, TOKEN3]  # resumed, page 1 not re-read
    assert papers == EXPECTED and rejects == EXPECTED_REJECTS


def test_a_malformed_first_page_says_nothing_is_stored(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    fake_remote.add("/oai", FIRST, xml_reply(b"<OAI-PMH"))
    with pytest.raises(SourceError, match=r"still malformed after 1 tries .*; nothing is stored"):
        harvest(fake_remote.settings(settings, http_retries=0))


def test_expired_saved_token_restarts_from_first_page(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    bad_token = xml_reply((DATA / "oai_bad_token.xml").read_bytes())
    serve_pages(fake_remote, [Reply(500, b"oops")])
    remote_settings = fake_remote.settings(settings, http_retries=0)
    with pytest.raises(SourceError, match="HTTP 500") as stopped:
        harvest(remote_settings)  # stops after page 1 with tok-2 saved
    # the message says what is kept and how to go on (it said neither)
    assert str(stopped.value).endswith(
        "; pages 1-1 are stored — run the same command again later to resume from page 2"
    )
    serve_pages(fake_remote, [bad_token, xml_reply(PAGES[1])])  # tok-2 has expired since
    fake_remote.log.clear()
    _, (papers, rejects), _ = harvest(remote_settings)
    assert fake_remote.requests("/oai") == [TOKEN2, FIRST, TOKEN2, TOKEN3]
    assert papers == EXPECTED and rejects == EXPECTED_REJECTS


def test_fresh_token_refused_is_a_clear_error(fake_remote: FakeRemote, settings: Settings) -> None:
    serve_pages(fake_remote, [xml_reply((DATA / "oai_bad_token.xml").read_bytes())])
    with pytest.raises(OaiError, match=r"badResumptionToken") as refused:
        harvest(fake_remote.settings(settings), restart=True)
    message = str(refused.value)
    assert "refused the resumption token it had just sent (for page 2)" in message
    assert "pages 1-1 are stored" in message and "--restart" not in message
    assert fake_remote.requests("/oai") == [FIRST, TOKEN2]


def test_a_repeated_resumption_token_stops_the_harvest_keeping_its_pages(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    same_again = PAGES[1].replace(b">tok-3|page 3<", b">tok-2|page 2<")
    serve_pages(fake_remote, [xml_reply(same_again)])
    with Service(fake_remote.settings(settings)) as service:
        with pytest.raises(HarvestLoops, match=r"same token again \(page 2\): it repeats itself"):
            service.harvest_oai(SINCE, UNTIL, "cs")
        papers, _ = state(service.store)
        run = service.stats()["runs"][0]
    assert fake_remote.requests("/oai") == [FIRST, TOKEN2]
    assert sorted(papers) == FIRST_TWO_PAGES
    assert run["status"] == "failed" and "repeats itself" in run["error"]


def test_a_token_cycle_stops_past_twice_the_complete_list_size(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    back_to_2 = PAGES[2].replace(
        b'<resumptionToken cursor="6" completeListSize="9"/>',
        b'<resumptionToken cursor="6" completeListSize="9">tok-2|page 2</resumptionToken>',
    )
    serve_pages(fake_remote)
    fake_remote.add("/oai", TOKEN3, xml_reply(back_to_2))
    with (
        Service(fake_remote.settings(settings)) as service,
        pytest.raises(HarvestLoops, match=r"more than twice the completeListSize=9"),
    ):
        service.harvest_oai(SINCE, UNTIL, "cs")
    assert fake_remote.requests("/oai") == [FIRST, *[TOKEN2, TOKEN3] * 3]


def test_no_records_match_is_an_empty_harvest(fake_remote: FakeRemote, settings: Settings) -> None:
    fake_remote.add("/oai", FIRST, xml_reply((DATA / "oai_no_records.xml").read_bytes()))
    report, (papers, rejects), stats = harvest(fake_remote.settings(settings))
    assert report.seen == 0 and papers == {} and rejects == []
    assert stats["runs"][0]["status"] == "ok"


def test_recorded_503_retry_after_10_is_honoured(fake_remote: FakeRemote, tmp_path: Any) -> None:
    """The real arXiv recording: 503 "Retry after 10 seconds", then the 200 page."""
    params = {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "from": "2015-01-01",
        "until": "2015-01-03",
    }
    fake_remote.add("/oai", params, recorded_nock(NOCK, 0), recorded_nock(NOCK, 1))
    base = Settings(data_dir=tmp_path, request_delay=0.0)
    with Service(fake_remote.settings(base)) as service:
        started = time.monotonic()
        report = service.harvest_oai(date(2015, 1, 1), date(2015, 1, 3))
        waited = time.monotonic() - started
        kochen = service.paper("1412.8544")
    assert report.new == 2
    assert 10.0 <= waited < 20.0
    arrivals = [e.at for e in fake_remote.log]
    assert arrivals[1] - arrivals[0] >= 10.0
    assert kochen is not None and kochen.doi == "10.4204/EPTCS.172.11"


def test_retry_after_longer_than_allowed_fails_fast(fake_remote: FakeRemote, tmp_path: Any) -> None:
    fake_remote.add(
        "/oai",
        {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": "2015-01-01"},
        recorded_nock(NOCK, 0),
    )
    base = Settings(data_dir=tmp_path, request_delay=0.0, max_retry_after=5)
    with Service(fake_remote.settings(base)) as service:
        started = time.monotonic()
        with pytest.raises(SourceError, match="retry after 10 s, longer than max_retry_after=5"):
            service.harvest_oai(date(2015, 1, 1))
        assert time.monotonic() - started < 3
        assert service.store.count_papers() == 0


def test_unreachable_host_is_a_clear_error(tmp_path: Any) -> None:
    import socket

    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = Settings(
        data_dir=tmp_path,
        request_delay=0.0,
        oai_base_url=f"http://127.0.0.1:{port}/oai",
        http_retries=1,
        retry_backoff=0.01,
    )
    with Service(base) as service, pytest.raises(SourceUnreachable, match="cannot reach"):
        service.harvest_oai(date(2024, 1, 1))


def test_request_delay_is_honoured(fake_remote: FakeRemote, tmp_path: Any) -> None:
    serve_pages(fake_remote)
    base = Settings(data_dir=tmp_path)
    _, (papers, _), _ = harvest(fake_remote.settings(base, request_delay=0.2))
    assert papers == EXPECTED
    arrivals = [e.at for e in fake_remote.log]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 2 and min(gaps) >= 0.2


def test_a_host_that_answered_earlier_pages_gets_no_no_network_hint() -> None:
    """A timeout on page 2 from a host that answered page 1 said "no network? import a
    snapshot instead"; with pages stored it says how to resume instead."""
    import click

    from paperwire.cli.ingest import NO_NETWORK_HINT, source_errors
    from paperwire.sources.http import SourceUnreachable

    for progress, hinted in (("", True), ("pages 1-3 are stored — run it again", False)):
        failure = SourceUnreachable("could not reach export.arxiv.org: timed out")
        failure.progress = progress
        with pytest.raises(click.ClickException) as caught, source_errors():
            raise failure
        assert (NO_NETWORK_HINT in caught.value.message) is hinted
        assert progress in caught.value.message
