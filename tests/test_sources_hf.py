"""Hugging Face daily papers: the pure parser, and merging with arXiv records by id in real
SQLite and PostgreSQL (both orders)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fake_arxiv import DATA, FakeRemote, Reply, recorded_nock
from paperwire.config import Settings
from paperwire.harvest import hf_daily_papers
from paperwire.models import Author, IngestReport, Paper, Rejected
from paperwire.service import Service
from paperwire.sources.hf_daily import MalformedDailyPapers, parse_daily_papers
from paperwire.sources.http import PoliteClient
from test_sources_oai import NOCK

HF_FILE = DATA / "hf_daily_2024-01-16.json"
DAY = date(2024, 1, 16)
HF_PAGE0 = {"date": "2024-01-16", "limit": "100", "p": "0"}
OAI_PARAMS = {
    "verb": "ListRecords",
    "metadataPrefix": "arXiv",
    "from": "2015-01-01",
    "until": "2015-01-03",
}


def hf_reply(data: bytes | None = None) -> Reply:
    return Reply(200, data or HF_FILE.read_bytes(), {"Content-Type": "application/json"})


def test_parse_daily_papers_fields() -> None:
    items = parse_daily_papers(HF_FILE.read_bytes())
    assert [type(i) for i in items] == [Paper, Paper, Paper, Rejected]
    only_hf = items[1]
    assert only_hf == Paper(
        "2401.90010",
        "Only on Hugging Face: a Paper Nobody Harvested",
        "This paper is known to paperwire only through the daily papers list.",
        authors=[Author("Kwame Mensah")],
        submitted=date(2024, 1, 15),
        sources=["hf_daily"],
        hf_upvotes=7,
        hf_comments=0,
        hf_github=None,
        hf_date=DAY,
    )
    pebbles = items[0]
    assert isinstance(pebbles, Paper)
    assert (pebbles.hf_upvotes, pebbles.hf_comments, pebbles.hf_github) == (
        42,
        3,
        "https://github.com/example/pebble-counter",
    )
    assert (pebbles.submitted, pebbles.hf_date) == (date(2024, 1, 12), DAY)
    rejected = items[3]
    assert isinstance(rejected, Rejected)
    assert (rejected.source, rejected.key) == ("hf_daily", "item 3")
    assert "not an arXiv identifier" in rejected.reason


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"[{", "not valid JSON"), (b'{"error": "Invalid date"}', "expected a list")],
)
def test_malformed_daily_papers(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedDailyPapers, match=message):
        parse_daily_papers(raw)


def test_bad_counts_are_rejected_not_fatal() -> None:
    data = json.loads(HF_FILE.read_text())
    data[0]["paper"]["upvotes"] = "many"
    items = parse_daily_papers(json.dumps(data).encode())
    assert isinstance(items[0], Rejected) and "upvotes" in items[0].reason
    assert isinstance(items[1], Paper)


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.domain)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "http://github.com/example/plain-http",
        "https://user:pw@github.com/example/x",
        "github.com/example/no-scheme",
    ],
)
def test_github_links_that_are_no_https_addresses_are_not_kept(link: str) -> None:
    """A javascript: githubRepo from Hugging Face became the paper page's GitHub link."""
    data = json.loads(HF_FILE.read_text())
    data[0]["paper"]["githubRepo"] = link
    items = parse_daily_papers(json.dumps(data).encode())
    assert isinstance(items[0], Paper) and items[0].hf_github is None  # the paper is kept


def serve(remote: FakeRemote) -> None:
    remote.add("/oai", OAI_PARAMS, recorded_nock(NOCK, 1))
    remote.add("/api/daily_papers", HF_PAGE0, hf_reply())


def assert_arxiv_fields_kept_hf_fields_added(paper: Paper | None) -> None:
    assert paper is not None
    assert paper.title == "A Kochen-Specker system has at least 22 vectors (extended abstract)"
    assert paper.abstract.startswith("At the heart of the Conway-Kochen Free Will theorem")
    assert paper.authors == [
        Author("Sander Uijlen", "Radboud Universiteit"),
        Author("Bas Westerbaan", "Radboud Universiteit"),
    ]
    assert paper.categories == ["cs.DM"]
    assert paper.comments == "In Proceedings QPL 2014, arXiv:1412.8102"
    assert paper.doi == "10.4204/EPTCS.172.11"
    assert (paper.submitted, paper.updated) == (date(2014, 12, 29), date(2014, 12, 29))
    assert paper.listing_date == date(2015, 1, 3)  # its OAI datestamp
    assert (paper.hf_upvotes, paper.hf_comments, paper.hf_github, paper.hf_date) == (
        5,
        1,
        None,
        DAY,
    )
    assert paper.sources == ["arxiv_oai", "hf_daily"]


def test_hf_after_arxiv_keeps_arxiv_metadata(fake_remote: FakeRemote, settings: Settings) -> None:
    serve(fake_remote)
    with Service(fake_remote.settings(settings)) as service:
        service.harvest_oai(date(2015, 1, 1), date(2015, 1, 3))
        report = service.hf_daily(DAY)
        assert (report.new, report.updated, report.rejected) == (2, 1, 1)
        assert_arxiv_fields_kept_hf_fields_added(service.paper("1412.8544"))
        assert service.store.count_papers() == 4
        listed = service.store.papers_listed(DAY, DAY)
        # 1412.8544 was announced on arXiv in 2015; the HF-only papers list on their HF day
        assert sorted(p.arxiv_id for p in listed) == ["2401.90001", "2401.90010"]
        again = service.hf_daily(DAY)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 3)


def test_arxiv_after_hf_replaces_hf_text_keeps_hf_fields(
    fake_remote: FakeRemote, settings: Settings
) -> None:
    serve(fake_remote)
    with Service(fake_remote.settings(settings)) as service:
        service.hf_daily(DAY)
        before = service.paper("1412.8544")
        assert (
            before is not None and before.title == "A Kochen-Specker system has at least 22 vectors"
        )
        report = service.harvest_oai(date(2015, 1, 1), date(2015, 1, 3))
        assert (report.new, report.updated) == (1, 1)
        assert_arxiv_fields_kept_hf_fields_added(service.paper("1412.8544"))


def test_newer_hf_counts_replace_older(fake_remote: FakeRemote, settings: Settings) -> None:
    data = json.loads(HF_FILE.read_text())
    data[1]["paper"]["upvotes"] = 99
    data[1]["numComments"] = 4
    fake_remote.add("/api/daily_papers", HF_PAGE0, hf_reply(), hf_reply(json.dumps(data).encode()))
    with Service(fake_remote.settings(settings)) as service:
        service.hf_daily(DAY)
        report = service.hf_daily(DAY)
        assert (report.updated, report.unchanged) == (1, 2)
        paper = service.paper("2401.90010")
        assert paper is not None and (paper.hf_upvotes, paper.hf_comments) == (99, 4)


def test_hf_paging(fake_remote: FakeRemote, settings: Settings) -> None:
    data = json.loads(HF_FILE.read_text())
    pages = [data[0:2], data[2:4], []]
    for number, items in enumerate(pages):
        params = {"date": "2024-01-16", "limit": "2", "p": str(number)}
        fake_remote.add("/api/daily_papers", params, hf_reply(json.dumps(items).encode()))
    remote_settings = fake_remote.settings(settings)
    with Service(remote_settings) as service, PoliteClient(remote_settings) as client:
        report = IngestReport()
        hf_daily_papers(service.store, client, remote_settings, report, DAY, page_size=2)
        assert (report.new, report.rejected) == (3, 1)
        assert service.store.count_papers() == 3
    assert [r["p"] for r in fake_remote.requests()] == ["0", "1", "2"]


def test_hf_server_ignoring_paging_stops(fake_remote: FakeRemote, settings: Settings) -> None:
    two = json.dumps(json.loads(HF_FILE.read_text())[:2]).encode()
    for number in range(3):
        params = {"date": "2024-01-16", "limit": "2", "p": str(number)}
        fake_remote.add("/api/daily_papers", params, hf_reply(two))
    remote_settings = fake_remote.settings(settings)
    with Service(remote_settings) as service, PoliteClient(remote_settings) as client:
        report = IngestReport()
        hf_daily_papers(service.store, client, remote_settings, report, DAY, page_size=2)
        assert report.new == 2
    assert [r["p"] for r in fake_remote.requests()] == ["0", "1"]
